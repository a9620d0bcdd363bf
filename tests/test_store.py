import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field

import pandas as pd
import pytest
import torch

from initlab import store
from initlab.tempfiles import HOST
from initlab.training.cluster import Cluster
from initlab.training.runtime import Runtime


@dataclass(frozen=True)
class Toy:
    width: int = 4
    lr: float = 0.1
    tags: tuple[str, ...] = ("a",)
    repeats: int = field(default=3, metadata={"hash": False})


calls: list = []


def compute(settings: Toy, runtime=None) -> dict:
    calls.append(settings)
    frame = pd.DataFrame({"epoch": [1, 2], "value": [settings.width * 1.0, settings.lr]})
    return {"metrics": frame, "weights": torch.arange(settings.width, dtype=torch.float32)}


def test_a_finished_run_is_loaded_not_recomputed(tmp_path):
    calls.clear()
    first = store.run("toy", Toy(width=5), compute, root=tmp_path)
    second = store.run("toy", Toy(width=5), compute, root=tmp_path)
    assert len(calls) == 1
    assert first["metrics"].equals(second["metrics"])
    assert torch.equal(second["weights"], torch.arange(5, dtype=torch.float32))


def test_run_names_hash_every_hashed_setting_and_messages_show_the_changed_ones():
    assert store.hashed_settings(Toy()) == {}
    assert store.hashed_settings(Toy(width=8, repeats=9)) == {"width": 8}
    assert store.run_name(Toy(repeats=1)) == store.run_name(Toy(repeats=2))
    assert store.run_name(Toy(width=8)) != store.run_name(Toy())
    assert store.run_name(Toy(tags=("a", "b"))) != store.run_name(Toy())
    record = {"type": "Toy", "protocol": 1, "settings": {"width": 4, "lr": 0.1, "tags": ["a"]}}
    assert store.run_name(Toy()) == hashlib.sha256(
        json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]


def test_an_entry_without_its_marker_is_ignored_and_redone(tmp_path):
    calls.clear()
    folder = store.run_dir("toy", Toy(), tmp_path)
    folder.mkdir(parents=True)
    (folder / "metrics.csv").write_text("half written")
    result = store.run("toy", Toy(), compute, root=tmp_path)
    assert len(calls) == 1 and list(result["metrics"].columns) == ["epoch", "value"]
    assert (folder / store.DONE).exists()
    assert not list(tmp_path.glob("toy/*.tmp-*"))


def test_rendering_a_missing_run_says_what_to_do(tmp_path):
    with pytest.raises(store.MissingRunError, match="initlab run toy"):
        store.run("toy", Toy(width=7), compute, train=False, root=tmp_path)


def test_run_many_computes_only_what_is_missing_and_gathers_a_tidy_frame(tmp_path):
    calls.clear()
    runs = [Toy(width=w) for w in (1, 2, 3)]
    store.run("toy", runs[1], compute, root=tmp_path)
    here = Runtime(cluster=Cluster(jobs=1))  # in this process, so `calls` sees them
    results = store.run_many("toy", runs, compute, runtime=here, root=tmp_path)
    assert [c.width for c in calls] == [2, 1, 3]
    frame = store.gather(runs, results, "metrics")
    assert len(frame) == 6 and set(frame.width) == {1, 2, 3}
    assert frame.run.nunique() == 3


def test_run_many_through_a_process_pool(tmp_path):
    from concurrent.futures import ProcessPoolExecutor

    runs = [Toy(width=w) for w in (6, 7)]
    with ProcessPoolExecutor(2) as pool:
        results = store.run_many("toy", runs, compute, executor=pool, root=tmp_path)
    assert [len(r["weights"]) for r in results] == [6, 7]


def test_only_frames_and_tensors_are_stored(tmp_path):
    with pytest.raises(TypeError, match="DataFrames"):
        store.run("toy", Toy(), lambda s, r: {"x": 3}, root=tmp_path)
    assert dataclasses.asdict(Toy())["repeats"] == 3


def diverges_for_width_2(settings: Toy, runtime=None) -> dict:
    from initlab.training.loop import TrainingDiverged

    if settings.width == 2:
        raise TrainingDiverged("run toy: training loss is nan at epoch 3")
    return compute(settings)


def test_a_diverged_run_is_named_and_the_others_are_kept(tmp_path):
    runs = [Toy(width=w) for w in (1, 2, 3)]
    with pytest.raises(store.RunsFailed, match=r"1 of 3 runs diverged(.|\n)*epoch 3"):
        store.run_many("toy", runs, diverges_for_width_2, root=tmp_path)
    assert [store.is_done("toy", s, tmp_path) for s in runs] == [True, False, True]


def test_a_model_is_stored_and_loaded_back_one_way(tmp_path):
    from initlab.models import build_model

    model = build_model("tiny_cnn", 10, seed=3)

    def train_nothing(settings, runtime=None):
        return {"curve": pd.DataFrame({"epoch": [1]}), **store.model_tensors(model)}

    result = store.run("toy", Toy(width=11), train_nothing, root=tmp_path)
    loaded = build_model("tiny_cnn", 10, seed=4)
    loaded.load_state_dict(store.model_state(result))
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(),
                                                  model.state_dict().values()))
    with pytest.raises(KeyError, match="stored no model"):
        store.model_state({"curve": result["curve"]})


def _reseal(folder):
    """Make the manifest match an edited settings.json (as if it had been stored that way)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["settings.json"] = {"size": (folder / "settings.json").stat().st_size,
                                 "sha256": hashlib.sha256((folder / "settings.json").read_bytes())
                                 .hexdigest()}
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _stored(tmp_path, settings=None):
    settings = settings or Toy(width=5)
    store.run("toy", settings, compute, root=tmp_path)
    return store.run_dir("toy", settings, tmp_path), settings


@pytest.mark.parametrize("damage, why", [
    (lambda f: (f / "metrics.csv").write_text((f / "metrics.csv").read_text().splitlines()[0]),
     "damaged metrics.csv"),
    (lambda f: (f / "tensors.pt").write_bytes((f / "tensors.pt").read_bytes()[:100]),
     "damaged tensors.pt"),
    (lambda f: (f / "metrics.csv").unlink(), "lacks metrics.csv"),
    (lambda f: (f / "manifest.json").unlink(), "no readable manifest"),
])
def test_a_damaged_run_is_named_set_aside_and_redone(tmp_path, capsys, damage, why):
    folder, settings = _stored(tmp_path)
    good = store.run("toy", settings, compute, root=tmp_path)
    damage(folder)
    with pytest.raises(store.MissingRunError, match=why):  # render only: says what is wrong
        store.run("toy", settings, compute, train=False, root=tmp_path)
    calls.clear()
    redone = store.run("toy", settings, compute, root=tmp_path)
    assert len(calls) == 1 and redone["metrics"].equals(good["metrics"])
    line = capsys.readouterr().err
    assert str(folder) in line and why in line and "computing it again" in line
    kept = list((folder.parent / ".set-aside").iterdir())  # never deleted silently
    assert len(kept) == 1 and kept[0].name.startswith(folder.name)


def test_a_stored_run_never_stands_in_for_other_settings(tmp_path, capsys):
    folder, settings = _stored(tmp_path)
    record = json.loads((folder / "settings.json").read_text())
    record["settings"]["lr"] = 0.2  # as if the default had been 0.2 when it was stored
    (folder / "settings.json").write_text(json.dumps(record))
    _reseal(folder)
    assert not store.is_done("toy", settings, tmp_path)
    calls.clear()
    store.run("toy", settings, compute, root=tmp_path)
    assert len(calls) == 1
    assert "other settings (lr: stored 0.2, wanted 0.1)" in capsys.readouterr().err


def test_stale_temp_folders_of_dead_processes_are_removed(tmp_path):
    folder, _ = _stored(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = folder.with_name(f"abc.tmp-{dead}@{HOST}")
    live = folder.with_name(f"def.tmp-{os.getppid()}@{HOST}")
    old_style = folder.with_name(f"ghi.tmp-{dead}")
    elsewhere = folder.with_name(f"jkl.tmp-{dead}@another-node")  # its writer may be alive there
    for path in (stale, live, old_style, elsewhere):
        path.mkdir()
    store.run("toy", Toy(width=6), compute, root=tmp_path)
    assert not stale.exists() and not old_style.exists()
    assert live.exists() and elsewhere.exists()


def test_a_full_disk_says_so_and_leaves_no_temp_folder(tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:858] . unexpected pos 64 vs 0")

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(store.NoSpaceLeft, match=f"no space left on {tmp_path / 'toy'}"):
        store.run("toy", Toy(width=7), compute, root=tmp_path)
    assert [p.name for p in (tmp_path / "toy").iterdir()] == []


def test_a_run_of_an_older_protocol_is_redone(tmp_path, capsys):
    folder, settings = _stored(tmp_path)
    record = json.loads((folder / "settings.json").read_text())
    assert record["protocol"] == 1  # Toy does not say: version 1
    record["protocol"] = 0
    (folder / "settings.json").write_text(json.dumps(record))
    _reseal(folder)
    calls.clear()
    store.run("toy", settings, compute, root=tmp_path)
    assert len(calls) == 1 and "protocol Toy v0, not Toy v1" in capsys.readouterr().err
