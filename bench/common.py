"""Shared bits of the bench scripts: the data they time on, and a timer."""

from __future__ import annotations

import time
from typing import Callable

import torch

from initlab import data


def study_data(size: int) -> data.ImageSet:
    """Fashion-MNIST when present (the real study scale), else digits; scaled to [-1, 1]."""
    name = "fashion_mnist" if data.available("fashion_mnist") else "digits"
    images = data.load(name, "train")
    return images.with_normalization((0.5,), (0.5,)).subset(slice(0, min(size, len(images))))


def timed(fn: Callable[[], object], repeats: int = 1) -> float:
    """Best wall time of `repeats` calls, in seconds (best-of filters out machine noise)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def header(title: str) -> None:
    print(f"# {title}\n# torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"device cpu")


def per_sample_dataset(images, labels, mean, std):
    """The seeds' data path, the baseline of every bench: a TensorDataset whose items go
    one at a time through torchvision v2 (to float, normalize, flip, rotate up to 15 deg)."""
    import torch
    from torch.utils.data import TensorDataset
    from torchvision.transforms import v2

    transform = v2.Compose([v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std),
                            v2.RandomHorizontalFlip(), v2.RandomRotation(15)])

    class Transformed(TensorDataset):
        def __getitem__(self, i):
            x, y = super().__getitem__(i)
            return transform(x), y

    return Transformed(images, labels)
