"""What `initlab run` shows while a notebook runs: one line per study (cell, runs stored,
time), redrawn in place on a terminal; papermill's cell-by-cell log goes to `<study>.log`
beside the executed notebook (in full on the terminal only with `--verbose`).
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from initlab.training.progress import duration

_CELL = re.compile(r"^Executing Cell (\d+)")


class _CellTracker(logging.Handler):
    """Passes papermill's "Executing Cell N" messages on as numbers."""

    def __init__(self, on_cell: Callable[[int], None]) -> None:
        super().__init__(logging.INFO)
        self.on_cell = on_cell

    def emit(self, record: logging.LogRecord) -> None:
        if match := _CELL.match(record.getMessage()):
            self.on_cell(int(match.group(1)))


@contextlib.contextmanager
def papermill_log(path: Path, verbose: bool = False,
                  on_cell: Callable[[int], None] | None = None) -> Iterator[None]:
    """Send papermill's log (its messages and every cell's output) to `path`, and to the
    terminal too with `verbose`; report each cell's start to `on_cell`."""
    logger = logging.getLogger("papermill")
    handlers: list[logging.Handler] = [logging.FileHandler(path, encoding="utf-8")]
    if verbose:
        handlers.append(logging.StreamHandler(sys.stdout))
    for handler in handlers:
        handler.setFormatter(logging.Formatter("%(message)s"))
    if on_cell is not None:
        handlers.append(_CellTracker(on_cell))
    saved = (logger.level, logger.propagate)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in handlers:
        logger.addHandler(handler)
    try:
        yield
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


def tail(path: Path, lines: int = 20) -> list[str]:
    """The last lines of a text file (none if it is missing)."""
    if not path.exists():
        return []
    return path.read_text(encoding="utf-8", errors="replace").rstrip("\n").splitlines()[-lines:]


class StudyLine:
    """The one line of a study while its notebook runs: "== 01_warm_start (smoke): cell 8/21,
    runs 1/2 stored, 35 s". On a terminal it is redrawn every second; elsewhere (a log, CI)
    it is printed once, when the study starts."""

    def __init__(self, title: str, cells: int, runs: list[Path] | None,
                 stream=None) -> None:
        self.title, self.cells, self.runs = title, cells, runs or []
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty()
        self.cell, self.start = 0, time.time()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._redraw, daemon=True)

    def __enter__(self) -> StudyLine:
        if self.live:
            self._thread.start()
        else:
            print(f"== {self.title}", file=self.stream, flush=True)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self.live:
            self._thread.join()
            print(f"\r{self.text()}", file=self.stream, flush=True)

    def on_cell(self, number: int) -> None:
        self.cell = number

    def text(self) -> str:
        parts = [f"cell {self.cell}/{self.cells}"]
        if self.runs:
            stored = sum((folder / "DONE").exists() for folder in self.runs)
            parts.append(f"runs {stored}/{len(self.runs)} stored")
        parts.append(duration(time.time() - self.start))
        return f"== {self.title}: {', '.join(parts)}"

    def _redraw(self) -> None:
        while not self._stop.wait(1.0):
            print(f"\r{self.text()}\x1b[K", end="", file=self.stream, flush=True)
