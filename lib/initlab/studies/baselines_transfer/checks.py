"""Study 04's settings checks (issue 23): every field's range and its relations to the others,
checked when the settings are built, so a bad value fails in one line naming the field before
any kernel starts. Counts are checked against the data sets' published sizes
(`initlab.catalog`), class indices against their class counts, the folder against the disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from initlab import catalog
from initlab.settings import check_choices, check_range
from initlab.training.recipe import PRECISIONS

KNOWN = tuple(catalog.SHAPES)  # data sets with published sizes (image folders have none)
MAX_EPOCHS = 1000
MAX_SEEDS = 1000
MAX_WIDTH = 16.0
VALIDATION_FOLDERS = ("validation", "test", "valid", "val")  # what `data.load` accepts


def check_settings(cfg: Any) -> None:
    """All of study 04's checks, the folder first (a wrong path names the path)."""
    _check_folder(cfg)
    _check_names(cfg)
    _check_numbers(cfg)
    _check_baseline_sizes(cfg)
    if not cfg.folder:
        _check_task(cfg)
    _check_tsne(cfg)


def _check_folder(cfg: Any) -> None:
    if not cfg.folder:
        return
    root = Path(cfg.folder).expanduser()
    if not root.is_dir():
        raise ValueError(f"folder: no such directory {cfg.folder!r} (expected train/<class>/"
                         "<image> and validation/<class>/<image> under it)")
    if not (root / "train").is_dir() or not any((root / d).is_dir() for d in VALIDATION_FOLDERS):
        raise ValueError(f"folder: {cfg.folder!r} needs a train/ and a validation/ (or test/, "
                         "valid/, val/) subfolder, one folder per class in each")
    if cfg.pretrained == "source" and not cfg.source_dataset:
        raise ValueError("source_dataset: pretrained='source' with an image folder needs the data "
                         "set to pretrain the backbone on (-p source_dataset <name>)")


def _check_names(cfg: Any) -> None:
    check_choices("dataset", cfg.dataset, KNOWN)
    check_choices("task_dataset", cfg.task_dataset, KNOWN)
    for name in ("alexnet_dataset", "source_dataset"):  # "" = skip / the default
        if getattr(cfg, name):
            check_choices(name, getattr(cfg, name), KNOWN)
    if cfg.alexnet_dataset and catalog.shape(cfg.alexnet_dataset).size > 32:
        raise ValueError(f"alexnet_dataset: {cfg.alexnet_dataset} has "
                         f"{catalog.shape(cfg.alexnet_dataset).size}x"
                         f"{catalog.shape(cfg.alexnet_dataset).size} images; the reduced AlexNet "
                         "takes 32x32 (smaller sets are zero-padded)")
    check_choices("backbone", cfg.backbone, ("resnet18", "resnet50"))
    check_choices("head", cfg.head, ("linear", "mlp"))
    check_choices("pretrained", cfg.pretrained, ("imagenet", "source"))
    check_choices("precision", cfg.precision, PRECISIONS)


def _check_numbers(cfg: Any) -> None:
    for name in ("simple_width", "alexnet_width", "backbone_width"):
        check_range(cfg, name, high=MAX_WIDTH, above=0.0)
    if cfg.backbone == "resnet50" and cfg.backbone_width != 1.0:
        raise ValueError(f"backbone_width: resnet50 comes at width 1 only, got "
                         f"{cfg.backbone_width}")
    for name in ("simple_epochs", "alexnet_epochs", "source_epochs", "scratch_epochs",
                 "head_epochs"):
        check_range(cfg, name, 1, MAX_EPOCHS)
    for name in ("simple_lr", "alexnet_lr", "transfer_lr"):
        check_range(cfg, name, high=10.0, above=0.0)
    check_range(cfg, "alexnet_dropout2", 0.0, 1.0)
    if cfg.alexnet_dropout2 == 1.0:
        raise ValueError("alexnet_dropout2 must be below 1 (p = 1 drops every unit), got 1.0")
    check_range(cfg, "svm_c", high=1e6, above=0.0)
    check_range(cfg, "shear", 0.0, 89.0)
    if len(cfg.zoom) != 2:
        raise ValueError(f"zoom must be (low, high), got {cfg.zoom}")
    check_range(cfg, "zoom", high=10.0, above=0.0)
    if cfg.zoom[0] > cfg.zoom[1]:
        raise ValueError(f"zoom must be (low, high) with low <= high, got {cfg.zoom}")
    check_range(cfg, "seed", 0)
    check_range(cfg, "seeds", 1, MAX_SEEDS)
    check_range(cfg, "transfer_seeds", 1, MAX_SEEDS)
    check_range(cfg, "image_size", 8, 1024)
    check_range(cfg, "transfer_batch_size", 1, 100_000)  # and within the task: _check_task


def _check_baseline_sizes(cfg: Any) -> None:
    """Training subsets within the training splits, a batch no larger than the smallest."""
    sizes = []
    for name, dataset in (("simple_train_size", cfg.dataset),
                          ("alexnet_train_size", cfg.alexnet_dataset)):
        if dataset:
            available = catalog.shape(dataset).train
            check_range(cfg, name, 0, available)
            sizes.append(getattr(cfg, name) or available)
    check_range(cfg, "batch_size", 1, min(sizes))
    source = cfg.source_dataset or cfg.task_dataset
    check_range(cfg, "source_train_size", 0, catalog.shape(source).train)


def _check_task(cfg: Any) -> None:
    """The two-class task built from `task_dataset`: its classes exist, each class holds the
    images a balanced sample asks of it, the transfer batch fits the training images."""
    shape = catalog.shape(cfg.task_dataset)
    classes = cfg.task_classes
    if len(set(classes)) < 2 or len(set(classes)) != len(classes):
        raise ValueError(f"task_classes must be 2 or more distinct labels, got {classes}")
    bad = [c for c in classes if not 0 <= c < shape.classes]
    if bad:
        raise ValueError(f"task_classes: {cfg.task_dataset} has classes 0..{shape.classes - 1}, "
                         f"got {bad[0]}")
    for name, split, fewest in (("task_train_size", "train", len(classes)),
                                ("task_val_size", "test", 5 * len(classes))):
        check_range(cfg, name, fewest, shape.per_class(split) * len(classes))
    check_range(cfg, "transfer_batch_size", 1, cfg.task_train_size)
    if cfg.pretrained == "source" and not cfg.source_dataset and shape.classes - len(classes) < 2:
        raise ValueError(f"task_classes: pretraining on {cfg.task_dataset} without the task's "
                         f"classes leaves {shape.classes - len(classes)} class(es); name "
                         "another source_dataset")


def _check_tsne(cfg: Any) -> None:
    """t-SNE needs 4 points or more (`features.tsne` caps the perplexity below a third of
    them), and the probe on an embedding 5 per class (5-fold cross-validation)."""
    check_range(cfg, "tsne_iterations", 250, 100_000)
    tests = [catalog.shape(d).test for d in (cfg.dataset, cfg.alexnet_dataset) if d]
    check_range(cfg, "tsne_points", 4, min(tests))
    check_range(cfg, "perplexity", high=1000.0, above=0.0)
