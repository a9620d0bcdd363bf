"""One process computes a run: a per-run file lock that every process asking for it takes.

Two `initlab run` commands on one store, the tasks of a SLURM job array, a JupyterLab kernel
next to a batch job: whoever takes a run's lock first computes it; the others say so in one
line, wait, and then load what it stored. Without the lock they trained the same run at once
in one checkpoint folder and crashed each other (a checkpoint renamed while the other process
deleted the folder).

The lock is `filelock`'s (an OS file lock, `flock` on Unix), held on an open file: the OS
releases it when the holder exits, also on an error and on SIGKILL, so a killed job never
leaves a run locked. Lock files live in `<store>/.locks/<study>/<run>.lock`, outside the study
folders, with a `.holder` note beside each (host and pid, only for the waiting message: the
lock file itself is never written, since closing a second handle on it would drop an NFS
lock). On a
shared file system the store's mount must support `flock` (NFSv4, BeeGFS, GPFS do; Lustre
needs the `flock` mount option); else filelock falls back to a lock file that a SIGKILL leaves
behind (delete `<store>/.locks/` when no job runs).
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

LOCKS = ".locks"


def lock_path(folder: Path, root: Path) -> Path:
    """Where the lock of the run stored in `folder` (under the store `root`) lives."""
    return root / LOCKS / folder.relative_to(root).with_suffix(".lock")


@contextlib.contextmanager
def held(folder: Path, root: Path, *, wait: bool = True) -> Iterator[bool | None]:
    """Hold the run's lock for the block. Yields False when it was free, True when this
    process had to wait for another (which has then usually stored the run), None when it
    was busy and `wait` is False (the block must then skip the run)."""
    path = lock_path(folder, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, thread_local=False)
    waited = False
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if not wait:
            yield None
            return
        print(f"store: {folder.parent.name} run {folder.name} is being computed by "
              f"{_holder(path)}; waiting for it, then loading it", file=sys.stderr, flush=True)
        lock.acquire()
        waited = True
    try:
        _write_holder(path)
        yield waited
    finally:
        lock.release()


def _holder(path: Path) -> str:
    """Who holds the lock, as its holder noted ("host pid")."""
    try:
        host, pid = path.with_suffix(".holder").read_text().split()
    except (OSError, ValueError):
        return "another process"
    return f"process {pid} on {host}"


def _write_holder(path: Path) -> None:
    with contextlib.suppress(OSError):  # the note is for people; the lock is what counts
        path.with_suffix(".holder").write_text(f"{socket.gethostname()} {os.getpid()}\n")


def holder_pid(folder: Path, root: Path) -> int | None:
    """The pid the run's last lock holder noted (for tests and tools that watch a job)."""
    try:
        return int(lock_path(folder, root).with_suffix(".holder").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
