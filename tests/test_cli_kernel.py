"""The notebook's kernel ending under `initlab run` (issue 23), with a real kernel: killed
mid-training it gives one line (study, "kernel died", runs stored, the log); Ctrl-C gives the
one interrupted line, no asyncio noise after it, and no kernel left running.

Each test starts `initlab run 01_warm_start` (smoke) in its own store, waits until a run's
lock has a holder (training has started: an event on disk, not a sleep), then acts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from initlab import paths

ROOT = paths.project_root()


# --jobs 1: the runs are computed in the kernel itself, one after another, so the kernel holds
# a run's lock while the test acts (with two worker processes both smoke runs can end before
# the test's signal arrives); stopping the workers on Ctrl-C is tests/test_pool.py's
COMMAND = [sys.executable, "-m", "initlab.cli", "run", "01_warm_start", "--jobs", "1"]


def _env(tmp_path: Path) -> dict[str, str]:
    return dict(os.environ, INITLAB_STORE=str(tmp_path / "store"),
                INITLAB_FIGURES=str(tmp_path / "fig"))


def _start(tmp_path: Path) -> subprocess.Popen:
    return subprocess.Popen(COMMAND, cwd=ROOT, env=_env(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=_default_sigint)


def _default_sigint() -> None:
    """Ctrl-C's default in the command, whoever started pytest: a shell's background job
    (`cmd &`) inherits SIGINT ignored, and Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _kernel_once_training(job: subprocess.Popen, store: Path) -> int:
    """The kernel's pid, once a run's lock has a holder (the kernel is training it)."""
    deadline = time.time() + 300
    while time.time() < deadline and job.poll() is None:
        holders = list((store / ".locks").rglob("*.holder"))
        if holders and (kernels := _children(job.pid)):
            return kernels[0]
        time.sleep(0.1)
    raise AssertionError(f"training never started: {job.communicate()[1][-2000:]}")


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _running(pid: int) -> bool:
    """Alive and not a zombie (a container's init may never reap an orphan)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


@pytest.mark.slow
def test_a_killed_kernel_ends_the_study_in_one_line(tmp_path):
    job = _start(tmp_path)
    kernel = _kernel_once_training(job, tmp_path / "store")
    os.kill(kernel, signal.SIGKILL)
    out, err = job.communicate(timeout=300)
    assert job.returncode == 1, err[-3000:]
    lines = err.strip().splitlines()
    assert len(lines) == 1, err[-3000:]
    assert lines[0].startswith("!! 01_warm_start: the kernel died after ")
    assert "runs 0/2 stored" in lines[0] or "runs 1/2 stored" in lines[0]
    log = tmp_path / "fig" / "smoke" / "01_warm_start.failed" / "01_warm_start.log"
    assert lines[0].endswith(f"; log: {log}") and log.exists()
    assert out.splitlines()[-1].startswith("report: ")


@pytest.mark.slow
def test_ctrl_c_leaves_no_kernel_and_no_asyncio_noise_and_the_same_command_resumes(tmp_path):
    job = _start(tmp_path)
    kernel = _kernel_once_training(job, tmp_path / "store")
    os.killpg(job.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends (the kernel has its
    _, err = job.communicate(timeout=120)  # own session, so not to it)
    assert job.returncode == 130, err[-3000:]
    assert not _running(kernel), "the kernel outlived the command"
    assert "Task exception" not in err and "Traceback" not in err, err[-3000:]
    last = err.strip().splitlines()[-1]
    assert last.startswith("interrupted: 01_warm_start has ")
    assert "Run the same command to resume" in last
    again = subprocess.run(COMMAND, cwd=ROOT, env=_env(tmp_path), capture_output=True,
                           text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(list((tmp_path / "store").rglob("DONE"))) == 2  # both iterations stored
