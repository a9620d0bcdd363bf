"""Where a study-05 run's material comes from: its data (padded to 3 x 32 x 32, raw [0, 1]
or normalized), its fresh model (with the original's treatment of conv biases where asked),
and its "pretrained" weights.

"Pretrained" is ImageNet weights where they exist and fit (torchvision's ResNet-18 and VGG19
at width 1, VGG19 with torchvision's head), else a checkpoint of the same architecture trained
here on another data set of the grid: a store run of its own (`design.SOURCES`,
`design.source_spec`), trained by the first cell that needs it and loaded by every other.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
import torch
from torch import nn

from initlab import data, store
from initlab.inits import initialize
from initlab.models import build_model
from initlab.models.pretrained import WeightsUnavailableError, load_imagenet
from initlab.seeds import derive_seed
from initlab.studies.parameter_dynamics.design import (
    SOURCES,
    STUDY,
    SourceSettings,
    imagenet_fits,
    model_classes,
    model_options,
    source_spec,
)
from initlab.studies.parameter_dynamics.settings import ParameterDynamicsSettings
from initlab.training.fit import fit
from initlab.training.loop import evaluate
from initlab.training.runtime import Runtime

# ------------------------------------------------------------------------- data and models


def rgb32(name: str, split: str) -> data.ImageSet:
    """One split as 3 x 32 x 32 (MNIST-like sets padded with background, grey repeated).

    Loaded afresh on every call: a cache would hand every run the same ImageSet, whose
    tensors anyone can change in place. Loading costs milliseconds for the embedded digits
    and about a second for CIFAR-10, next to minutes of training per run.
    """
    return data.load(name, split).padded(32).as_rgb()


def load_data(name: str, train_size: int = 0, seed: int = 0, test_size: int = 0,
              normalize: bool = True) -> tuple[data.ImageSet, data.ImageSet]:
    """(train, test) as 3 x 32 x 32; `train_size` > 0 draws a seeded subsample of train,
    `test_size` > 0 a fixed one of test (the same images for every run and seed);
    `normalize=False` feeds them raw (`scaled`)."""
    train, test = scaled(rgb32(name, "train"), normalize), scaled(rgb32(name, "test"), normalize)
    if 0 < train_size < len(train):
        pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(
            derive_seed(seed, "train-subset", name)))[:train_size]
        train = train.subset(pick)
    return train, _first_of_fixed_order(test, test_size)


def scaled(images: data.ImageSet, normalize: bool) -> data.ImageSet:
    """`images` as the network sees them: each data set's mean/std subtracted and divided
    (normalize=True, the other studies'), or raw in [0, 1] (False): the original's
    `Compose([Pad(2), ToTensor(), repeat to 3 channels])` for MNIST-like sets and `ToTensor()`
    for CIFAR-10, with no Normalize."""
    return images if normalize else images.with_normalization((0.0,) * images.in_channels,
                                                              (1.0,) * images.in_channels)


def _first_of_fixed_order(images: data.ImageSet, n: int) -> data.ImageSet:
    """`n` images drawn once by a fixed seed, kept in their original order."""
    if not 0 < n < len(images):
        return images
    pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(
        derive_seed(0, "test-images")))[:n]
    return images.subset(pick.sort().values)


def feature_images(test: data.ImageSet, n: int) -> torch.Tensor:
    """The normalized test images whose features every run stores: the same for all runs."""
    return _first_of_fixed_order(test, n).to_float()


def build(arch: str, num_classes: int, width: float, resnet_stem: str, vgg_head: str,
          seed: int) -> nn.Module:
    """A fresh model of `arch` for 3 x 32 x 32 inputs, its default draw fixed by `seed`."""
    return build_model(arch, model_classes(arch, vgg_head, num_classes), 3, seed=seed,
                       **model_options(arch, width, resnet_stem, vgg_head))


# The built-in inits that zero every bias (`inits.standard`); the original's `initialize`
# (Kaiming uniform or normal) zeroed the linear biases only.
ZEROING_INITS = ("kaiming_uniform", "kaiming_normal", "xavier_normal", "normal", "uniform")


def keeps_conv_bias(conv_bias: str, arch: str, init: str) -> bool:
    """Whether `init` must leave the conv biases of `arch` as the model was built.

    With conv_bias="as_built" the conv biases are what the original's constructors left
    before its `initialize` zeroed only the linear biases: LeNet-5 (a plain nn.Module) keeps
    PyTorch's default draw U(-1/sqrt(fan_in), 1/sqrt(fan_in)); torchvision's VGG19 zeroes
    its conv biases in its constructor, so initlab's VGG19 (PyTorch's draw when built) has
    them zeroed by the init as before; ResNet-18's convolutions have no bias. A user's own
    init, and the default draw, are left to themselves.
    """
    return conv_bias == "as_built" and arch == "lenet5" and init in ZEROING_INITS


@contextmanager
def conv_biases_kept(model: nn.Module, keep: bool) -> Iterator[None]:
    """Run the block (an init), then put back the conv biases `model` had before (if `keep`)."""
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.bias is not None]
    saved = [m.bias.detach().clone() for m in convs] if keep else []
    yield
    with torch.no_grad():
        for module, bias in zip(convs, saved):
            module.bias.copy_(bias)


# ------------------------------------------------------------------------------ pretrained


def train_source(spec: SourceSettings, runtime: Runtime) -> dict:
    """Train one checkpoint; the result holds its whole state dict (buffers included)."""
    train, test = load_data(spec.dataset, spec.train_size, spec.seed, normalize=spec.normalize)
    model = build(spec.arch, train.num_classes, spec.width, spec.resnet_stem, spec.vgg_head,
                  derive_seed(spec.seed, "source-model", spec.arch))
    initialize(model, "kaiming_uniform", seed=derive_seed(spec.seed, "source-init"))
    recipe = spec.recipe
    history = fit(model, train, recipe=recipe, runtime=runtime,
                  seed=derive_seed(spec.seed, "source-batches"),
                  name=f"source {spec.arch} on {spec.dataset}")
    loss, acc = evaluate(model, test, runtime, recipe.precision)
    info = pd.DataFrame([dict(arch=spec.arch, dataset=spec.dataset, test_loss=loss,
                              test_accuracy=acc, train_accuracy=history.last("train"))])
    return dict(info=info, **store.model_tensors(model))


def source_result(spec: SourceSettings, runtime: Runtime | None = None,
                  train: bool = True) -> dict:
    """The checkpoint's stored result (trained first if missing and `train`)."""
    return store.run(SOURCES, spec, train_source, runtime=runtime, train=train)


def load_pretrained(cfg: ParameterDynamicsSettings, model: nn.Module, arch: str, dataset: str,
                    runtime: Runtime | None = None) -> str:
    """Load ImageNet weights or the checkpoint into `model`; return where they came from."""
    if cfg.pretrained == "imagenet" and imagenet_fits(cfg, arch):
        try:
            load_imagenet(model, arch)
            return "imagenet"
        except WeightsUnavailableError:
            pass  # offline: the checkpoint below; the summary table names what was used
    spec = source_spec(cfg, arch, dataset)
    state = store.model_state(source_result(spec, runtime))
    initialize(model, "pretrained", source=state, keep_head=False)
    return f"checkpoint ({spec.dataset})"


def source_info(spec: SourceSettings) -> pd.Series:
    """The stored checkpoint's `info` row, read without loading its weights (rendering never
    trains and reads only what its tables need)."""
    if not store.is_done(SOURCES, spec):
        try:
            source_result(spec, train=False)  # raises, saying why the checkpoint is unusable
        except store.MissingRunError as error:
            raise store.MissingRunError(
                f"{error}\nThe checkpoint is trained by the {spec.arch} pretrained cells: run "
                f"`initlab run {STUDY}` with the same profile.") from error
    return pd.read_csv(store.run_dir(SOURCES, spec) / "info.csv").iloc[0]
