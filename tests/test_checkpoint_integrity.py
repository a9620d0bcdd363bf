"""A per-epoch checkpoint whose tensor bytes were altered is never resumed from (issue 23).

torch reads such a file without a complaint (its zip reader checks no CRC), so only a checksum
written beside it can tell. The run is interrupted in-process after its second epoch (a
KeyboardInterrupt from the checkpoint writer, as Ctrl-C would arrive), bytes inside the largest
tensor of the checkpoint are flipped, and the same run is started again.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch.nn.utils import parameters_to_vector

from initlab import data, store
from initlab.models import build_model
from initlab.training import checkpoints
from initlab.training.fit import fit
from initlab.training.recipe import Recipe
from initlab.training.runtime import Runtime

CPU = Runtime("cpu", progress="off")


@dataclass(frozen=True)
class Small:
    epochs: int = 4


def train_small(settings: Small, runtime: Runtime) -> dict:
    train = data.load("digits", "train").subset(slice(0, 400))
    model = build_model("tiny_cnn", 10, seed=0)
    history = fit(model, train, recipe=Recipe(epochs=settings.epochs, batch_size=50),
                  runtime=runtime, seed=1, name="small")
    return {"history": history.frame,
            "weights": parameters_to_vector(model.parameters()).detach()}


def _interrupted_after_epoch_2(root: Path, monkeypatch) -> Path:
    """Start the run and stop it as Ctrl-C would once epoch 2 is checkpointed; return the
    checkpoint."""
    real_save = checkpoints.save

    def save_then_interrupt(path, state):
        real_save(path, state)
        if state["epoch"] == 2:
            raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(checkpoints, "save", save_then_interrupt)
        with pytest.raises(KeyboardInterrupt):
            store.run("small", Small(), train_small, runtime=CPU, root=root)
    return next(root.glob("small/*.partial/001-small.pt"))


def _flip_bytes_inside_largest_tensor(path: Path, count: int = 16) -> str:
    """XOR `count` bytes in the middle of the largest tensor's data; return its member name."""
    with zipfile.ZipFile(path) as archive:
        member = max((i for i in archive.infolist() if "/data/" in i.filename),
                     key=lambda i: i.file_size)
    raw = bytearray(path.read_bytes())
    header = member.header_offset
    name_length = int.from_bytes(raw[header + 26:header + 28], "little")
    extra_length = int.from_bytes(raw[header + 28:header + 30], "little")
    start = header + 30 + name_length + extra_length + member.file_size // 2
    for i in range(start, start + count):
        raw[i] ^= 0xFF
    path.write_bytes(bytes(raw))
    return member.filename


def test_flipped_bytes_in_a_checkpoint_are_caught_and_the_training_restarts(
        tmp_path, monkeypatch, capsys):
    torch.set_num_threads(1)
    root = tmp_path / "broken"
    slot = _interrupted_after_epoch_2(root, monkeypatch)
    assert torch.load(slot, weights_only=True)["epoch"] == 2
    member = _flip_bytes_inside_largest_tensor(slot)
    torch.load(slot, weights_only=True)  # torch alone does not notice
    capsys.readouterr()

    resumed = store.run("small", Small(), train_small, runtime=CPU, root=root)
    unbroken = store.run("small", Small(), train_small, runtime=CPU, root=tmp_path / "unbroken")
    pd.testing.assert_frame_equal(resumed["history"], unbroken["history"])
    assert torch.equal(resumed["weights"], unbroken["weights"]), f"resumed from altered {member}"

    lines = [line for line in capsys.readouterr().err.splitlines() if "checkpoint" in line]
    assert len(lines) == 1, lines
    assert f"checkpoint {slot} is damaged" in lines[0] and "differs from its checksum" in lines[0]
    assert "restarts from its first epoch" in lines[0] and "weights_only" not in lines[0]
    kept = sorted((root / "small" / ".set-aside").iterdir())  # outside the deleted .partial
    assert [p.name.endswith(".pt") for p in kept] == [True, False]
    assert kept[0].name.startswith(store.run_name(Small()))
    assert not list(root.glob("small/*.partial")), "the scratch folder outlived the run"


def test_an_interrupted_checkpoint_write_leaves_a_file_its_checksum_accepts(tmp_path,
                                                                            monkeypatch):
    """Each moment of `save` a kill can stop at: the file in place still passes the check."""
    path = tmp_path / "run.partial" / "001-x.pt"
    checkpoints.save(path, {"epoch": 1})
    first = path.read_bytes()
    new_state = {"epoch": 2}
    real_replace = checkpoints.os.replace
    moments = []

    def record(src, dst):  # what load would see if the process died right before this rename
        moments.append(checkpoints._damage(path))
        real_replace(src, dst)

    with monkeypatch.context() as patch:
        patch.setattr(checkpoints.os, "replace", record)
        checkpoints.save(path, new_state)
    assert moments and moments == [None] * len(moments)
    assert path.read_bytes() != first and checkpoints._damage(path) is None
    with checkpoints.scratch(tmp_path / "run.partial"):
        assert checkpoints.load(path) == {"epoch": 2}


def test_a_checkpoint_without_its_checksum_is_not_trusted(tmp_path, capsys):
    folder = tmp_path / "abc.partial"
    with checkpoints.scratch(folder, aside=tmp_path / ".set-aside"):
        path = checkpoints.slot("fit")
        torch.save({"epoch": 3}, path.parent.mkdir(parents=True) or path)  # an older version's
        assert checkpoints.load(path) is None
    assert "has no checksum file" in capsys.readouterr().err
    assert [p.name.split("-damaged-")[0] for p in (tmp_path / ".set-aside").iterdir()] == [
        "abc-001-fit"]
