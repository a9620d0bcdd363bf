import dataclasses
from dataclasses import dataclass, field

import pandas as pd
import pytest
import torch

from initlab import store


@dataclass(frozen=True)
class Toy:
    width: int = 4
    lr: float = 0.1
    tags: tuple[str, ...] = ("a",)
    repeats: int = field(default=3, metadata={"hash": False})


calls: list = []


def compute(settings: Toy) -> dict:
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


def test_run_names_hash_only_non_default_hashed_settings():
    assert store.hashed_settings(Toy()) == {}
    assert store.hashed_settings(Toy(width=8, repeats=9)) == {"width": 8}
    assert store.run_name(Toy(repeats=1)) == store.run_name(Toy(repeats=2))
    assert store.run_name(Toy(width=8)) != store.run_name(Toy())
    assert store.run_name(Toy(tags=("a", "b"))) != store.run_name(Toy())


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
    results = store.run_many("toy", runs, compute, root=tmp_path)
    assert [c.width for c in calls] == [2, 1, 3]
    frame = store.gather(runs, results, "metrics")
    assert len(frame) == 6 and set(frame.width) == {1, 2, 3}
    assert frame.run.nunique() == 3
    loaded = store.load("toy", "metrics", root=tmp_path)
    assert sorted(loaded.width.unique()) == [1, 2, 3]


def test_run_many_through_a_process_pool(tmp_path):
    from concurrent.futures import ProcessPoolExecutor

    runs = [Toy(width=w) for w in (6, 7)]
    with ProcessPoolExecutor(2) as pool:
        results = store.run_many("toy", runs, compute, executor=pool, root=tmp_path)
    assert [len(r["weights"]) for r in results] == [6, 7]


def test_only_frames_and_tensors_are_stored(tmp_path):
    with pytest.raises(TypeError, match="DataFrames"):
        store.run("toy", Toy(), lambda s: {"x": 3}, root=tmp_path)
    assert dataclasses.asdict(Toy())["repeats"] == 3


def diverges_for_width_2(settings: Toy) -> dict:
    from initlab.train import TrainingDiverged

    if settings.width == 2:
        raise TrainingDiverged("run toy: training loss is nan at epoch 3")
    return compute(settings)


def test_a_diverged_run_is_named_and_the_others_are_kept(tmp_path):
    runs = [Toy(width=w) for w in (1, 2, 3)]
    with pytest.raises(store.RunsFailed, match=r"1 of 3 runs diverged(.|\n)*epoch 3"):
        store.run_many("toy", runs, diverges_for_width_2, root=tmp_path)
    assert [store.is_done("toy", s, tmp_path) for s in runs] == [True, False, True]
