"""One notebook kernel's life under `initlab run/render`: papermill imported lean, the kernel
started with its output in the study's log and talking over private Unix sockets, and gone
(its whole process group) when the notebook ends, however it ends.

Two costs of every study are cut here. Importing papermill imports nbformat, jsonschema and,
when it is installed, `rfc3987_syntax`, which compiles 38 grammars on import (1.6 s of every
render): nbformat's schemas check no IRI format, so papermill is imported with that module
blocked. And a kernel that has loaded torch, pandas and matplotlib takes 1-3 s to exit
gracefully once the last cell has run; the notebook's work is written by then (outputs staged
and published, store entries renamed into place), so the kernel is killed instead
(`shutdown_kernel="immediate"`: SIGKILL to its process group, worker processes included).
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from initlab import console

_UNUSED = "rfc3987_syntax"  # jsonschema's optional IRI checks; nbformat uses none


def import_papermill() -> Any:
    """papermill, imported without `rfc3987_syntax` (the block is lifted afterwards, so only
    jsonschema's import, which tolerates its absence, ever sees it)."""
    if "papermill" in sys.modules or _UNUSED in sys.modules:
        import papermill

        return papermill
    sys.modules[_UNUSED] = None  # type: ignore[assignment]  # makes `import` raise ImportError
    try:
        import papermill
    finally:
        if sys.modules.get(_UNUSED, "") is None:
            del sys.modules[_UNUSED]
    return papermill


@contextlib.contextmanager
def options(log: Path) -> Iterator[dict[str, Any]]:
    """Papermill's options for the kernel, and the kernel's end: whatever ends the notebook
    (its end, an error, Ctrl-C, the kernel's death), its process group is gone when this
    block is left, and the asyncio tasks nbclient leaves behind on a dead kernel stay quiet.

    The kernel's own output (the kernel app's messages, native libraries' warnings) goes to
    the study's log, not the terminal; it talks over IPC (Unix sockets in a private folder),
    so it neither listens on TCP nor warns that TCP traffic is unencrypted (TCP on Windows)."""
    from jupyter_client import AsyncKernelManager

    started: list[AsyncKernelManager] = []

    class LoggedKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            if os.name != "nt":
                kwargs.update(transport="ipc", ip=_ipc_address())
            super().__init__(**kwargs)

        async def start_kernel(self, **kw: Any) -> None:
            started.append(self)
            with open(log, "ab") as output:
                await super().start_kernel(**{"stdout": output, "stderr": output, **kw})

    console.quiet_dead_kernel_tasks()
    try:
        yield {"kernel_manager_class": LoggedKernelManager, "shutdown_kernel": "immediate"}
    finally:
        for manager in started:
            stop(getattr(manager, "provisioner", None))


def stop(provisioner: Any) -> None:
    """End a kernel that is still running: SIGTERM to its process group (it has its own
    session), SIGKILL after 5 s."""
    process = getattr(provisioner, "process", None)
    if process is None or process.poll() is not None:
        return
    group = getattr(provisioner, "pgid", None)
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 10)):
        with contextlib.suppress(OSError):
            os.killpg(group, sig) if group else process.send_signal(sig)
        with contextlib.suppress(Exception):
            process.wait(timeout=wait)
            return


def _ipc_address() -> str:
    """A fresh socket prefix in one private folder per process (removed at exit)."""
    if not _IPC_FOLDER:
        _IPC_FOLDER.append(tempfile.mkdtemp(prefix="initlab-kernels-"))
        atexit.register(shutil.rmtree, _IPC_FOLDER[0], ignore_errors=True)
    return os.path.join(_IPC_FOLDER[0], f"kernel-{next(_KERNELS)}")


_IPC_FOLDER: list[str] = []
_KERNELS = itertools.count()
