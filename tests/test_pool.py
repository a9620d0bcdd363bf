"""Runs computed several at once by worker processes (`store.pool`, the default on a CPU)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from initlab import machine, store
from initlab.store import pool
from initlab.training.cluster import Cluster
from initlab.training.runtime import Runtime

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))
from pool_job import Job, where  # noqa: E402


def test_two_at_once_compute_in_worker_processes_the_numbers_computed_here(tmp_path):
    runs = [Job(i) for i in range(4)]
    pooled = store.run_many("pooled", runs, where, root=tmp_path / "a",
                            runtime=Runtime(threads=1, cluster=Cluster(jobs=2)))
    here = store.run_many("pooled", runs, where, root=tmp_path / "b",
                          runtime=Runtime(threads=1, cluster=Cluster(jobs=1)))
    pids = {int(r["where"].pid[0]) for r in pooled}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    assert {int(r["where"].pid[0]) for r in here} == {os.getpid()}
    assert all(int(r["where"].threads[0]) == 1 for r in pooled)
    assert all(torch.equal(a["draw"], b["draw"]) for a, b in zip(pooled, here))


def test_the_default_is_one_run_per_core_on_a_cpu_and_one_on_a_gpu():
    cpu = Runtime(device="cpu")
    assert pool.workers(cpu, 100) == machine.cores()
    assert pool.workers(cpu, 1) == 1
    assert pool.workers(Runtime(device="cpu", threads=2), 100) == max(1, machine.cores() // 2)
    assert pool.workers(Runtime(device="cpu", cluster=Cluster(jobs=3)), 100) == 3
    assert pool.workers(Runtime(device="cpu").in_process(), 100) == 1


def default_sigint() -> None:
    """Ctrl-C's default in the child, whoever started pytest: a shell's background job (`cmd &`)
    inherits SIGINT ignored, and Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as stat:  # a zombie has exited
        return stat.read().split(")")[-1].split()[0] == "Z"


def _until(condition, what: str, limit: float = 120.0) -> None:
    """Wait for `condition` (events, not a guessed duration); fail after `limit` s."""
    end = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_ctrl_c_stops_the_workers_and_leaves_no_run_stored(tmp_path):
    signals = tmp_path / "signals"
    signals.mkdir()
    parent = subprocess.Popen([sys.executable, str(TESTS / "pool_job.py"), str(tmp_path / "s"),
                               str(signals)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              preexec_fn=default_sigint)
    started = [signals / f"started-{i}" for i in range(2)]
    _until(lambda: all(f.exists() and f.read_text() for f in started) or parent.poll() is not None,
           "both workers to start their run")
    assert parent.poll() is None, parent.communicate()[1].decode()[-2000:]
    workers = [int(f.read_text()) for f in started]
    parent.send_signal(signal.SIGINT)
    _, err = parent.communicate(timeout=120)
    assert parent.returncode != 0 and b"KeyboardInterrupt" in err
    _until(lambda: all(_gone(pid) for pid in workers), "the workers to end")
    assert not any(store.is_done("pooled", Job(i, str(signals)), tmp_path / "s")
                   for i in range(2))
