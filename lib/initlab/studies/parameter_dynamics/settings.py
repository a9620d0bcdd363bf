"""Study settings: the dataclass (defaults = the original protocol, `paper`) and what `smoke`
and `quick` change. A run is named by its settings (see `store.run_name`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from initlab.inits import InitOptions, InitSpec, check_methods, check_options
from initlab.settings import not_hashed
from initlab.studies.parameter_dynamics.checks import check_settings
from initlab.training.recipe import Recipe

INITS = ("kaiming_uniform", "kaiming_normal", "xavier_normal", "normal", "uniform", "default",
         "pretrained")


@dataclass(frozen=True)
class ParameterDynamicsSettings:
    """Study 05: how far parameters move in training (docs/05_parameter_dynamics.md).

    One run is one cell of the grid (arch x data set x init x optimizer) under one seed: a fresh
    model, trained with snapshots, then (every init, or those of `perturb_inits`) perturbed and
    retrained. Replicates share seeds across inits and optimizers (same data subsample, batch
    order and model draw), so inits are compared paired by seed. Change tolerances only enter
    the rendering (they are measured on the stored snapshots), so they do not name runs.
    """
    PROTOCOL: ClassVar[int] = 4  # bump when a run would compute other numbers (store checks);
    # 4: raw [0, 1] inputs and LeNet-5's drawn conv biases by default, as the original ran

    archs: tuple[str, ...] = ("lenet5", "resnet18", "vgg19")
    datasets: tuple[str, ...] = ("mnist", "fashion_mnist", "cifar10")  # 28x28 -> 32x32x3
    inits: tuple[str, ...] = ("kaiming_uniform", "kaiming_normal", "pretrained")  # or your
    # own: registered names or "module:function", each another init of the grid
    init_options: InitOptions = InitOptions()  # YAML: "{orthogonal: {gain: 1.4}}"
    init_spec: InitSpec | None = None  # set per cell (runs.cells) for a user's init or options:
    # its options and source hash name the run, so an edited function retrains
    optimizers: tuple[str, ...] = ("sgd", "adam")
    width: float = 1.0  # ResNet-18 and VGG19 only; LeNet-5 is always 62,006 parameters
    resnet_stem: str = "imagenet"  # torchvision's 7x7 stem + max-pool (ImageNet weights fit)
    vgg_head: str = "torchvision"  # torchvision's VGG19 (4096-wide head, 139.6M parameters
    # with 10 classes: ImageNet weights fit) | small (512-wide head, 20.6M: a quick choice) |
    # torchvision_1000: ImageNet's 1000-way head trained on 10 classes (143,667,240), the
    # original's: its `model.fc = Linear(512, 10)` set an attribute torchvision's VGG never uses
    normalize: bool = False  # False: raw [0, 1] inputs, as the original's ToTensor fed them;
    # True: each data set's mean/std, as the other studies
    conv_bias: str = "as_built"  # as_built: the inits zero the linear biases only, as the
    # original's `initialize`; conv biases keep what the original's constructor gave them
    # (PyTorch's draw in LeNet-5; zero in torchvision's VGG19) | zero: every bias zeroed
    precision: str = "float32"  # float32 (the original's) | bf16 | auto (bf16 autocast on
    # CUDA, float32 elsewhere); retraining after a perturbation is float32 always
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
    perturb_inits: tuple[str, ...] = ()  # inits whose trained models are perturbed; () = every
    # init (the original perturbed all 54 trained models: 108 retrainings)
    perturbations: tuple[str, ...] = ("none", "sign_flip", "distortion")  # none = keep training
    distortion: float = 1e-6
    retrain_epochs: int = 20
    feature_samples: int = 10_000  # test images whose penultimate features are stored
    seed: int = 0  # a replicate's seed is seed + replicate index
    seeds: int = not_hashed(3)  # replicates (the original trained each cell once)
    tolerance: float = not_hashed(1e-3)  # |change| above this counts as changed
    tolerance_sweep: tuple[float, ...] = not_hashed((1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1))
    histogram_bins: int = not_hashed(80)
    correlation: str = not_hashed("pearson")  # feature correlations: pearson | biased_covariance
    # (the original's: a /N covariance over /(N-1) deviations, r (N-1)/N)
    as_run: bool = not_hashed(False)  # True: every difference below as the original code ran

    # The original's value of each setting where initlab's default differs or could
    # (docs/05_parameter_dynamics.md, "Differences from the original code").
    AS_RUN: ClassVar[dict[str, Any]] = dict(normalize=False, conv_bias="as_built",
                                            vgg_head="torchvision_1000",
                                            correlation="biased_covariance", precision="float32")

    PROFILES: ClassVar[dict[str, dict[str, Any]]] = {
        "smoke": dict(archs=("lenet5", "resnet18"), datasets=("digits",),
                      inits=("kaiming_uniform", "pretrained"), width=0.125, epochs=2,
                      snapshot_epochs=(0, 1, 2), batch_size=64, train_size=128, test_size=128,
                      pretrained="checkpoint", pretrain_source="digits", pretrain_epochs=1,
                      perturbations=("none", "sign_flip", "distortion"), retrain_epochs=1,
                      feature_samples=128, vgg_head="small", seeds=2),
        "quick": dict(archs=("lenet5", "resnet18"), datasets=("fashion_mnist",), width=0.125,
                      epochs=5, snapshot_epochs=(0, 1, 2, 3, 4, 5), train_size=10_000,
                      pretrained="checkpoint", pretrain_source="digits", retrain_epochs=1,
                      feature_samples=2000, vgg_head="small", seeds=2),
        "paper": dict(),
    }

    def __post_init__(self) -> None:
        """Every field's range and its relations to the others (`checks.check_settings`),
        then the inits: names, their options."""
        check_settings(self)
        check_methods(self.inits, allowed=INITS)
        check_options(self.init_options, self.inits)

    def recipe(self, arch: str, optimizer: str, epochs: int | None = None) -> Recipe:
        """How `arch` trains with `optimizer`: the original's SGD lr 0.005 momentum 0.9 or
        Adam lr 0.005, with eps 0.1 for VGG19 + Adam (its setting; 1e-8 elsewhere).

        `epochs` defaults to `self.epochs`; retraining and the pretrained checkpoints pass
        their own. SGD keeps `adam_eps` as its (unused) eps so the checkpoints' stored names
        stay those of the runs already in the store.
        """
        eps = self.vgg_adam_eps if arch.startswith("vgg") and optimizer == "adam" else self.adam_eps
        lr = self.lr_sgd if optimizer == "sgd" else self.lr_adam
        return Recipe(optimizer=optimizer, lr=lr, momentum=self.momentum, eps=eps,
                      epochs=self.epochs if epochs is None else epochs,
                      batch_size=self.batch_size, precision=self.precision)

    def retrain_recipe(self, arch: str, optimizer: str) -> Recipe:
        """Retraining after a perturbation (and the unperturbed control): the cell's recipe for
        `retrain_epochs`, in float32 whatever `precision` says.

        Under bf16 autocast every weight is rounded to 8 significant bits before it is used,
        and theta + 1e-6 rounds to the same bf16 value as theta for about 97-99% of the
        weights: the distorted network would compute nearly what the trained one computes, so
        "the distorted model returns" would be built into the arithmetic. The control shares
        the arithmetic, so the two stay comparable.
        """
        return dataclasses.replace(self.recipe(arch, optimizer, self.retrain_epochs),
                                   precision="float32")

    def perturbs(self, init: str) -> bool:
        """Whether the trained models of `init` are perturbed and retrained."""
        return bool(self.perturbations) and (not self.perturb_inits or init in self.perturb_inits)
