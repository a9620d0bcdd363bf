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
from pathlib import Path

import torch

_SCRATCH: contextvars.ContextVar[tuple[Path, list[int]] | None] = contextvars.ContextVar(
    "initlab_scratch", default=None
)


@contextlib.contextmanager
def scratch(folder: Path):
    """Give the training calls inside this block checkpoint slots in `folder`."""
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
    """The saved state at `path` (tensors and plain values only: weights_only=True)."""
    if path is None or not path.exists():
        return None
    return torch.load(path, weights_only=True)


def save(path: Path | None, state: dict) -> None:
    """Write `state` atomically (temp file + rename): a kill mid-write leaves the old file."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    torch.save(state, tmp)
    os.replace(tmp, path)
