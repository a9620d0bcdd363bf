"""A run's numbers never depend on what ran before it (issue: integrity): one run of each
study computed (a) alone in a fresh process, (b) after two other runs of the study in the same
process, (c) killed with SIGKILL mid-training and run again, stores byte-identical tables."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from initlab import store

sys.path.insert(0, str(Path(__file__).parent))
from determinism_job import PACKAGES, chosen  # noqa: E402

JOB = str(Path(__file__).parent / "determinism_job.py")


def _job(study: str, mode: str, root: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, JOB, study, mode, str(root)], env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finished(job: subprocess.Popen) -> None:
    out, err = job.communicate(timeout=600)
    assert job.returncode == 0, err[-3000:]


def _kill_mid_training(job: subprocess.Popen, root: Path, folder_name: str) -> None:
    """SIGKILL the job once the run's own training has checkpointed an epoch."""
    deadline = time.time() + 600
    while time.time() < deadline and job.poll() is None:
        if list(root.glob(f"*/{folder_name}.partial/*.pt")):
            job.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    job.communicate(timeout=60)
    assert job.returncode == -signal.SIGKILL, "the run ended before it could be killed"


def _tables(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.csv"))}


@pytest.mark.slow
@pytest.mark.parametrize("study", sorted(PACKAGES))
def test_a_run_is_the_same_alone_after_other_runs_and_resumed_after_a_kill(study, tmp_path):
    batch, target, _ = chosen(study)
    name = store.run_name(target)
    started = [_job(study, mode, tmp_path / mode) for mode in ("alone", "after")]
    _kill_mid_training(_job(study, "alone", tmp_path / "killed"), tmp_path / "killed", name)
    started.append(_job(study, "alone", tmp_path / "killed"))  # the same command again
    for job in started:  # the three ran side by side
        _finished(job)
    folders = [tmp_path / mode / batch.study / name for mode in ("alone", "after", "killed")]
    assert _tables(folders[0]), "the run stored no table"
    assert _tables(folders[0]) == _tables(folders[1]) == _tables(folders[2])
    tensors = [torch.load(f / "tensors.pt", weights_only=True) for f in folders
               if (f / "tensors.pt").exists()]
    for other in tensors[1:]:
        assert all(torch.equal(tensors[0][k], other[k]) for k in tensors[0])
