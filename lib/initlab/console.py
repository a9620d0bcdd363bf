"""What `initlab run` shows while a notebook runs: one line per study (cell, runs stored,
time), redrawn in place on a terminal; papermill's cell-by-cell log goes to `<study>.log`
beside the executed notebook (in full on the terminal only with `--verbose`). When it ends:
how many runs were trained and loaded, and the store entries the notebook set aside.
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

_CELL = re.compile(r"^Executing Cell (\d+)")
# what the store and the checkpoints print when they move a damaged or outdated entry aside
_ASIDE = re.compile(r"^(?:store: run \S+ .*; moved it to (\S+) and computing it again"
                    r"|checkpoint \S+ is damaged: .*; set aside as (\S+);)")


class _CellTracker(logging.Handler):
    """Passes papermill's "Executing Cell N" messages on as numbers."""

    def __init__(self, on_cell: Callable[[int], None]) -> None:
        super().__init__(logging.INFO)
        self.on_cell = on_cell

    def emit(self, record: logging.LogRecord) -> None:
        if match := _CELL.match(record.getMessage()):
            self.on_cell(int(match.group(1)))


class _LogFile(logging.FileHandler):
    """The study's log file; a line it cannot write (a full disk) is dropped without
    logging's traceback on the terminal: the runner names the full disk itself."""

    def handleError(self, record: logging.LogRecord) -> None:
        pass


@contextlib.contextmanager
def papermill_log(path: Path, verbose: bool = False,
                  on_cell: Callable[[int], None] | None = None) -> Iterator[None]:
    """Send papermill's log (its messages and every cell's output) to `path`, and to the
    terminal too with `verbose`; report each cell's start to `on_cell`."""
    logger = logging.getLogger("papermill")
    handlers: list[logging.Handler] = [_LogFile(path, encoding="utf-8")]
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


def set_aside(log: Path | None) -> str | None:
    """One line on the store entries the notebook set aside (they are only in its log
    otherwise): how many, and where; None when there were none."""
    if log is None or not log.exists():
        return None
    found = [m.group(1) or m.group(2) for text in log.read_text(errors="replace").splitlines()
             if (m := _ASIDE.match(text.strip()))]
    if not found:
        return None
    folders = sorted({str(Path(path).parent) for path in found})
    return (f"store: {len(found)} damaged or outdated entr{'y' if len(found) == 1 else 'ies'} "
            f"set aside (kept, not deleted) in {', '.join(folders)}; why: {log}")


class _DeadKernelTasks(logging.Filter):
    """asyncio's "Task exception was never retrieved" about a dead kernel (nbclient's
    polling tasks, garbage-collected after the notebook ended): the runner has said it."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (record.getMessage().startswith("Task exception was never retrieved")
                    and type(error).__name__ == "DeadKernelError")


def quiet_dead_kernel_tasks() -> None:
    """Keep asyncio's complaints about a dead kernel's tasks off the terminal (once)."""
    logger = logging.getLogger("asyncio")
    if not any(isinstance(f, _DeadKernelTasks) for f in logger.filters):
        logger.addFilter(_DeadKernelTasks())


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
        self.before = self.stored()  # runs stored when the study started
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

    def stored(self) -> int:
        return sum((folder / "DONE").exists() for folder in self.runs)

    def stored_text(self) -> str:
        return f"runs {self.stored()}/{len(self.runs)} stored"

    def runs_text(self) -> str:
        """'3 runs trained, 2 loaded' (trained here or by jobs this study sent out); empty
        when the study's runs could not be listed."""
        if not self.runs:
            return ""
        trained = self.stored() - self.before
        return f"{trained} run{'' if trained == 1 else 's'} trained, {self.before} loaded"

    def text(self) -> str:
        from initlab.training.progress import duration

        parts = [f"cell {self.cell}/{self.cells}"]
        if self.runs:
            parts.append(self.stored_text())
        parts.append(duration(time.time() - self.start))
        return f"== {self.title}: {', '.join(parts)}"

    def _redraw(self) -> None:
        while not self._stop.wait(1.0):
            print(f"\r{self.text()}\x1b[K", end="", file=self.stream, flush=True)
