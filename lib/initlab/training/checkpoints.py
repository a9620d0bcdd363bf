"""Per-epoch checkpoints of the training loops, so an interrupted run resumes where it stopped.

`store.run` opens a scratch folder for the run it computes (`<run>.partial/`); every `fit` or
`fit_many` call inside it gets a slot there, keyed by its order within the run and its name, and
saves model, optimizer, RNG states and history after each epoch (temp file + rename). Started
again, the same calls find their slots: finished fits load their final state instead of
training, the interrupted one continues from its last epoch, and the numbers are exactly those
of an unbroken run. Outside a store run (a test, a notebook cell) nothing is written. When the
run is stored, the scratch folder is deleted: finished runs keep only what the studies need.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import sys
import time
from pathlib import Path

import torch

from initlab.tempfiles import clean_stale, is_disk_full, no_space, temp_path

_SCRATCH: contextvars.ContextVar[tuple[Path, list[int]] | None] = contextvars.ContextVar(
    "initlab_scratch", default=None
)


@contextlib.contextmanager
def scratch(folder: Path):
    """Give the training calls inside this block checkpoint slots in `folder`."""
    clean_stale(folder)
    token = _SCRATCH.set((folder, [0]))
    try:
        yield folder
    finally:
        _SCRATCH.reset(token)


def slot(name: str) -> Path | None:
    """The next checkpoint path of the current run, or None outside a store run."""
    current = _SCRATCH.get()
    if current is None:
        return None
    folder, counter = current
    counter[0] += 1
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:60]
    return folder / f"{counter[0]:03d}-{safe}.pt"


def load(path: Path | None) -> dict | None:
    """The saved state at `path` (tensors and plain values only: weights_only=True), or None.

    A checkpoint that cannot be read (cut short, overwritten, not ours) is set aside beside
    itself, with one line saying so, and the training starts again from its first epoch."""
    if path is None or not path.exists():
        return None
    try:
        return torch.load(path, weights_only=True)
    except Exception as error:  # torch reports damage in many ways (zip, pickle, EOF)
        aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(path, aside)
        print(f"checkpoint {path} is damaged ({type(error).__name__}); set aside as {aside.name}"
              "; this training restarts from its first epoch", file=sys.stderr, flush=True)
        return None


def save(path: Path | None, state: dict) -> None:
    """Write `state` atomically (temp file + rename): a kill mid-write leaves the old file."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        torch.save(state, tmp)
    except (OSError, RuntimeError) as error:
        tmp.unlink(missing_ok=True)
        if is_disk_full(error):
            raise no_space(path.parent) from None
        raise
    os.replace(tmp, path)
