"""Study settings: the dataclass (defaults = the original protocol, `paper`) and what `smoke`
and `quick` change; then the settings of each store run derived from them (`baseline_runs`,
`source_run`, `transfer_runs`), each with the training `Recipe`s it implies.

A run is named by its settings (see `store.run_name`), so a run's dataclass holds only what
that run depends on, in flat fields (a nested `Recipe` would not hash into a name): changing
the transfer settings never renames a baseline run, and the other way round.

Each difference from the original is one field whose value selects the original's behaviour
(`AS_RUN`, applied by `profiles.load(..., as_run=True)`; docs/04_baselines_transfer.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from initlab.settings import not_hashed
from initlab.studies.baselines_transfer.checks import check_settings
from initlab.studies.baselines_transfer.variants import TransferPlan
from initlab.training.recipe import Recipe


@dataclass(frozen=True)
class BaselinesTransferSettings:
    """Study 04: CNN baselines and transfer learning (docs/04_baselines_transfer.md)."""

    # SimpleCNN (MNIST in the original): SGD lr 0.01, momentum 0.9, Nesterov, batch 256,
    # "10 epochs then 10 more" = 20 epochs; the data set's own mean/std normalize it.
    dataset: str = "mnist"
    simple_width: float = 1.0
    simple_epochs: int = 20
    simple_lr: float = 0.01
    simple_train_size: int = 0  # 0 = the whole training split
    # reduced AlexNet (CIFAR-10 in the original): Adam 1e-3, batch 256, 15 epochs. A 1-channel
    # 28x28 data set is zero-padded to 32x32 and repeated over 3 channels; "" skips AlexNet.
    alexnet_dataset: str = "cifar10"
    alexnet_width: float = 1.0
    alexnet_epochs: int = 15
    alexnet_lr: float = 1e-3
    alexnet_train_size: int = 0
    alexnet_dropout2: float = 0.5  # the second dropout's p; the report's `Dropout(0,5)` is 0
    batch_size: int = 256  # both baselines
    tsne_points: int = 5000  # validation images per t-SNE
    perplexity: float = 30.0
    tsne_iterations: int = 1000  # scikit-learn's default
    # transfer: an image folder with train/ and validation/ (Alien vs Predator: 694/200
    # images); "" builds a two-class task from task_dataset (train from its train split,
    # validation from its test split, balanced) and says so.
    folder: str = ""
    task_dataset: str = "cifar10"
    task_classes: tuple[int, ...] = (3, 5)  # cat, dog
    task_train_size: int = 694
    task_val_size: int = 200
    image_size: int = 224
    backbone: str = "resnet18"  # or resnet50
    backbone_width: float = 1.0  # resnet18 only
    head: str = "linear"  # a new linear layer (the protocol), or "mlp": features -> 128 -> 2
    # "imagenet": torchvision's weights (WeightsUnavailableError when absent); "source": a
    # backbone trained by this study on source_dataset ("" = task_dataset minus task_classes)
    pretrained: str = "imagenet"
    source_dataset: str = ""
    source_train_size: int = 0
    source_epochs: int = 10
    transfer_lr: float = 1e-3  # Adam, every trained variant and the source backbone
    transfer_batch_size: int = 32
    scratch_epochs: int = 10  # not stated by the original; our choice
    head_epochs: int = 3  # the Kaggle recipe
    svm_c: float = 1.0
    shear: float = 10.0  # augmentation: shear (degrees), zoom range, horizontal flip
    zoom: tuple[float, ...] = (0.8, 1.2)
    precision: str = "float32"  # every training, every device; "bf16"/"auto" on request
    seed: int = 0
    seeds: int = not_hashed(3)  # each baseline under seed, seed + 1, ... (the original: one)
    transfer_seeds: int = not_hashed(5)  # transfer runs under seed, seed + 1, ...
    as_run: bool = not_hashed(False)  # True: every AS_RUN value below (profiles.load)

    AS_RUN: ClassVar[dict[str, Any]] = dict(alexnet_dropout2=0.0)
    """The report's code as it produced its numbers (docs/04_baselines_transfer.md)."""

    PROFILES: ClassVar[dict[str, dict[str, Any]]] = {
        "smoke": dict(dataset="digits", simple_width=0.25, simple_epochs=3,
                      alexnet_dataset="digits", alexnet_width=0.125, alexnet_epochs=3,
                      batch_size=32, tsne_points=150, tsne_iterations=500, task_dataset="digits",
                      task_classes=(3, 8),
                      task_train_size=100, task_val_size=60, image_size=32,
                      backbone_width=0.125, pretrained="source", source_epochs=2,
                      scratch_epochs=2, head_epochs=2, seeds=2, transfer_seeds=2),
        "quick": dict(dataset="fashion_mnist", simple_epochs=10, alexnet_dataset="fashion_mnist",
                      alexnet_epochs=3, alexnet_train_size=20_000, tsne_points=2000,
                      task_dataset="fashion_mnist", task_classes=(0, 6), image_size=64,
                      backbone_width=0.125, pretrained="source", source_train_size=16_000,
                      source_epochs=5, seeds=2),
        "paper": dict(),
    }

    def __post_init__(self) -> None:
        check_settings(self)  # every field's range and relations (checks.py)


# --------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class BaselineRun:
    """One baseline model trained and inspected on one data set (names its store run)."""
    PROTOCOL: ClassVar[int] = 2  # bump when a run would compute other numbers (store checks)

    model: str
    dataset: str
    width: float
    epochs: int
    optimizer: str
    lr: float
    batch_size: int
    train_size: int
    tsne_points: int
    perplexity: float
    tsne_iterations: int
    seed: int
    precision: str = "auto"  # the study passes its own (float32 unless asked)
    dropout2: float = 0.5  # the reduced AlexNet's second dropout (SimpleCNN: unused, 0.5)

    def recipe(self) -> Recipe:
        """SimpleCNN: SGD with Nesterov momentum 0.9; AlexNet: Adam (the original's)."""
        return Recipe(self.optimizer, self.lr, nesterov=self.optimizer == "sgd",
                      epochs=self.epochs, batch_size=self.batch_size, precision=self.precision)


def baseline_runs(cfg: BaselinesTransferSettings) -> list[BaselineRun]:
    """SimpleCNN (SGD, Nesterov) and, unless `alexnet_dataset` is "", the reduced AlexNet
    (Adam), each under `seeds` seeds (seed, seed + 1, ...): seed by seed, models within."""
    runs = []
    for seed in range(cfg.seed, cfg.seed + cfg.seeds):
        common = dict(batch_size=cfg.batch_size, tsne_points=cfg.tsne_points,
                      perplexity=cfg.perplexity, tsne_iterations=cfg.tsne_iterations, seed=seed,
                      precision=cfg.precision)
        runs.append(BaselineRun("simple_cnn", cfg.dataset, cfg.simple_width, cfg.simple_epochs,
                                "sgd", cfg.simple_lr, train_size=cfg.simple_train_size, **common))
        if cfg.alexnet_dataset:
            runs.append(BaselineRun("reduced_alexnet", cfg.alexnet_dataset, cfg.alexnet_width,
                                    cfg.alexnet_epochs, "adam", cfg.alexnet_lr,
                                    train_size=cfg.alexnet_train_size,
                                    dropout2=cfg.alexnet_dropout2, **common))
    return runs


@dataclass(frozen=True)
class SourceRun:
    """The fallback "pretrained" backbone, trained on the source task (names its store run)."""

    backbone: str
    width: float
    dataset: str
    exclude: tuple[int, ...]  # the target task's classes, left out of pretraining
    image_size: int
    train_size: int
    epochs: int
    lr: float
    batch_size: int
    seed: int
    precision: str = "auto"  # the study passes its own (float32 unless asked)
    PROTOCOL: ClassVar[int] = 2  # bump when a run would compute other numbers (store checks)

    def recipe(self) -> Recipe:
        """Adam at the transfer lr, with 4x the transfer batch (set by `source_run`)."""
        return Recipe("adam", self.lr, epochs=self.epochs, batch_size=self.batch_size,
                      precision=self.precision)


@dataclass(frozen=True)
class TransferRun:
    """The four transfer variants under one seed (names its store run)."""
    # 3: with a linear head, the frozen-backbone variants share one t-SNE (same features)
    # 4: each run also stores whether each validation image was right (`correct`)
    PROTOCOL: ClassVar[int] = 4  # bump when a run would compute other numbers (store checks)

    folder: str
    dataset: str
    classes: tuple[int, ...]
    train_size: int
    val_size: int
    image_size: int
    backbone: str
    width: float
    pretrained: str  # "imagenet" or the store name of the SourceRun
    perplexity: float
    tsne_iterations: int
    task_seed: int  # which images make the task (the same for every seed)
    seed: int
    # how the variants train (`plan()`: variants.TransferPlan)
    head: str
    lr: float
    batch_size: int
    scratch_epochs: int
    head_epochs: int
    svm_c: float
    shear: float
    zoom: tuple[float, ...]
    precision: str = "auto"  # the study passes its own (float32 unless asked)

    def plan(self) -> TransferPlan:
        """The variants' recipes (Adam at `lr`, `batch_size`) and their other options."""
        return TransferPlan.adam(self.lr, self.batch_size, self.scratch_epochs, self.head_epochs,
                                 precision=self.precision, head=self.head, svm_c=self.svm_c,
                                 shear=self.shear, zoom=tuple(self.zoom))


def source_run(cfg: BaselinesTransferSettings) -> SourceRun | None:
    """The fallback backbone's run, or None when the study uses ImageNet weights."""
    if cfg.pretrained == "imagenet":
        return None
    if cfg.pretrained != "source":
        raise ValueError(f"pretrained must be 'imagenet' or 'source', got {cfg.pretrained!r}")
    dataset = cfg.source_dataset or cfg.task_dataset
    if cfg.folder and not cfg.source_dataset:
        raise ValueError("pretrained='source' with an image folder needs source_dataset= (the "
                         "data set to pretrain the backbone on)")
    exclude = tuple(cfg.task_classes) if dataset == cfg.task_dataset and not cfg.folder else ()
    return SourceRun(cfg.backbone, cfg.backbone_width, dataset, exclude, cfg.image_size,
                     cfg.source_train_size, cfg.source_epochs, cfg.transfer_lr,
                     4 * cfg.transfer_batch_size, cfg.seed, cfg.precision)


def transfer_runs(cfg: BaselinesTransferSettings) -> list[TransferRun]:
    """One run per seed (`transfer_seeds` of them); the task's images are the same in each."""
    from initlab import store

    source = source_run(cfg)
    pretrained = "imagenet" if source is None else store.run_name(source)
    options = dict(head=cfg.head, lr=cfg.transfer_lr, batch_size=cfg.transfer_batch_size,
                   scratch_epochs=cfg.scratch_epochs, head_epochs=cfg.head_epochs,
                   svm_c=cfg.svm_c, shear=cfg.shear, zoom=tuple(cfg.zoom),
                   precision=cfg.precision)
    return [TransferRun(cfg.folder, "" if cfg.folder else cfg.task_dataset,
                        () if cfg.folder else tuple(cfg.task_classes), cfg.task_train_size,
                        cfg.task_val_size, cfg.image_size, cfg.backbone, cfg.backbone_width,
                        pretrained, cfg.perplexity, cfg.tsne_iterations, cfg.seed, cfg.seed + i,
                        **options)
            for i in range(cfg.transfer_seeds)]
