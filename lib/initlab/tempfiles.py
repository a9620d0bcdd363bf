"""Temporary files and folders named `<name>.tmp-<pid>`: what a writer leaves when it is killed
before its atomic rename (the next run removes those of processes no longer alive), and the
one error a full disk raises, whatever library was writing."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path


class NoSpaceLeft(OSError):
    """The disk filled up while writing; the half-written temp file was removed."""


def is_disk_full(error: BaseException) -> bool:
    """ENOSPC, also when torch's zip writer reports it its own way ("unexpected pos")."""
    return getattr(error, "errno", None) == errno.ENOSPC or "unexpected pos" in str(error)


def no_space(folder: Path) -> NoSpaceLeft:
    return NoSpaceLeft(errno.ENOSPC, f"no space left on {folder}")


def temp_path(path: Path) -> Path:
    """Where this process writes `path` before renaming it into place."""
    return path.with_name(f"{path.name}.tmp-{os.getpid()}")


def clean_stale(folder: Path) -> list[Path]:
    """Remove the temp files and folders in `folder` whose writing process has died."""
    removed = []
    for tmp in folder.glob("*.tmp-*") if folder.exists() else ():
        pid = tmp.name.rsplit(".tmp-", 1)[1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink()
            removed.append(tmp)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True
