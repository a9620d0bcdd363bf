"""Per-epoch checkpoints of the training loops, so an interrupted run resumes where it stopped.

`store.run` opens a scratch folder for the run it computes (`<run>.partial/`); every `fit` or
`fit_many` call inside it gets a slot there, keyed by its order within the run and its name, and
saves model, optimizer, RNG states and history after each epoch (temp file + rename). Started
again, the same calls find their slots: finished fits load their final state instead of
training, the interrupted one continues from its last epoch, and the numbers are exactly those
of an unbroken run. Outside a store run (a test, a notebook cell) nothing is written. When the
run is stored, the scratch folder is deleted: finished runs keep only what the studies need.

Integrity, as for stored runs: torch reads a checkpoint whose tensor bytes were altered without
a complaint (its zip reader checks no CRC), and resuming from it would store wrong numbers as a
valid run. So each checkpoint has a checksum file beside it (`<slot>.sha256`, the sha256 of
the accepted contents), and `load` resumes only from a file that matches it. `save` writes the
new file's checksum next to the old one before renaming the file into place and drops the old
one after, so a kill at any moment leaves a file that matches. A checkpoint that fails the check
(or that torch cannot read as tensors) is moved to the store's `.set-aside/` folder, outside
the scratch folder that is deleted with the run, with one line saying so; its training starts
again from the first epoch.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import sys
import time
import warnings
from pathlib import Path

import torch

from initlab.tempfiles import clean_stale, is_disk_full, no_space, sha256_of, temp_path

CHECKSUM = ".sha256"  # suffix of a checkpoint's checksum file
_SCRATCH: contextvars.ContextVar[tuple[Path, Path, list[int]] | None] = \
    contextvars.ContextVar("initlab_scratch", default=None)


@contextlib.contextmanager
def scratch(folder: Path, aside: Path | None = None):
    """Give the training calls inside this block checkpoint slots in `folder`; damaged
    checkpoints go to `aside` (default: `.set-aside/` beside `folder`, the store's own)."""
    clean_stale(folder)
    token = _SCRATCH.set((folder, aside or folder.parent / ".set-aside", [0]))
    try:
        yield folder
    finally:
        _SCRATCH.reset(token)


def slot(name: str) -> Path | None:
    """The next checkpoint path of the current run, or None outside a store run."""
    current = _SCRATCH.get()
    if current is None:
        return None
    folder, _, counter = current
    counter[0] += 1
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:60]
    return folder / f"{counter[0]:03d}-{safe}.pt"


def load(path: Path | None) -> dict | None:
    """The saved state at `path` (tensors and plain values only: weights_only=True), or None.

    A checkpoint that fails its checksum (altered, cut short, no checksum) or that torch cannot
    read as tensors is set aside, with one line saying so (never torch's own advice), and the
    training starts again from its first epoch."""
    if path is None or not path.exists():
        return None
    why = _damage(path)
    if why is None:
        try:
            with warnings.catch_warnings():  # torch's remarks on a foreign pickle's protocol
                warnings.simplefilter("ignore")
                return torch.load(path, weights_only=True)
        except Exception as error:  # torch reports damage in many ways (zip, pickle, EOF)
            why = f"cannot be read as tensors ({type(error).__name__})"
    aside = _set_aside(path)
    print(f"checkpoint {path} is damaged: it {why}; set aside as {aside}; this training "
          "restarts from its first epoch", file=sys.stderr, flush=True)
    return None


def _damage(path: Path) -> str | None:
    """What is wrong with the checkpoint at `path` as its checksum file sees it, or None."""
    accepted = _accepted(path).split()
    if not accepted:
        return "has no checksum file"
    if sha256_of(path) not in accepted:
        return "differs from its checksum (altered or cut short)"
    return None


def _accepted(path: Path) -> str:
    """The checksum(s) the checkpoint in place is accepted under ("" when none)."""
    try:
        return _checksum_path(path).read_text().strip()
    except OSError:
        return ""


def _set_aside(path: Path) -> Path:
    """Move a damaged checkpoint (and its checksum file) out of the scratch folder, which is
    deleted with the run, into the run's set-aside folder; return where it went."""
    current = _SCRATCH.get()
    folder = current[1] if current else path.parent.parent / ".set-aside"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run = path.parent.name.removesuffix(".partial")
    target = folder / f"{run}-{path.stem}-damaged-{stamp}{path.suffix}"
    while target.exists():
        target = target.with_name(f"x{target.name}")
    os.replace(path, target)
    with contextlib.suppress(OSError):
        os.replace(_checksum_path(path), target.with_name(target.name + CHECKSUM))
    return target


def _checksum_path(path: Path) -> Path:
    return path.with_name(path.name + CHECKSUM)


def save(path: Path | None, state: dict) -> None:
    """Write `state` atomically (temp file + rename): a kill mid-write leaves the old file.

    The checksum file accepts the new and the old contents while the file is renamed, then
    only the new: whenever a kill comes, the file in place matches it."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        torch.save(state, tmp)
        new = sha256_of(tmp)
        _write_checksum(path, f"{new} {_accepted(path)}".strip())
    except (OSError, RuntimeError) as error:
        tmp.unlink(missing_ok=True)
        if is_disk_full(error):
            raise no_space(path.parent) from None
        raise
    os.replace(tmp, path)
    _write_checksum(path, new)


def _write_checksum(path: Path, text: str) -> None:
    checksum = _checksum_path(path)
    tmp = temp_path(checksum)
    tmp.write_text(text + "\n")
    os.replace(tmp, checksum)
