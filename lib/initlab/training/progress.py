"""Progress bars that suit a terminal, JupyterLab and a papermill log alike.

The style is the runtime's `progress` ("auto", "log" or "off"), passed explicitly. Under
papermill every redraw of a bar becomes text in the notebook and the log, so the runner asks
for "log": only outer bars show (redrawn at most every 30 s) and inner work (one model's
training) prints a single summary line when it ends. "off" hides all.
"""

from __future__ import annotations

import sys

from tqdm import tqdm


def bar(iterable=None, *, total: int | None = None, desc: str = "", leave: bool = False,
        nested: bool = False, mode: str = "auto"):
    """A tqdm bar in the given style; `nested` bars are hidden in "log" style."""
    if mode == "off" or (mode == "log" and nested):
        return tqdm(iterable, total=total, desc=desc, disable=True)
    if mode == "log":
        return tqdm(iterable, total=total, desc=desc, leave=True, mininterval=30,
                    maxinterval=60, ascii=True, ncols=100, file=sys.stdout)
    return tqdm(iterable, total=total, desc=desc, leave=leave, dynamic_ncols=True)


def note(text: str, mode: str = "auto") -> None:
    """One line for the log ("log" style only): what a hidden inner bar would have shown."""
    if mode == "log":
        print(text, flush=True)


def duration(seconds: float) -> str:
    """A duration for people: "45 s", "12 min", "3.2 h", "2.5 d"."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"
