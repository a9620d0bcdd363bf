"""Study 02's settings checks: every field's range and its relations to the other fields, run
by the settings' `__post_init__`, so that `profiles.load` (which the CLI calls before any
notebook starts) rejects a bad value with one line naming the field, before any training.

Counts are checked against what the data sets hold (`initlab.catalog` and the task layout of
`tasks`, so no files are needed): the source and target tasks a data set has, the images of
one task, the kernels a clustering can draw on. Upper bounds on sizes (epochs, width, runs,
...) are generous sanity limits: beyond them a run would take days or exhaust memory, and a
typo is likelier.
"""

from __future__ import annotations

import math
from typing import Any

from initlab import catalog
from initlab.inits.names import ALIGNED_MEANS, DISTANCES, GABOR_DRAWS, GABOR_GRIDS, RESCALES
from initlab.metrics.matching_names import METHODS, ORDERS
from initlab.settings import check_bools, check_choices, check_range
from initlab.studies.clustered_init import tasks
from initlab.training.recipe import LR_SCHEDULES, PRECISIONS

STEMS = ("imagenet", "cifar")  # initlab.models.resnet
TINY_IMAGENET = ("on", "if_available", "off")
CONVS = 17  # ResNet-18's main conv layers (stem, then each block's conv1 and conv2)
ALIGNABLE = 5  # the custom model's stem and the four convs of layer1 (metrics.matching)
MAX_EPOCHS = 1000
MAX_RUNS = 1000
MAX_SEED = 2**31 - 1


def check_settings(s: Any) -> None:
    """All checks of a `ClusteredInitSettings` (the user's inits excepted: the settings class
    checks their names and options against the init registry itself)."""
    _check_choices(s)
    _check_numbers(s)
    _check_sizes(s)
    _check_design(s)
    _check_clusters(s)


def _check_choices(s: Any) -> None:
    check_choices("dataset", s.dataset, tasks.TASK_SETS)
    for name, choices in (("stem", STEMS), ("lr_schedule", LR_SCHEDULES),
                          ("precision", PRECISIONS), ("rescale", RESCALES),
                          ("tiny_distance", DISTANCES), ("align_order", ORDERS),
                          ("align_mean", ALIGNED_MEANS), ("gabor_grid", GABOR_GRIDS),
                          ("gabor_draw", GABOR_DRAWS), ("tiny_imagenet", TINY_IMAGENET)):
        check_choices(name, getattr(s, name), choices)
    _distinct("distances", s.distances)
    check_choices("distances", s.distances, DISTANCES)
    _distinct("align_matchings", s.align_matchings, allow_empty=not s.align_layers)
    check_choices("align_matchings", s.align_matchings, METHODS)
    check_bools(s, "augment", "as_run")


def _check_numbers(s: Any) -> None:
    check_range(s, "width", high=4.0, above=0.0)  # 4: a ResNet-18 of 179 million weights
    check_range(s, "lr", high=10.0, above=0.0)  # 1e-400 reads as 0.0: rejected here
    check_range(s, "momentum", low=0.0, high=0.999)  # 1 or more: the velocity never decays
    check_range(s, "weight_decay", low=0.0, high=1.0)
    check_range(s, "lr_every", low=0, high=MAX_EPOCHS)  # 0: a constant rate
    for name in ("source_lr_factor", "target_lr_factor"):
        check_range(s, name, high=1.0, above=0.0)  # the rate is lowered, never raised
    for name in ("source_epochs", "target_epochs", "tiny_epochs"):
        check_range(s, name, low=1, high=MAX_EPOCHS)
    for name in ("runs", "tiny_runs"):
        check_range(s, name, low=1, high=MAX_RUNS)
    check_range(s, "batch_size", low=1, high=65_536)
    check_range(s, "noise", low=0.0, high=10.0)  # in units of a cluster's own spread
    check_range(s, "seed", low=0, high=MAX_SEED)


def _check_sizes(s: Any) -> None:
    """Image side and subsample sizes: 0 means native / all; otherwise at least one image per
    class of a task (fewer would round to 0 per class, which reads as "all") and at most what
    a task holds."""
    if s.image_size != 0 and not 8 <= s.image_size <= 512:
        raise ValueError(f"image_size must be 0 (native) or 8..512 pixels, got {s.image_size!r}")
    shape = catalog.shape(s.dataset)
    classes = _task_classes(s.dataset)
    for name, split in (("train_size", "train"), ("test_size", "test")):
        _subsample(s, name, classes, classes * shape.per_class(split), s.dataset)
    tiny = catalog.shape("tiny_imagenet")
    _subsample(s, "tiny_train_size", tiny.classes, tiny.train, "tiny_imagenet")
    _subsample(s, "tiny_test_size", tiny.classes, tiny.test, "tiny_imagenet")


def _subsample(s: Any, name: str, classes: int, available: int, dataset: str) -> None:
    value = getattr(s, name)
    if value != 0 and not classes <= value <= available:
        raise ValueError(f"{name} must be 0 (all) or {classes}..{available} (one image per "
                         f"class up to all {available} of a {dataset} task), got {value!r}")


def _check_design(s: Any) -> None:
    """The design's counts against the data set's tasks and the model's layers."""
    sources = len(tasks.source_tasks(s.dataset))
    targets = math.comb(len(tasks.pools(s.dataset)[1]), 2)  # pairs of target groups
    _count(s, "source_models", 1, sources, f"the {sources} source tasks of {s.dataset}")
    _count(s, "targets", 1, targets, f"the {targets} target tasks of {s.dataset}")
    _count(s, "align_sources", 2, sources,  # an aligned mean of one model is a copy
           f"the {sources} source tasks of {s.dataset} (aligning needs two)")
    held = f"the source_models = {s.source_models} trained models"
    for name in ("n_sources", "sweep_sources", "tiny_sources"):
        _count(s, name, 1, s.source_models, held)
    for name in ("layers", "sweep_layers", "gabor_layers"):
        _count(s, name, 1, CONVS, f"ResNet-18's {CONVS} conv layers")
    _count(s, "align_layers", 1, ALIGNABLE,
           f"the {ALIGNABLE} conv layers of the custom ResNet-18 that can be permuted alone")
    for name in ("sweep_sources", "sweep_clusters", "sweep_layers"):
        if not getattr(s, name):
            raise ValueError(f"{name} must list at least one value, got ()")
    if s.kmeans_sample < 0:
        raise ValueError(f"kmeans_sample must be 0 (every kernel) or a count, "
                         f"got {s.kmeans_sample!r}")


def _check_clusters(s: Any) -> None:
    """K against the kernels k-means can draw on: the stem is part of every clustered init
    (L >= 1) and has the fewest kernels, N x stem filters x input channels; with
    `kmeans_sample` the fit sees at most that many."""
    stem = max(1, round(64 * s.width)) * catalog.shape(s.dataset).channels  # models.resnet
    if s.kmeans_sample:
        low = max((*s.sweep_clusters, s.clusters, s.tiny_clusters))
        if s.kmeans_sample < low:
            raise ValueError(f"kmeans_sample must be 0 or at least the largest K ({low}), "
                             f"got {s.kmeans_sample}")
    checks = (("clusters", min((*s.sweep_sources, s.n_sources))),
              ("sweep_clusters", s.n_sources), ("tiny_clusters", s.tiny_sources))
    for name, n in checks:
        kernels = n * stem
        _count(s, name, 1, kernels, f"the {kernels} stem kernels of N = {n} source models "
               f"({stem} each at width {s.width:g}): k-means needs one per cluster")


def _count(s: Any, name: str, low: int, high: int, what: str) -> None:
    values = getattr(s, name)
    for value in values if isinstance(values, tuple) else (values,):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"{name} must lie in {low}..{high} ({what}), got {value!r}")


def _distinct(name: str, values: tuple, allow_empty: bool = False) -> None:
    if not values and not allow_empty:
        raise ValueError(f"{name} must list at least one value, got ()")
    if len(set(values)) != len(values):
        raise ValueError(f"{name} lists a value twice: {values!r}")


def _task_classes(dataset: str) -> int:
    """Classes in one task: two groups (superclasses on CIFAR-100, single classes else)."""
    return 2 * len(tasks.groups(dataset)[0])

