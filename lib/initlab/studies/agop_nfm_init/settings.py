"""Study settings: the dataclass (defaults = the original protocol, `paper`) and what `smoke`
and `quick` change, and the source run's settings. A run is named by its settings (see
`store.run_name`); the `recipe` methods turn them into the `Recipe` that `fit` takes, so the
optimizer choices live beside the fields they come from.

Each difference from the original code is one field whose value selects the original's
behaviour (`AS_RUN`, applied by `profiles.load(..., as_run=True)`); docs/03_agop_nfm_init.md
lists them with the original's file and function and says why `paper` takes which value.
`checks.py` checks every field's range and relations when the settings are built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from initlab.inits import InitOptions, InitSpec
from initlab.settings import not_hashed
from initlab.studies.agop_nfm_init.checks import check_settings
from initlab.training.recipe import Recipe

# The original's nine inits: its five baselines and the four matrix inits.
AGOP_NFM_INITS = ("normal", "uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal",
                  "agop", "nfm", "kaiming_agop", "kaiming_nfm")
# A study label whose registered method or options differ from the label: the original's
# Xavier normal used the ReLU gain sqrt(2); PyTorch's default gain 1 is a separate, named
# baseline (not run by default). Every other label is passed to `initialize` as it is.
INIT_CALLS: dict[str, tuple[str, dict[str, float]]] = {
    "xavier_normal": ("xavier_normal", {"gain": math.sqrt(2)}),
    "xavier_normal_gain1": ("xavier_normal", {"gain": 1.0}),
}
STUDY_INITS = AGOP_NFM_INITS + ("xavier_normal_gain1",)
BASELINE = "kaiming_normal"  # what every init is paired against


def init_call(label: str) -> tuple[str, dict[str, float]]:
    """(registered init method, a fresh dict of its options) behind a study label."""
    method, options = INIT_CALLS.get(label, (label, {}))
    return method, dict(options)


@dataclass(frozen=True)
class AgopNfmSettings:
    """Study 03: NFM and AGOP initialization of VGG11 (docs/03_agop_nfm_init.md).

    One run is one (data set, init, seed); `datasets` and `inits` list what the notebook runs.
    The source network is `pretrained`: "imagenet" (torchvision's weights), the name of
    another data set to train a source VGG on here, or the path of a state-dict file.
    """
    # 3: Xavier's ReLU gain; AGOP over the run's training fold, normalized for the source;
    # precision setting. 4: the target's head has `head_classes` outputs (paper: 1000)
    PROTOCOL: ClassVar[int] = 4  # bump when a run would compute other numbers (store checks)

    datasets: tuple[str, ...] = ("svhn", "cifar10", "cifar100", "tiny_imagenet")
    inits: tuple[str, ...] = AGOP_NFM_INITS  # or your own besides: a registered name or
    # "module:function" (docs/your-initializer.md); it sets the conv filters, VGG's linear draw
    # follows as for every init
    init_options: InitOptions = InitOptions()  # YAML: "{orthogonal: {gain: 1.4}}"
    init_spec: InitSpec | None = None  # set per run (runs.run_settings) for a user's init,
    # options or a data-dependent init: its options and source hash name the run
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
    # step schedule: lr times lr_factor after every lr_every epochs (0: constant, the paper's);
    # `quick` anneals its last epochs so the last epoch's accuracy is not a noisy high-lr draw
    lr_every: int = 0
    lr_factor: float = 1.0
    # VGG's linear layers N(0, 0.01^2), biases 0. At 224x224 and width 1 the head's gain is
    # 0.01 * sqrt(fan_in) = 1.6, 0.64, 0.64; a narrow 32x32 head (fan_in 64) needs 0.1 for
    # the same gain, else no init learns in a few epochs (quick, smoke)
    linear_std: float = 0.01
    pretrained: str = "imagenet"
    pretrained_split: str = "train"  # "test": a source trained on another split (smoke only)
    source_epochs: int = 20  # a source trained here (pretrained = a data set name): Adam
    source_lr: float = 1e-3
    agop_images: int = 64  # images of the run's training fold through the source (AGOP);
    # the original: 11 (its loop stops after the 11th although its constant says 10)
    agop_classes: int = 0  # the first N logits of the source head; 0 = every class (orig.: 10)
    # data sets whose AGOP goes through a fresh random head (PyTorch's default nn.Linear draw,
    # the target's class count) in place of the source's last layer: the original did this for
    # cifar10 (its torchvision VGG got a new 10-way layer), the other sets kept ImageNet's head
    agop_fresh_head: tuple[str, ...] = ()
    # the AGOP images' normalization: "source" (as the source network was trained), "target"
    # (the original: the target data set's own mean and std)
    agop_normalization: str = "source"
    # "kept": the AGOP sees the measured layer's bias; "dropped": the original's code rebuilt
    # the measured layer without it (docs: known bug 1)
    agop_bias: str = "kept"
    # Kaiming NFM/AGOP: "variance" scales Sigma to mean per-weight variance 2 / fan_in;
    # "original": raw M * sqrt(2) / sqrt(fan_in), the AGOP's M also / 100 (inits.matrix)
    kaiming_scale: str = "variance"
    # positive-definite shift |min eigenvalue| + 1e-6: "unit_trace" (of the matrix scaled to
    # trace 1) or "raw" (the original: of the matrix as it is, an AGOP's entries ~1e-9 or not)
    pd_shift: str = "unit_trace"
    # the target VGG's last layer: 0 = the data set's class count; the original trained
    # torchvision's VGG11 unchanged, i.e. a 1000-way head for 10, 100 or 200 classes
    head_classes: int = 1000
    source_seed: int = 0  # one source network (and its matrices) shared by every run
    seed: int = 0  # run r uses seed + r (split, batches, init draw)
    runs: int = not_hashed(3)
    precision: str = "float32"  # every device; "bf16"/"auto" (bf16 on CUDA) on request
    as_run: bool = not_hashed(False)  # True: every AS_RUN value below (profiles.load)

    AS_RUN: ClassVar[dict[str, Any]] = dict(
        agop_images=11, agop_classes=10, agop_fresh_head=("cifar10",),
        agop_normalization="target", agop_bias="dropped", kaiming_scale="original",
        pd_shift="raw", head_classes=1000)
    """The original code as it produced the reported table (docs/03_agop_nfm_init.md)."""

    PROFILES: ClassVar[dict[str, dict[str, Any]]] = {
        # smoke learns (every init well above chance in ~1 min on one core): width 1/8, every
        # digits training image, 8 epochs at lr 0.02, the last two annealed (x0.1). The reduced
        # profiles train a head of the data's classes: a 1000-way head (paper's, the
        # original's) keeps a narrow VGG at chance for these few steps (docs: measured)
        "smoke": dict(datasets=("digits",), inits=("kaiming_normal", "nfm", "kaiming_agop"),
                      width=0.125, image_size=32, epochs=8, lr=0.02, lr_every=6, lr_factor=0.1,
                      linear_std=0.1, head_classes=0, pretrained="digits",
                      pretrained_split="test", source_epochs=6, agop_images=16, runs=1),
        # quick: width 1/4, not 1/8, else N(0, 0.05^2) passes 0.5% of the input's scale through
        # the conv stack and cannot train (at full width it amplifies it instead); lr 10x the
        # paper's for ~60x fewer steps, the last epoch annealed (x0.1), 3 seeds for the tests
        "quick": dict(datasets=("fashion_mnist",), width=0.25, image_size=32, train_size=2_500,
                      epochs=6, lr=0.01, lr_every=5, lr_factor=0.1, linear_std=0.1,
                      head_classes=0, pretrained="digits", source_epochs=10, runs=3),
        "paper": dict(),
    }

    def __post_init__(self) -> None:
        check_settings(self, STUDY_INITS)

    def recipe(self) -> Recipe:
        """The target networks' training: SGD with momentum and weight decay (VGG's recipe)."""
        return Recipe("sgd", lr=self.lr, momentum=self.momentum,
                      weight_decay=self.weight_decay, epochs=self.epochs,
                      batch_size=self.batch_size, lr_every=self.lr_every,
                      lr_factor=self.lr_factor, precision=self.precision)


@dataclass(frozen=True)
class SourceSettings:
    """What names a source run: the source network (its NFMs) and the target images of its
    ansatz check.

    Built from an `AgopNfmSettings` by `sources.source_settings`; every run of one target data
    set shares it, hence one source network and one set of NFMs per data set. (The AGOP that
    initializes a run is computed in that run, over its own training fold.)"""
    # 3: no stored AGOPs; images normalized as the source expects; precision in the recipe.
    # The AGOP's head, normalization and bias fields select the original's (ansatz check too)
    PROTOCOL: ClassVar[int] = 3  # bump when a run would compute other numbers (store checks)

    target: str
    pretrained: str = "imagenet"
    pretrained_split: str = "train"
    model: str = "vgg11"
    width: float = 1.0
    image_size: int = 224
    channels: int = 3
    linear_std: float = 0.01
    agop_images: int = 64
    agop_classes: int = 0
    agop_head: str = "source"  # "fresh": a random last layer for the AGOP (agop_fresh_head)
    agop_normalization: str = "source"
    agop_bias: str = "kept"
    seed: int = 0
    # a source trained here (`pretrained` = a data set name): Adam, no weight decay
    recipe: Recipe = Recipe("adam", lr=1e-3, epochs=20, batch_size=64)
