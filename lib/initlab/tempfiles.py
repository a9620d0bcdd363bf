"""Temporary files and folders named `<name>.tmp-<pid>@<host>`: what a writer leaves when it is
killed before its atomic rename (the next run removes those of processes no longer alive on
this machine; another machine's, on a store shared by cluster nodes, are left to it), and the
one error a full disk raises, whatever library was writing."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import socket
from pathlib import Path

HOST = socket.gethostname().replace('/', '_')


class NoSpaceLeft(OSError):
    """The disk filled up while writing; the half-written temp file was removed."""


def is_disk_full(error: BaseException) -> bool:
    """ENOSPC, also when torch's zip writer reports it its own way ("unexpected pos")."""
    return getattr(error, "errno", None) == errno.ENOSPC or "unexpected pos" in str(error)


def no_space(folder: Path) -> NoSpaceLeft:
    return NoSpaceLeft(errno.ENOSPC, f"no space left on {folder}")


def temp_path(path: Path) -> Path:
    """Where this process writes `path` before renaming it into place."""
    return path.with_name(f"{path.name}.tmp-{os.getpid()}@{HOST}")


def clean_stale(folder: Path) -> list[Path]:
    """Remove the temp files and folders in `folder` whose writing process has died (only
    this machine's: a pid says nothing about another node's processes)."""
    removed = []
    for tmp in folder.glob("*.tmp-*") if folder.exists() else ():
        pid, _, host = tmp.name.rsplit(".tmp-", 1)[1].partition("@")
        if host and host != HOST:
            continue
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


def sha256_of(path: Path) -> str:
    """The file's sha256, read in 1 MiB blocks: what the store's manifests and the
    checkpoints' checksum files hold."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
