"""A run killed mid-training resumes from its last checkpoint and ends with exactly the numbers
of an unbroken run (CPU)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from initlab import store
from initlab.training import checkpoints

sys.path.insert(0, str(Path(__file__).parent))
from resume_job import Job, work  # noqa: E402


def _epoch(slot: Path) -> int:
    """The epoch of a checkpoint the job may be replacing meanwhile (read by torch directly:
    `checkpoints.load` belongs to the run's own process and sets aside what fails its check)."""
    try:
        return torch.load(slot, weights_only=True)["epoch"]
    except Exception:  # noqa: BLE001 - replaced while reading: try again
        return 0


def _killed_mid_run(root: Path) -> None:
    """Start the job in a subprocess and SIGKILL it once the single model has 2 epochs done."""
    job = subprocess.Popen([sys.executable, str(Path(__file__).parent / "resume_job.py"),
                            str(root)], env=dict(os.environ))
    deadline = time.time() + 300
    try:
        while time.time() < deadline and job.poll() is None:
            slots = list(root.glob("job/*.partial/002-single.pt"))
            if slots and _epoch(slots[0]) >= 2:
                job.send_signal(signal.SIGKILL)
                break
            time.sleep(0.02)
    finally:
        job.wait(timeout=60)
    assert job.returncode == -signal.SIGKILL, "the job was not killed mid-run"
    assert not store.is_done("job", Job(), root)


def test_a_killed_run_resumes_to_the_same_numbers(tmp_path):
    torch.set_num_threads(1)
    _killed_mid_run(tmp_path / "broken")
    slot = next((tmp_path / "broken").glob("job/*.partial/002-single.pt"))
    done_epochs = checkpoints.load(slot)["epoch"]
    assert 2 <= done_epochs < Job().epochs

    resumed = store.run("job", Job(), work, root=tmp_path / "broken")
    unbroken = store.run("job", Job(), work, root=tmp_path / "unbroken")
    pd.testing.assert_frame_equal(resumed["history"], unbroken["history"])
    assert torch.equal(resumed["single"], unbroken["single"])
    assert torch.equal(resumed["pair"], unbroken["pair"])
    assert not list((tmp_path / "broken").glob("job/*.partial")), "scratch kept after the run"


def test_a_damaged_checkpoint_is_set_aside_and_the_training_restarts(tmp_path, capsys):
    torch.set_num_threads(1)
    _killed_mid_run(tmp_path / "broken")
    slot = next((tmp_path / "broken").glob("job/*.partial/002-single.pt"))
    slot.write_bytes(slot.read_bytes()[:200])  # cut short, as by a full disk or a bad copy
    resumed = store.run("job", Job(), work, root=tmp_path / "broken")
    unbroken = store.run("job", Job(), work, root=tmp_path / "unbroken")
    assert torch.equal(resumed["single"], unbroken["single"])
    err = capsys.readouterr().err
    assert f"checkpoint {slot} is damaged" in err and "restarts from its first epoch" in err
    assert "weights_only" not in err


def test_checkpoints_are_written_only_inside_a_store_run(tmp_path):
    assert checkpoints.slot("anything") is None
    with checkpoints.scratch(tmp_path) as folder:
        first, second = checkpoints.slot("a b"), checkpoints.slot("a b")
    assert (first.parent, first.name, second.name) == (folder, "001-a_b.pt", "002-a_b.pt")
