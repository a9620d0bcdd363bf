"""What this machine offers the process, read without torch (base: the CLI's light commands
and the store's worker pool both ask)."""

from __future__ import annotations

import os


def cores() -> int:
    """CPU cores this process may use (its affinity where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
