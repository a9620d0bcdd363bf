"""What a run is called and whether it is stored, without torch or pandas.

A run's name hashes its full settings record (`entries.stored_settings`); whether it is stored
is the folder's check against that record and its manifest (`entries.problem`: JSON and
sha256 only). `initlab plan` and `initlab list` count runs with these alone, so they answer
without loading the training code; a batch names its run function (`LazyFn`) rather than
importing it. `store` re-exports every name here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from initlab import paths
from initlab.store.entries import problem, stored_settings


def hashed_settings(settings) -> dict[str, Any]:
    """The hashed settings that differ from their defaults (a nested settings dataclass by its
    own non-default values): how messages tell a user which run they mean. Not the run's name,
    which hashes every value (`run_name`)."""
    values = {}
    for f in dataclasses.fields(settings):
        if not f.metadata.get("hash", True):
            continue
        value = getattr(settings, f.name)
        if dataclasses.is_dataclass(value):
            if nested := hashed_settings(value):
                values[f.name] = nested
        elif value != f.default:
            values[f.name] = list(value) if isinstance(value, tuple) else value
    return values


def run_name(settings) -> str:
    """The run's folder name: a hash of its full settings record (`entries.stored_settings`:
    class name, protocol, every hashed value with the defaults)."""
    text = json.dumps(stored_settings(settings), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_dir(study: str, settings, root: Path | None = None) -> Path:
    return (root or paths.store_dir()) / study / run_name(settings)


def is_done(study: str, settings, root: Path | None = None) -> bool:
    """Whether a checked, usable run for exactly these settings is stored."""
    folder = run_dir(study, settings, root)
    return folder.exists() and problem(folder, settings) is None


@dataclass(frozen=True)
class LazyFn:
    """A run function named "module:function", imported when first called: a study lists its
    batches without importing the code that computes them (torch), so `initlab plan` stays
    light. It pickles as its name, for worker processes and jobs."""

    path: str

    def resolve(self) -> Callable[..., Any]:
        module, _, name = self.path.partition(":")
        return getattr(importlib.import_module(module), name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)
