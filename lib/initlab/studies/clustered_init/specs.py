"""What names one stored run of study 02: a `SourceRun` (one source model) or a `TargetRun`
(one target task under one seed and one initialization), and the training `Recipe` each
implies.

The store names a run by the hash of all these fields, defaults included (`store.run_name`),
so changing a default or adding a field renames the runs: nothing computed one way is read as
the other. The run fields' defaults are initlab's own behaviour (`lr_schedule="step"`, the
Gabor and aligned-mean fields below); the settings' defaults (the paper protocol) may differ.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from initlab.inits import InitSpec
from initlab.seeds import derive_seed
from initlab.studies.clustered_init import tasks
from initlab.training.recipe import Recipe

STUDY = "02_clustered_init"
INITS = ("random", "pretrained", "gabor", "clustered", "aligned")


@dataclass(frozen=True)
class Training:
    """What a training run of either kind depends on (defaults: the paper protocol)."""
    PROTOCOL: ClassVar[int] = 2  # bump when a run would compute other numbers (store checks)

    dataset: str = "cifar100"
    task: tuple[int, ...] = ()  # a pair of groups; () = the whole data set (Tiny ImageNet)
    width: float = 1.0
    stem: str = "imagenet"
    custom: bool = False
    image_size: int = 0
    train_size: int = 0
    test_size: int = 0
    augment: bool = True
    batch_size: int = 128
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    lr_every: int = 6
    lr_schedule: str = "step"  # initlab.training.recipe.LR_SCHEDULES
    precision: str = "auto"  # initlab.training.recipe.PRECISIONS; "auto": bf16 on CUDA only
    seed: int = 0


@dataclass(frozen=True)
class SourceRun(Training):
    """One source model: trained on one source task, its weights stored."""

    epochs: int = 25
    lr_factor: float = 0.5


@dataclass(frozen=True)
class TargetRun(Training):
    """One target task under one seed and one initialization; its curve is stored."""
    # 3: each seed draws its own k-means clustering (was one per condition); Tiny ImageNet
    # runs without augmentation, as the original's pipeline
    PROTOCOL: ClassVar[int] = 3

    epochs: int = 15
    lr_factor: float = 0.2
    init: str = "random"  # one of INITS, or a user's init (named as in the settings' `inits`)
    user_init: InitSpec | None = None  # a user's init: its name, options and source hash
    distance: str = ""
    n_sources: int = 0  # clustered/aligned: the first N sources; pretrained: one of N
    clusters: int = 0
    layers: int = 0
    matching: str = ""
    align_order: str = "filters"  # greedy aligned: which side walks first (matching_names.ORDERS)
    align_mean: str = "raw"  # aligned: mean of raw or unit-norm filters (inits.names.ALIGNED_MEANS)
    gabor_grid: str = "centred"  # Gabor: inits.names.GABOR_GRIDS
    gabor_draw: str = "per_model"  # Gabor: inits.names.GABOR_DRAWS
    noise: float = 0.0
    rescale: str = "none"
    kmeans_sample: int = 0
    # the source models the init draws on: trained like this run unless named here
    source_dataset: str = ""
    source_image_size: int = -1
    source_train_size: int = -1
    source_test_size: int = -1
    source_epochs: int = 25
    source_lr_factor: float = 0.5
    source_seed: int = 0


SOURCE_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TargetRun)
                   if f.name.startswith("source_")}


def recipe(spec: SourceRun | TargetRun) -> Recipe:
    """The run's SGD recipe: lr x `lr_factor` (0.5 for source models, 0.2 for target runs in
    the protocol) as `lr_schedule` says (every `lr_every` epochs, or the original's plateau
    rule with patience `lr_every` - 1), momentum, weight decay and precision as set."""
    return Recipe(optimizer="sgd", lr=spec.lr, momentum=spec.momentum,
                  weight_decay=spec.weight_decay, epochs=spec.epochs,
                  batch_size=spec.batch_size, lr_every=spec.lr_every, lr_factor=spec.lr_factor,
                  lr_schedule=spec.lr_schedule, precision=spec.precision)


def task_name(task: tuple[int, ...]) -> str:
    """"3-7" for a pair of groups, "all" for the whole data set (Tiny ImageNet)."""
    return "-".join(map(str, task)) if task else "all"


def sources_of(spec: TargetRun, n: int) -> list[SourceRun]:
    """The first `n` source runs of the seeded source-task order that `spec` draws on."""
    dataset = spec.source_dataset or spec.dataset

    def own(value: int, default: int) -> int:
        return default if value == -1 else value

    common = {f.name: getattr(spec, f.name) for f in dataclasses.fields(Training)}
    common.update(dataset=dataset, image_size=own(spec.source_image_size, spec.image_size),
                  train_size=own(spec.source_train_size, spec.train_size),
                  test_size=own(spec.source_test_size, spec.test_size),
                  seed=spec.source_seed)
    order = tasks.source_order(dataset, derive_seed(spec.source_seed, "source-order"))
    if n > len(order):
        raise ValueError(f"{dataset} has {len(order)} source tasks, asked for {n} models")
    return [SourceRun(**{**common, "task": pair}, epochs=spec.source_epochs,
                      lr_factor=spec.source_lr_factor) for pair in order[:n]]
