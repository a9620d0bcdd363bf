"""Progress bars that suit both a terminal and a papermill log.

Under papermill every redraw of a bar becomes a line in the notebook and the log, so the
runner sets `INITLAB_PROGRESS=log`: bars then redraw at most every 30 s. `off` hides them.
"""

from __future__ import annotations

import os
import sys

from tqdm import tqdm


def mode() -> str:
    return os.environ.get("INITLAB_PROGRESS", "auto")


def bar(iterable=None, *, total: int | None = None, desc: str = "", leave: bool = False):
    """A tqdm bar configured for the current mode."""
    current = mode()
    if current == "off":
        return tqdm(iterable, total=total, desc=desc, disable=True)
    if current == "log":
        return tqdm(
            iterable, total=total, desc=desc, leave=True, mininterval=30, maxinterval=60,
            ascii=True, ncols=100, file=sys.stdout,
        )
    return tqdm(iterable, total=total, desc=desc, leave=leave, dynamic_ncols=True)
