"""Study settings: the dataclass (defaults = the original protocol, `paper`) and what `smoke`
and `quick` change. A run is named by its settings (see `store.run_name`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from initlab.inits import InitOptions, check_methods, check_options
from initlab.settings import not_hashed
from initlab.studies.clustered_init.checks import check_settings


@dataclass(frozen=True)
class ClusteredInitSettings:
    """Study 02: clustered filter initialization of ResNet-18 (docs/02_clustered_init.md).

    The fields describe the whole design; each training run (a source model, or one target
    task under one seed and one init) is its own store run, named by its own settings
    (`specs.SourceRun` / `specs.TargetRun`), so trimming a sweep list reuses runs.
    """

    dataset: str = "cifar100"  # cifar100: superclass pairs; digits/mnist/fashion_mnist: 0-4 | 5-9
    width: float = 1.0
    stem: str = "imagenet"  # torchvision's 7x7 stride-2 stem + max-pool (even on 32x32) | cifar
    image_size: int = 0  # 0 = native; else resized once on load
    train_size: int = 0  # images per task, split evenly over its classes; 0 = all (5,000)
    test_size: int = 0  # 0 = all (1,000 per CIFAR-100 task); the test split is the validation
    augment: bool = True  # horizontal flip + rotation up to 15 degrees, batched on the device
    batch_size: int = 128
    lr: float = 0.01  # SGD, momentum 0.9, weight decay 1e-4; lr x factor, see lr_schedule
    momentum: float = 0.9
    weight_decay: float = 1e-4
    lr_every: int = 6
    # plateau_max: the original's ReduceLROnPlateau(mode="max", patience=lr_every - 1) on the
    # training loss (drops after epochs 7, 13, ...) | step: after every lr_every epochs
    lr_schedule: str = "plateau_max"
    precision: str = "float32"  # float32 (as the original) | bf16 | auto (bf16 on CUDA)
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
    align_order: str = "groups"  # greedy matching walks the groups (the original) | filters
    align_mean: str = "unit"  # mean of unit-norm filters (the original) | raw weights
    gabor_grid: str = "centred"  # | original: the original's off-centre, stretched grid
    gabor_draw: str = "per_model"  # | shared: the original's same filters for every model
    tiny_imagenet: str = "on"  # on | if_available (skip with a reason) | off
    tiny_sources: int = 6  # clustered init on Tiny ImageNet: Fourier, N = 6, K = 3, L = 17
    tiny_clusters: int = 3
    tiny_distance: str = "fourier_real"
    tiny_train_size: int = 0  # 0 = all 100,000
    tiny_test_size: int = 0  # 0 = all 10,000 (the labelled val set)
    tiny_epochs: int = 15
    tiny_runs: int = 5
    # your own inits beside random/Gabor/clustered: registered names or "module:function",
    # each trained on every target task and seed (docs/your-initializer.md)
    inits: tuple[str, ...] = ()
    init_options: InitOptions = InitOptions()  # YAML: "{orthogonal: {gain: 1.4}}"
    seed: int = 0
    as_run: bool = not_hashed(False)  # True: every difference below as the original code ran

    # The original code's value of each setting where initlab's default differs or could
    # (docs/02_clustered_init.md, "Differences from the original code").
    AS_RUN: ClassVar[dict[str, Any]] = dict(
        lr_schedule="plateau_max", precision="float32", align_order="groups", align_mean="unit",
        gabor_grid="original", gabor_draw="shared", augment=False)

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

    def __post_init__(self) -> None:
        """Every field's range and its relations to the others (`checks.check_settings`),
        then the user's inits: names, their options."""
        check_settings(self)
        check_methods(self.inits)
        check_options(self.init_options, self.inits)
