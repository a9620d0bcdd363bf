"""Study 02's tasks: pairs of superclasses, cut from one data set into a source and a target pool.

On CIFAR-100 a *group* is a superclass (its five fine classes, by the standard fine-to-coarse
map); superclasses 0-9 form the source pool and 10-19 the target pool, and a task is a pair of
groups: their ten fine classes, labels remapped to 0..9 in ascending fine order. The 10-class
sets (digits, MNIST, Fashion-MNIST, CIFAR-10) run the same design with one class per group:
classes 0-4 are the source pool and 5-9 the target pool, so a task is a 2-class problem.
Full data sets are loaded once per process (and resized once when asked), then sliced. The
task layout needs no torch (the settings check counts against it when they are built).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import random
from typing import TYPE_CHECKING

from initlab import data
from initlab.catalog import CIFAR100_COARSE_OF_FINE

if TYPE_CHECKING:
    from initlab.data import ImageSet

Pair = tuple[int, int]
TEN_CLASS_SETS = ("digits", "mnist", "fashion_mnist", "cifar10")
TASK_SETS = ("cifar100", *TEN_CLASS_SETS)


def groups(dataset: str) -> dict[int, tuple[int, ...]]:
    """group id -> its classes (fine labels), for every group of `dataset`."""
    if dataset == "cifar100":
        return {c: tuple(f for f, cc in enumerate(CIFAR100_COARSE_OF_FINE) if cc == c)
                for c in range(20)}
    if dataset in TEN_CLASS_SETS:
        return {c: (c,) for c in range(10)}
    raise ValueError(f"no superclass tasks for {dataset!r}; choose one of {', '.join(TASK_SETS)}")


def pools(dataset: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(source groups, target groups): the first half of the groups, then the second."""
    ids = sorted(groups(dataset))
    half = len(ids) // 2
    return tuple(ids[:half]), tuple(ids[half:])


def source_tasks(dataset: str) -> list[Pair]:
    """Every pair of source groups, ascending: 45 on CIFAR-100, 10 on a 10-class set."""
    return list(itertools.combinations(pools(dataset)[0], 2))


def source_order(dataset: str, seed: int) -> list[Pair]:
    """The source tasks in one seeded order; "N source models" are the first N of it.

    A shuffle (rather than (0, 1), (0, 2), ...) keeps the first few tasks from all sharing
    superclass 0, so a small N still sees varied data.
    """
    order = source_tasks(dataset)
    random.Random(seed).shuffle(order)
    return order


def draw_target_pairs(dataset: str, n: int, seed: int) -> list[Pair]:
    """`n` distinct pairs of target groups, drawn with a fixed seed (each pair ascending)."""
    candidates = list(itertools.combinations(pools(dataset)[1], 2))
    if not 0 < n <= len(candidates):
        raise ValueError(f"{dataset}: can draw 1..{len(candidates)} target pairs, asked for {n}")
    return random.Random(seed).sample(candidates, n)


def task_classes(dataset: str, pair: Pair) -> list[int]:
    """The fine classes of a task, ascending (their order is the new label order)."""
    table = groups(dataset)
    if len(set(pair)) != len(pair) or any(g not in table for g in pair):
        raise ValueError(f"{dataset}: a task is distinct groups out of {sorted(table)}, got {pair}")
    return sorted(c for g in pair for c in table[g])


def full_set(dataset: str, split: str, image_size: int = 0) -> ImageSet:
    """One split of `dataset` (fine labels), resized to `image_size` (0 = native): the caller's
    own copy (every task of a study cuts from the same set; only the loaded set is cached)."""
    images = _loaded(dataset, split, image_size)
    return dataclasses.replace(images, images=images.images.clone(),
                               labels=images.labels.clone())


@functools.lru_cache(maxsize=8)
def _loaded(dataset: str, split: str, image_size: int) -> ImageSet:
    """Loaded and resized once per process (CIFAR-100 takes seconds); never handed out."""
    options = {"labels": "fine"} if dataset == "cifar100" else {}
    images = data.load(dataset, split, **options)
    return images.resized(image_size) if image_size else images


def per_class(images: ImageSet, n: int, seed: int) -> ImageSet:
    """At most `n` images of every class (a seeded draw; 0 = all), in the set's order."""
    if n <= 0:
        return images
    import torch

    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    keep = torch.cat([order[images.labels[order] == c][:n] for c in range(images.num_classes)])
    return images.subset(keep.sort().values)


def make_task(dataset: str, pair: Pair | tuple[()], split: str, *, image_size: int = 0,
              per_class_limit: int = 0, seed: int = 0) -> ImageSet:
    """One split of one task; `pair=()` is the whole data set (Tiny ImageNet's 200 classes)."""
    images = full_set(dataset, split, image_size)
    if pair:
        images = images.select_classes(task_classes(dataset, pair))
    return per_class(images, per_class_limit, seed)


def cifar100_task(s1: int, s2: int, split: str = "train") -> ImageSet:
    """CIFAR-100 superclasses s1 and s2: 10 fine classes relabelled 0..9 in ascending fine order
    (5,000 training or 1,000 test images)."""
    return make_task("cifar100", (s1, s2), split)
