"""Data: `ImageSet` (uint8 images held whole, reshaped once), data sets by name, the on-disk
readers, and batched noise and augmentations with per-sample randomness.

The names below are loaded on first use (PEP 562), so `from initlab.data import DATASETS`
or `initlab.data.locations` (where files live) costs no torch import: `initlab data check`
and `initlab list` answer without it.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "reorganize_tiny_imagenet_val": "folders", "ImageSet": "images",
    "CorruptDataError": "readers",
    "DATASETS": "locations", "SPLITS": "locations", "DataUnavailableError": "locations",
    "available": "locations", "expected_files": "locations",
    "CIFAR100_COARSE_OF_FINE": "sets", "FASHION_MNIST_CLASSES": "sets",
    "IMAGENET_STATS": "sets", "download": "sets", "load": "sets",
}
_MODULES = ("augment", "folders", "images", "locations", "noise", "readers", "sets", "warp")
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name in _MODULES:  # `data.sets.X` after a plain `from initlab import data`
        return importlib.import_module(f"initlab.data.{name}")
    if name not in _HOMES:
        raise AttributeError(f"module 'initlab.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"initlab.data.{_HOMES[name]}"), name)
    globals()[name] = value  # looked up once
    return value
