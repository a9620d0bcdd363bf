"""Study 03's settings checks: every field's range and its relations to the others, when the
settings are built (`AgopNfmSettings.__post_init__`), so a value no run can use fails in one
line naming the field before any source is trained or any notebook starts (issue 23).

Sizes are checked against the data sets' published shapes (`catalog`), so nothing is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from initlab import catalog
from initlab.inits import check_methods, check_options
from initlab.inits.names import KAIMING_SCALES, PD_SHIFTS
from initlab.models.vgg_configs import CONFIGS
from initlab.settings import check_bools, check_choices, check_range
from initlab.training.recipe import PRECISIONS

KNOWN = tuple(catalog.SHAPES)  # data sets with a published shape (sizes checked up front)
SPLITS = ("train", "test")
NORMALIZATIONS = ("source", "target")
BIASES = ("kept", "dropped")
IMAGENET_CLASSES = 1000
MAX_EPOCHS, MAX_RUNS, MAX_CLASSES = 1000, 1000, 100_000
MIN_IMAGE, MAX_IMAGE = 32, 512  # VGG's five 2x2 pools need 32; 224 is the paper's


def check_settings(cfg: Any, allowed_inits: Sequence[str]) -> None:
    """Every field of an `AgopNfmSettings`, then the relations between them."""
    _check_names(cfg, allowed_inits)
    _check_numbers(cfg)
    _check_source(cfg)
    _check_sizes(cfg)


def _check_names(cfg: Any, allowed_inits: Sequence[str]) -> None:
    if not cfg.datasets or len(set(cfg.datasets)) != len(cfg.datasets):
        raise ValueError(f"datasets must name each data set once, got {cfg.datasets!r}")
    check_choices("datasets", cfg.datasets, KNOWN)
    if not cfg.inits or len(set(cfg.inits)) != len(cfg.inits):
        raise ValueError(f"inits must name each init once, got {cfg.inits!r}")
    check_methods(cfg.inits, allowed=allowed_inits)
    check_options(cfg.init_options, cfg.inits)
    fixed = [name for name in cfg.init_options.as_dict() if name in allowed_inits]
    if fixed:  # the study's own inits run as the study defines them: an option would be lost
        raise ValueError(f"init_options: the study's own init(s) {', '.join(fixed)} take no "
                         "options (their settings fix them); options are for other inits")
    check_choices("model", cfg.model, tuple(CONFIGS))
    check_choices("pretrained_split", cfg.pretrained_split, SPLITS)
    check_choices("agop_fresh_head", cfg.agop_fresh_head, KNOWN)
    check_choices("agop_normalization", cfg.agop_normalization, NORMALIZATIONS)
    check_choices("agop_bias", cfg.agop_bias, BIASES)
    check_choices("kaiming_scale", cfg.kaiming_scale, KAIMING_SCALES)
    check_choices("pd_shift", cfg.pd_shift, PD_SHIFTS)
    check_choices("precision", cfg.precision, PRECISIONS)
    check_bools(cfg, "as_run")


def _check_numbers(cfg: Any) -> None:
    check_range(cfg, "width", high=4.0, above=0.0)
    check_range(cfg, "image_size", MIN_IMAGE, MAX_IMAGE)
    for name in ("epochs", "source_epochs"):
        check_range(cfg, name, 1, MAX_EPOCHS)
    check_range(cfg, "lr_every", 0, MAX_EPOCHS)  # beyond `epochs`: no step (`-p epochs 1`)
    check_range(cfg, "lr_factor", high=1.0, above=0.0)
    for name in ("lr", "source_lr"):
        check_range(cfg, name, high=10.0, above=0.0)
    check_range(cfg, "momentum", 0.0, 0.999)
    check_range(cfg, "weight_decay", 0.0, 1.0)
    check_range(cfg, "linear_std", high=10.0, above=0.0)
    if not 0 < cfg.val_fraction < 1:  # also false for nan
        raise ValueError(f"val_fraction must lie in (0, 1), got {cfg.val_fraction!r}")
    check_range(cfg, "runs", 1, MAX_RUNS)
    check_range(cfg, "seed", 0)
    check_range(cfg, "source_seed", 0)


def source_classes(cfg: Any) -> int | None:
    """The source head's class count: ImageNet's 1000, a data set's, None for a file."""
    if cfg.pretrained == "imagenet":
        return IMAGENET_CLASSES
    return catalog.shape(cfg.pretrained).classes if cfg.pretrained in KNOWN else None


def _check_source(cfg: Any) -> None:
    """`pretrained` names something a source can come from; an ImageNet source needs the
    full-width VGG, and a source trained here must not see the target's training images."""
    if cfg.pretrained == "imagenet":
        if cfg.width != 1.0:
            raise ValueError(f"width: torchvision's ImageNet VGG weights (pretrained=imagenet) "
                             f"need width 1, got {cfg.width!r}")
    elif cfg.pretrained not in KNOWN and not Path(cfg.pretrained).expanduser().is_file():
        raise ValueError(f"pretrained: {cfg.pretrained!r} is neither 'imagenet', a data set "
                         f"({', '.join(KNOWN)}) nor a state-dict file that exists")
    for dataset in cfg.datasets:
        if cfg.pretrained == dataset and cfg.pretrained_split == "train":
            raise ValueError(f"pretrained: the source must not be trained on the target's "
                             f"training images: pretrained={dataset!r}; choose another data "
                             "set (or, for a smoke test, pretrained_split='test')")


def _check_sizes(cfg: Any) -> None:
    """Counts against what the data sets and the heads allow."""
    available = min(catalog.shape(d).train for d in cfg.datasets)
    check_range(cfg, "train_size", 0, available)
    images = cfg.train_size or available
    fold = images - round(cfg.val_fraction * images)
    if fold < 1 or fold == images:
        raise ValueError(f"val_fraction: {cfg.val_fraction!r} of {images} images leaves an "
                         f"empty training or validation fold")
    check_range(cfg, "batch_size", 1, fold)
    check_range(cfg, "agop_images", 1, fold)  # drawn from a run's training fold
    classes = max(catalog.shape(d).classes for d in cfg.datasets)
    if cfg.head_classes and not classes <= cfg.head_classes <= MAX_CLASSES:
        raise ValueError(f"head_classes must be 0 (the data set's classes) or from {classes} "
                         f"(the most classes of {', '.join(cfg.datasets)}) to {MAX_CLASSES}, "
                         f"got {cfg.head_classes!r}")
    check_range(cfg, "head_classes", 0, MAX_CLASSES)
    check_range(cfg, "agop_classes", 0, MAX_CLASSES)
    for dataset in cfg.datasets:
        head = (catalog.shape(dataset).classes if dataset in cfg.agop_fresh_head
                else source_classes(cfg))
        if head is not None and cfg.agop_classes > head:
            raise ValueError(f"agop_classes: {cfg.agop_classes} logits asked for, but the head "
                             f"the AGOP of {dataset} goes through has {head}")
