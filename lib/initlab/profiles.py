"""Every study's settings: one frozen dataclass per study, with its three profiles.

The dataclass defaults are the original protocol (`paper`); `smoke` and `quick` list only
what they change. A run is named by the hash of the settings that differ from the defaults
(see `store.run_name`); fields marked `metadata={"hash": False}` (how many iterations, say)
do not name a run, so asking for more iterations reuses the ones already stored.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar

PROFILES = ("smoke", "quick", "paper")
NOISES = ("perspective", "blur", "gaussian", "erasing", "elastic", "rotation")


def not_hashed(default: Any) -> Any:
    return field(default=default, metadata={"hash": False})


@dataclass(frozen=True)
class WarmStartSettings:
    """Study 01: warm start from similar filters (STUDIES.md section 01)."""

    dataset: str = "mnist"
    noises: tuple[str, ...] = NOISES  # one disjoint noisy subset, and one model, per noise
    subset_size: int = 10_000
    train_size: int = 0  # 0 = the whole training set for the warm-started runs
    epochs: int = 1
    batch_size: int = 64
    lr: float = 1e-3
    metrics: tuple[str, ...] = ("cosine", "pearson", "frobenius")
    shrink: float = 0.4  # shrink-and-perturb baseline (Ash and Adams, 2020)
    perturb: float = 0.1
    seed: int = 0  # an iteration's seed is seed + iteration index
    iterations: int = not_hashed(10)

    PROFILES: ClassVar[dict[str, dict[str, Any]]] = {
        "smoke": dict(dataset="digits", subset_size=230, epochs=3, iterations=2),
        "quick": dict(iterations=3),
        "paper": dict(),
    }

    def __post_init__(self) -> None:
        check_choices("noises", self.noises, NOISES)
        check_choices("metrics", self.metrics, ("cosine", "pearson", "frobenius"))
        check_positive(self, "subset_size", "epochs", "batch_size", "lr", "iterations")


AGOP_NFM_INITS = ("normal", "uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal",
                  "agop", "nfm", "kaiming_agop", "kaiming_nfm")


@dataclass(frozen=True)
class AgopNfmSettings:
    """Study 03: NFM and AGOP initialization of VGG11 (STUDIES.md section 03).

    One run is one (data set, init, seed); `datasets` and `inits` list what the notebook runs.
    The source network is `pretrained`: "imagenet" (torchvision's weights), the name of
    another data set to train a source VGG on here, or the path of a state-dict file.
    """

    datasets: tuple[str, ...] = ("svhn", "cifar10", "cifar100", "tiny_imagenet")
    inits: tuple[str, ...] = AGOP_NFM_INITS
    model: str = "vgg11"
    width: float = 1.0
    image_size: int = 224  # the paper resized to 224 (upsampled on the device); 28 -> 32: padded
    train_size: int = 0  # 0 = the whole training set, else a seeded subsample before the split
    val_fraction: float = 0.2  # the paper's 80/20 train/validation split of the training set
    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3  # SGD, momentum 0.9, weight decay 5e-4: the paper's VGG recipe
    momentum: float = 0.9
    weight_decay: float = 5e-4
    # VGG's linear layers N(0, 0.01^2), biases 0. At 224x224 and width 1 the head's gain is
    # 0.01 * sqrt(fan_in) = 1.6, 0.64, 0.64; a narrow 32x32 head (fan_in 64) needs 0.1 for
    # the same gain, else no init learns in a few epochs (quick, smoke)
    linear_std: float = 0.01
    pretrained: str = "imagenet"
    pretrained_split: str = "train"  # "test": a source trained on another split (smoke only)
    source_epochs: int = 20  # a source trained here (pretrained = a data set name): Adam
    source_lr: float = 1e-3
    agop_images: int = 64  # target training images through the source for the AGOP
    agop_classes: int = 0  # the first N logits of the source head; 0 = every class
    source_seed: int = 0  # one source network (and its matrices) shared by every run
    seed: int = 0  # run r uses seed + r (split, batches, init draw)
    runs: int = not_hashed(3)

    PROFILES: ClassVar[dict[str, dict[str, Any]]] = {
        "smoke": dict(datasets=("digits",), inits=("kaiming_normal", "nfm", "kaiming_agop"),
                      width=0.0625, image_size=32, epochs=2, linear_std=0.1, pretrained="digits",
                      pretrained_split="test", source_epochs=6, agop_images=16, train_size=600,
                      runs=1),
        "quick": dict(datasets=("fashion_mnist",), width=0.125, image_size=32, train_size=8_000,
                      epochs=4, linear_std=0.1, pretrained="digits", runs=2),
        "paper": dict(),
    }

    def __post_init__(self) -> None:
        from initlab.data import DATASETS

        check_choices("datasets", self.datasets, DATASETS)
        check_choices("inits", self.inits, AGOP_NFM_INITS)
        check_positive(self, "width", "image_size", "epochs", "batch_size", "lr", "linear_std",
                       "source_epochs", "source_lr", "agop_images", "runs")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction must lie in (0, 1), got {self.val_fraction}")


@dataclass(frozen=True)
class ClusteredInitSettings:
    """Study 02: clustered filter initialization of ResNet-18 (STUDIES.md section 02).

    The fields describe the whole design; each training run (a source model, or one target
    task under one seed and one init) is its own store run, named by its own settings
    (`studies.clustered_init.SourceRun` / `TargetRun`), so trimming a sweep list reuses runs.
    """

    dataset: str = "cifar100"  # cifar100: superclass pairs; digits/mnist/fashion_mnist: 0-4 | 5-9
    width: float = 1.0
    stem: str = "imagenet"  # torchvision's 7x7 stride-2 stem + max-pool (even on 32x32) | cifar
    image_size: int = 0  # 0 = native; else resized once on load
    train_size: int = 0  # images per task, split evenly over its classes; 0 = all (5,000)
    test_size: int = 0  # 0 = all (1,000 per CIFAR-100 task); the test split is the validation
    augment: bool = True  # horizontal flip + rotation up to 15 degrees, batched on the device
    batch_size: int = 128
    lr: float = 0.01  # SGD, momentum 0.9, weight decay 1e-4; lr x factor every lr_every epochs
    momentum: float = 0.9
    weight_decay: float = 1e-4
    lr_every: int = 6
    source_models: int = 45  # the first N source tasks of a seeded order get a model
    source_epochs: int = 25
    source_lr_factor: float = 0.5
    targets: int = 10  # target pairs drawn with a fixed seed
    runs: int = 5  # initializations (seeds) per target task
    target_epochs: int = 15
    target_lr_factor: float = 0.2
    distances: tuple[str, ...] = ("euclidean", "fourier_real", "fourier_abs")
    gabor_layers: tuple[int, ...] = (1, 2, 6, 10, 17)
    sweep_sources: tuple[int, ...] = (2, 4, 6, 10, 20)  # N, with K = clusters, L = layers
    sweep_clusters: tuple[int, ...] = (1, 2, 3, 10, 30, 50)  # K, with N = n_sources, L = layers
    sweep_layers: tuple[int, ...] = (1, 2, 6, 10, 17)  # L, with N = n_sources, K = clusters
    n_sources: int = 10
    clusters: int = 10
    layers: int = 17
    noise: float = 0.0  # extension: centre + noise * cluster spread * N(0, 1)
    rescale: str = "none"  # extension: "kaiming" rescales each drawn layer
    kmeans_sample: int = 0  # fit k-means on this many slices per layer (0 = all)
    align_sources: int = 6  # custom ResNet-18 source models for the aligned-mean init
    align_layers: tuple[int, ...] = (1, 2, 4)
    align_matchings: tuple[str, ...] = ("greedy", "optimal")
    tiny_imagenet: str = "on"  # on | if_available (skip with a reason) | off
    tiny_sources: int = 6  # clustered init on Tiny ImageNet: Fourier, N = 6, K = 3, L = 17
    tiny_clusters: int = 3
    tiny_distance: str = "fourier_real"
    tiny_train_size: int = 0  # 0 = all 100,000
    tiny_test_size: int = 0  # 0 = all 10,000 (the labelled val set)
    tiny_epochs: int = 15
    tiny_runs: int = 5
    seed: int = 0

    PROFILES: ClassVar[dict[str, dict[str, Any]]] = {
        "smoke": dict(dataset="digits", image_size=16, width=0.125, batch_size=32,
                      source_models=3, source_epochs=2, targets=2, runs=1, target_epochs=2,
                      distances=("euclidean", "fourier_abs"), gabor_layers=(1, 17),
                      sweep_sources=(2, 3), sweep_clusters=(1, 2), sweep_layers=(1, 17),
                      n_sources=3, clusters=2, align_sources=2, align_layers=(2,),
                      tiny_imagenet="if_available", tiny_sources=2,
                      tiny_train_size=2000, tiny_test_size=400, tiny_epochs=2, tiny_runs=1),
        "quick": dict(width=0.25, train_size=800, test_size=400, lr_every=2,
                      source_models=10, source_epochs=5, targets=3, runs=2, target_epochs=4,
                      gabor_layers=(1, 6, 17), sweep_sources=(2, 10), sweep_clusters=(1, 2, 10),
                      sweep_layers=(1, 17), n_sources=6, align_layers=(1, 4),
                      kmeans_sample=20_000, tiny_imagenet="if_available", tiny_train_size=20_000,
                      tiny_test_size=2000, tiny_epochs=4, tiny_runs=2),
        "paper": dict(),
    }


@dataclass(frozen=True)
class BaselinesTransferSettings:
    """Study 04: CNN baselines and transfer learning (STUDIES.md section 04)."""

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
    head: str = "mlp"  # features -> 128 -> 2 (the Kaggle recipe), or "linear"
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
    seed: int = 0
    transfer_seeds: int = not_hashed(5)  # transfer runs under seed, seed + 1, ...

    PROFILES: ClassVar[dict[str, dict[str, Any]]] = {
        "smoke": dict(dataset="digits", simple_width=0.25, simple_epochs=3,
                      alexnet_dataset="digits", alexnet_width=0.125, alexnet_epochs=3,
                      batch_size=32, tsne_points=150, tsne_iterations=500, task_dataset="digits",
                      task_classes=(3, 8),
                      task_train_size=100, task_val_size=60, image_size=32,
                      backbone_width=0.125, pretrained="source", source_epochs=2,
                      scratch_epochs=2, head_epochs=2, transfer_seeds=2),
        "quick": dict(dataset="fashion_mnist", simple_epochs=10, alexnet_dataset="fashion_mnist",
                      alexnet_epochs=3, alexnet_train_size=20_000, tsne_points=2000,
                      task_dataset="fashion_mnist", task_classes=(0, 6), image_size=64,
                      backbone_width=0.125, pretrained="source", source_train_size=16_000,
                      source_epochs=5),
        "paper": dict(),
    }

    def __post_init__(self) -> None:
        from initlab.data import DATASETS

        check_choices("dataset", self.dataset, DATASETS)
        check_choices("task_dataset", self.task_dataset, DATASETS)
        for name in ("alexnet_dataset", "source_dataset"):  # "" = skip / the default
            if getattr(self, name):
                check_choices(name, getattr(self, name), DATASETS)
        check_choices("backbone", self.backbone, ("resnet18", "resnet50"))
        check_choices("head", self.head, ("linear", "mlp"))
        check_choices("pretrained", self.pretrained, ("imagenet", "source"))
        check_positive(self, "simple_width", "simple_epochs", "simple_lr", "alexnet_width",
                       "alexnet_epochs", "alexnet_lr", "batch_size", "perplexity", "image_size",
                       "task_train_size", "task_val_size", "backbone_width", "source_epochs",
                       "transfer_lr", "transfer_batch_size", "scratch_epochs", "head_epochs",
                       "svm_c", "transfer_seeds")
        if self.tsne_iterations < 250:
            raise ValueError(f"tsne_iterations must be >= 250, got {self.tsne_iterations}")
        if len(set(self.task_classes)) < 2 or len(set(self.task_classes)) != len(self.task_classes):
            raise ValueError(f"task_classes must be 2 or more distinct labels, got "
                             f"{self.task_classes}")
        if len(self.zoom) != 2 or not 0 < self.zoom[0] <= self.zoom[1]:
            raise ValueError(f"zoom must be (low, high) with 0 < low <= high, got {self.zoom}")


@dataclass(frozen=True)
class ParameterDynamicsSettings:
    """Study 05: how far parameters move in training (STUDIES.md section 05).

    One run is one cell of the grid (arch x data set x init x optimizer) under one seed: a fresh
    model, trained with snapshots, then (for `perturb_inits`) perturbed and retrained. Change
    tolerances only enter the rendering (they are measured on the stored snapshots), so they
    do not name runs.
    """

    archs: tuple[str, ...] = ("lenet5", "resnet18", "vgg19")
    datasets: tuple[str, ...] = ("mnist", "fashion_mnist", "cifar10")  # 28x28 -> 32x32x3
    inits: tuple[str, ...] = ("kaiming_uniform", "kaiming_normal", "pretrained")
    optimizers: tuple[str, ...] = ("sgd", "adam")
    width: float = 1.0  # ResNet-18 and VGG19 only; LeNet-5 is always 62,006 parameters
    resnet_stem: str = "imagenet"  # torchvision's 7x7 stem + max-pool (ImageNet weights fit)
    vgg_image_size: int = 32  # 32: a 512-wide head (20M parameters); 224: torchvision's head
    epochs: int = 20
    snapshot_epochs: tuple[int, ...] = (0, 5, 10, 15, 20)
    batch_size: int = 128
    lr_sgd: float = 0.005
    momentum: float = 0.9
    lr_adam: float = 0.005
    adam_eps: float = 1e-8
    vgg_adam_eps: float = 0.1  # the original's VGG19 + Adam setting
    train_size: int = 0  # 0 = the whole training set; else a seeded subsample
    test_size: int = 0  # 0 = the whole test set; else a fixed subsample (the same for all runs)
    pretrained: str = "imagenet"  # imagenet: torchvision's weights where they fit and are
    # present, else a checkpoint; checkpoint: always a checkpoint trained here
    pretrain_source: str = ""  # "" = the next data set of `datasets` (cyclic)
    pretrain_epochs: int = 20
    pretrain_optimizer: str = "sgd"
    perturb_inits: tuple[str, ...] = ("kaiming_uniform",)  # cells whose trained model is perturbed
    perturbations: tuple[str, ...] = ("none", "sign_flip", "distortion")  # none = keep training
    distortion: float = 1e-6
    retrain_epochs: int = 20
    feature_samples: int = 10_000  # test images whose penultimate features are stored
    seed: int = 0  # a replicate's seed is seed + replicate index
    seeds: int = not_hashed(1)
    cpu_threads: int = not_hashed(0)  # on CPU: torch threads per run (0 = torch's default);
    # these small models train several times faster on 1 thread when other processes share
    # the cores (measured: smoke 5 s on 1 thread vs 48 s on 2, 2 cores under load)
    tolerance: float = not_hashed(1e-3)  # |change| above this counts as changed
    tolerance_sweep: tuple[float, ...] = not_hashed((1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1))
    histogram_bins: int = not_hashed(80)

    PROFILES: ClassVar[dict[str, dict[str, Any]]] = {
        "smoke": dict(archs=("lenet5", "resnet18"), datasets=("digits",),
                      inits=("kaiming_uniform", "pretrained"), width=0.125, epochs=2,
                      snapshot_epochs=(0, 1, 2), batch_size=64, train_size=128, test_size=128,
                      pretrained="checkpoint", pretrain_source="digits", pretrain_epochs=1,
                      perturbations=("sign_flip", "distortion"), retrain_epochs=1,
                      feature_samples=128, cpu_threads=1),
        "quick": dict(archs=("lenet5", "resnet18"), datasets=("fashion_mnist",), width=0.125,
                      epochs=5, snapshot_epochs=(0, 1, 2, 3, 4, 5), train_size=10_000,
                      pretrained="checkpoint", pretrain_source="digits", retrain_epochs=2,
                      feature_samples=2000, cpu_threads=1),
        "paper": dict(),
    }

    def __post_init__(self) -> None:
        from initlab.data import DATASETS

        check_choices("archs", self.archs, ("lenet5", "resnet18", "vgg19"))
        check_choices("datasets", self.datasets, DATASETS)
        if self.pretrain_source:
            check_choices("pretrain_source", self.pretrain_source, DATASETS)
        inits = ("kaiming_uniform", "kaiming_normal", "xavier_normal", "normal", "uniform",
                 "default", "pretrained")
        check_choices("inits", self.inits, inits)
        check_choices("perturb_inits", self.perturb_inits, inits)
        check_choices("optimizers", (*self.optimizers, self.pretrain_optimizer), ("sgd", "adam"))
        check_choices("perturbations", self.perturbations, ("none", "sign_flip", "distortion"))
        check_choices("pretrained", self.pretrained, ("imagenet", "checkpoint"))
        check_positive(self, "width", "epochs", "batch_size", "lr_sgd", "lr_adam", "adam_eps",
                       "vgg_adam_eps", "pretrain_epochs", "feature_samples", "seeds",
                       "histogram_bins")


STUDIES: dict[str, type] = {"01_warm_start": WarmStartSettings,
                            "02_clustered_init": ClusteredInitSettings,
                            "03_agop_nfm_init": AgopNfmSettings,
                            "04_baselines_transfer": BaselinesTransferSettings,
                            "05_parameter_dynamics": ParameterDynamicsSettings}


def settings_class(study: str) -> type:
    if study not in STUDIES:
        raise ValueError(f"unknown study {study!r}; choose one of {', '.join(STUDIES)}")
    return STUDIES[study]


def check_choices(name: str, values: Any, choices: tuple) -> None:
    """Each of `values` (one or a tuple) must be one of `choices`."""
    for value in values if isinstance(values, tuple) else (values,):
        if value not in choices:
            raise ValueError(f"{name}: unknown value {value!r}; choose from {', '.join(choices)}")


def check_positive(settings: Any, *names: str) -> None:
    for name in names:
        if getattr(settings, name) <= 0:
            raise ValueError(f"{name} must be positive, got {getattr(settings, name)!r}")


def _check_dataset(settings: Any) -> None:
    """Any `dataset`-like setting must name a data set the package can load."""
    from initlab.data import DATASETS

    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if f.name.endswith("dataset") and isinstance(value, str) and value:
            check_choices(f.name, value, DATASETS)


def load(study: str, profile: str = "smoke", **overrides: Any):
    """The settings of `study` under `profile`, with `overrides` checked and applied."""
    cls = settings_class(study)
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    values = {**cls.PROFILES[profile], **overrides}
    settings = cls(**check_overrides(cls, values))
    _check_dataset(settings)
    return settings


def check_overrides(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """Reject unknown names and coerce values to the field's type (CLI strings included)."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    checked = {}
    for key, value in values.items():
        if key not in names:
            raise ValueError(
                f"unknown parameter {key!r} for {cls.__name__}; valid names: {', '.join(names)}"
            )
        checked[key] = _coerce(key, value, hints[key])
    return checked


def _coerce(key: str, value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is tuple:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise TypeError(f"parameter {key!r} wants a list, got {value!r}")
        item_type = typing.get_args(hint)[0]
        return tuple(_coerce(key, item, item_type) for item in items)
    try:
        if hint is bool and isinstance(value, str):
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError(value)
            return value.lower() in ("true", "1")
        if hint is int and (isinstance(value, bool) or (isinstance(value, float) and value % 1)):
            raise ValueError(value)
        return hint(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"parameter {key!r} wants a {hint.__name__}, got {value!r}"
        ) from None


def describe(study: str) -> dict[str, dict[str, Any]]:
    """profile -> every setting's value, for `initlab list`."""
    return {p: dataclasses.asdict(load(study, p)) for p in PROFILES}
