"""Study 05's settings checks: every field's range and its relations to the other fields,
run by the settings' `__post_init__`, so that `profiles.load` (which the CLI calls before any
notebook starts) rejects a bad value with one line naming the field, before any training.

Counts are checked against what the data sets hold (`initlab.catalog`, so no files are
needed): a subsample cannot exceed the training set, the features cannot be taken on more
test images than there are. Upper bounds on sizes (epochs, width, seeds, ...) are generous
sanity limits: beyond them a run would take days or exhaust memory, and a typo is likelier.
"""

from __future__ import annotations

from typing import Any

from initlab import catalog
from initlab.inits import InitSpec
from initlab.settings import check_bools, check_choices, check_range
from initlab.training.recipe import PRECISIONS

ARCHS = ("lenet5", "resnet18", "vgg19")
# 28x28 and 32x32 sets are padded to 32x32 (tiny_imagenet's 64x64 and an image folder's
# unknown size are not); the catalog knows their sizes without the files
DATASETS = tuple(n for n, s in catalog.SHAPES.items() if s.size <= 32)
OPTIMIZERS = ("sgd", "adam")
PERTURBATIONS = ("none", "sign_flip", "distortion")
VGG_HEADS = ("torchvision", "small", "torchvision_1000")
CONV_BIASES = ("as_built", "zero")
CORRELATIONS = ("pearson", "biased_covariance")
STEMS = ("imagenet", "cifar")
PRETRAINED = ("imagenet", "checkpoint")
MAX_EPOCHS = 1000
MAX_SEED = 10**9  # a replicate adds its index; derive_seed hashes the rest


def check_settings(s: Any) -> None:
    """All checks of a `ParameterDynamicsSettings` (the inits' names and options excepted:
    the settings class checks those against the init registry itself)."""
    _check_choices(s)
    _check_numbers(s)
    _check_counts(s)
    _check_relations(s)


def _check_choices(s: Any) -> None:
    for name, choices in (("archs", ARCHS), ("datasets", DATASETS), ("optimizers", OPTIMIZERS),
                          ("perturbations", PERTURBATIONS)):
        _nonempty_distinct(name, getattr(s, name), allow_empty=name == "perturbations")
        check_choices(name, getattr(s, name), choices)
    _nonempty_distinct("inits", s.inits)
    _nonempty_distinct("perturb_inits", s.perturb_inits, allow_empty=True)
    check_choices("perturb_inits", s.perturb_inits, s.inits)
    if s.pretrain_source:
        check_choices("pretrain_source", s.pretrain_source, DATASETS)
    check_choices("pretrain_optimizer", s.pretrain_optimizer, OPTIMIZERS)
    check_choices("vgg_head", s.vgg_head, VGG_HEADS)
    check_choices("resnet_stem", s.resnet_stem, STEMS)
    check_choices("conv_bias", s.conv_bias, CONV_BIASES)
    check_choices("correlation", s.correlation, CORRELATIONS)
    check_choices("precision", s.precision, PRECISIONS)
    check_choices("pretrained", s.pretrained, PRETRAINED)
    check_bools(s, "normalize", "as_run")
    if s.init_spec is not None and not isinstance(s.init_spec, InitSpec):
        raise ValueError(f"init_spec is set per grid cell by the study; got {s.init_spec!r}")


def _check_numbers(s: Any) -> None:
    check_range(s, "width", high=4.0, above=0.0)  # 4: VGG19 would hold 2.3 billion weights
    check_range(s, "lr_sgd", high=10.0, above=0.0)
    check_range(s, "lr_adam", high=10.0, above=0.0)
    check_range(s, "momentum", low=0.0, high=0.999)  # 1 or more: the velocity never decays
    check_range(s, "adam_eps", high=1.0, above=0.0)
    check_range(s, "vgg_adam_eps", high=1.0, above=0.0)
    check_range(s, "distortion", high=1.0, above=0.0)  # the original: +1e-6
    check_range(s, "tolerance", high=1.0, above=0.0)
    if not s.tolerance_sweep:
        raise ValueError("tolerance_sweep must name at least one tolerance, got ()")
    check_range(s, "tolerance_sweep", high=1.0, above=0.0)
    check_range(s, "epochs", low=1, high=MAX_EPOCHS)
    check_range(s, "retrain_epochs", low=1, high=MAX_EPOCHS)
    check_range(s, "pretrain_epochs", low=1, high=MAX_EPOCHS)
    check_range(s, "batch_size", low=1, high=65_536)
    check_range(s, "seed", low=0, high=MAX_SEED)
    check_range(s, "seeds", low=1, high=100)
    check_range(s, "histogram_bins", low=1, high=10_000)
    check_range(s, "train_size", low=0)
    check_range(s, "test_size", low=0)
    check_range(s, "feature_samples", low=2)  # a correlation needs two images


def _check_counts(s: Any) -> None:
    """Sizes against what the grid's data sets hold (the smallest of them; a pretrained
    checkpoint's source set trains on at most `train_size` of its images, all if fewer)."""
    train = min(catalog.shape(d).train for d in s.datasets)
    test = min(catalog.shape(d).test for d in s.datasets)
    if s.train_size > train:
        raise ValueError(f"train_size must be at most {train} (the smallest training set of "
                         f"{', '.join(s.datasets)}); 0 = all; got {s.train_size}")
    if s.test_size > test:
        raise ValueError(f"test_size must be at most {test} (the smallest test set of "
                         f"{', '.join(s.datasets)}); 0 = all; got {s.test_size}")
    shown = s.test_size or test
    if s.feature_samples > shown:
        raise ValueError(f"feature_samples must be at most {shown}, the test images a run "
                         f"has (test_size or the smallest test set); got {s.feature_samples}")
    images = s.train_size or train
    if s.batch_size > images:
        raise ValueError(f"batch_size must be at most {images}, the training images a run "
                         f"has; got {s.batch_size}")


def _check_relations(s: Any) -> None:
    snaps = s.snapshot_epochs
    if (0 not in snaps or s.epochs not in snaps or any(e < 0 or e > s.epochs for e in snaps)
            or len(set(snaps)) != len(snaps)):
        raise ValueError(f"snapshot_epochs {snaps} must include 0 and epochs={s.epochs}, stay "
                         "within them and name each epoch once")
    if "pretrained" in s.inits and not s.pretrain_source and len(s.datasets) < 2:
        raise ValueError("pretrain_source: the pretrained init needs another data set: add "
                         "one to `datasets` or name it with `pretrain_source`")


def _nonempty_distinct(name: str, values: tuple, allow_empty: bool = False) -> None:
    if not values and not allow_empty:
        raise ValueError(f"{name} must name at least one value, got ()")
    if len(set(values)) != len(values):
        raise ValueError(f"{name} names a value twice: {', '.join(map(str, values))}")
