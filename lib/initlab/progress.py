"""Progress bars that suit a terminal, JupyterLab and a papermill log alike.

Under papermill every redraw of a bar becomes text in the notebook and the log, so the runner
sets `INITLAB_PROGRESS=log`: then only outer bars show (redrawn at most every 30 s) and inner
work (one model's training) prints a single summary line when it ends. `off` hides all.
"""

from __future__ import annotations

import os
import sys

from tqdm import tqdm


def mode() -> str:
    return os.environ.get("INITLAB_PROGRESS", "auto")


def bar(iterable=None, *, total: int | None = None, desc: str = "", leave: bool = False,
        nested: bool = False):
    """A tqdm bar for the current mode; `nested` bars are hidden in log mode."""
    current = mode()
    if current == "off" or (current == "log" and nested):
        return tqdm(iterable, total=total, desc=desc, disable=True)
    if current == "log":
        return tqdm(iterable, total=total, desc=desc, leave=True, mininterval=30,
                    maxinterval=60, ascii=True, ncols=100, file=sys.stdout)
    return tqdm(iterable, total=total, desc=desc, leave=leave, dynamic_ncols=True)


def note(text: str) -> None:
    """One line for the log (log mode only): what a hidden inner bar would have shown."""
    if mode() == "log":
        print(text, flush=True)
