"""Transfer learning on a small two-class task: four ways to use (or not) a pretrained backbone.

The variants of study 04 (docs/04_baselines_transfer.md, the Alien-vs-Predator protocol):
- `scratch`: the backbone architecture and the head, trained together from random init;
- `svm`: the frozen pretrained backbone as a feature extractor, a linear SVM on its features;
- `head`: the frozen pretrained backbone with a new head trained on top;
- `head_aug`: the same with random shear, zoom and horizontal flips (batched, on the device).

A frozen backbone is wrapped in `Frozen`: it has no trainable parameters and stays in eval mode
when the model around it trains, so batch norm keeps the pretrained statistics (the usual
mistake with `requires_grad_(False)` alone is that BN running means still drift). The training
loop needs no change for this: optimizers skip parameters that never receive a gradient.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import NamedTuple

import pandas as pd
import torch
from torch import nn

from initlab import data
from initlab.data import ImageSet, augment
from initlab.metrics.features import extract
from initlab.studies.baselines_transfer.variants import HEADS, VARIANTS, TransferPlan
from initlab.training.fit import fit
from initlab.training.loop import Augment, evaluate
from initlab.training.runtime import Runtime

HIDDEN = 128  # the common Kaggle recipe's head: features -> 128 -> ReLU -> classes


# --------------------------------------------------------------------------- images


def as_rgb(images: ImageSet, size: int, how: str = "resize") -> ImageSet:
    """The images as 3 channels of `size` x `size`: resized (`how="resize"`) or zero-padded
    around the centre (`how="pad"`, for 28x28 digits into a 32x32 network)."""
    if how == "pad":
        return images.padded(size).as_rgb()
    if how != "resize":
        raise ValueError(f"unknown how={how!r}; choose resize or pad")
    return images.as_rgb().resized(size)


def balanced_sample(images: ImageSet, n: int, seed: int) -> ImageSet:
    """`n` images with the classes as equal as possible (seeded), in a shuffled order."""
    generator = torch.Generator().manual_seed(seed)
    k = images.num_classes
    picked = []
    for label in range(k):
        idx = torch.nonzero(images.labels == label).flatten()
        want = n // k + (label < n % k)
        if want > len(idx):
            raise ValueError(f"{images.name}: class {images.classes[label]!r} has {len(idx)} "
                             f"images, {want} wanted")
        picked.append(idx[torch.randperm(len(idx), generator=generator)[:want]])
    order = torch.cat(picked)
    return images.subset(order[torch.randperm(len(order), generator=generator)])


def class_task(dataset: str, classes: Sequence[int], train_size: int, val_size: int,
               size: int, seed: int) -> tuple[ImageSet, ImageSet]:
    """A small task from a data set we have, shaped like the original's image folder: the
    `classes` only (relabelled 0..k-1), `train_size` training images from the train split and
    `val_size` validation images from the test split, balanced, RGB at `size` x `size`."""
    parts = []
    for split, n, tag in (("train", train_size, 0), ("test", val_size, 1)):
        subset = data.load(dataset, split).select_classes(list(classes))
        parts.append(as_rgb(balanced_sample(subset, n, seed + tag), size))
    return parts[0], parts[1]


def folder_task(path: str, size: int) -> tuple[ImageSet, ImageSet]:
    """An image folder's train/ and validation/ (or test/, valid/, val/) splits at `size`."""
    train = data.load("image_folder", "train", path=path, size=size)
    val = data.load("image_folder", "test", path=path, size=size)
    if train.classes != val.classes:
        raise ValueError(f"{path}: train classes {train.classes} differ from validation "
                         f"classes {val.classes}")
    return train, val


def source_data(dataset: str, exclude: Sequence[int], size: int) -> tuple[ImageSet, ImageSet]:
    """A fallback pretraining task: `dataset` without the classes in `exclude` (the target
    task's), RGB at `size`; the stand-in for ImageNet when its weights are not available."""
    parts = []
    for split in ("train", "test"):
        full = data.load(dataset, split)
        keep = [c for c in range(full.num_classes) if c not in set(exclude)]
        parts.append(as_rgb(full.select_classes(keep), size))
    return parts[0], parts[1]


# --------------------------------------------------------------------------- models


class Frozen(nn.Module):
    """A backbone that never trains: no gradients, and always in eval mode (batch norm keeps
    its pretrained running statistics, dropout stays off) even when its parent trains."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module.requires_grad_(False).eval()

    def train(self, mode: bool = True) -> Frozen:
        super().train(mode)
        self.module.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)


def strip_head(model: nn.Module) -> tuple[nn.Module, int]:
    """(backbone, feature width): a ResNet (ours or torchvision's) whose `fc` is removed, so
    that calling it returns the pooled features."""
    if not isinstance(getattr(model, "fc", None), nn.Linear):
        raise ValueError(f"{type(model).__name__} has no linear `fc` head to remove")
    dim = model.fc.in_features
    model.fc = nn.Identity()
    return model, dim


def make_head(kind: str, dim: int, num_classes: int) -> nn.Module:
    """A fresh head: one linear layer, or the Kaggle recipe's `mlp`, whose hidden layer gives
    the fine-tuned variants features of their own for the t-SNE comparison."""
    if kind == "linear":
        return nn.Linear(dim, num_classes)
    if kind == "mlp":
        return nn.Sequential(nn.Linear(dim, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, num_classes))
    raise ValueError(f"unknown head {kind!r}; choose one of {', '.join(HEADS)}")


class TransferNet(nn.Module):
    """A backbone (pooled features) followed by a new head."""

    def __init__(self, backbone: nn.Module, head: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def transfer_net(backbone: nn.Module, dim: int, num_classes: int, head: str,
                 frozen: bool) -> TransferNet:
    """The backbone (frozen or not) with a fresh head drawn from torch's current RNG."""
    return TransferNet(Frozen(backbone) if frozen else backbone, make_head(head, dim, num_classes))


def augmentation(shear: float = 10.0, scale: tuple[float, float] = (0.8, 1.2)) -> Augment:
    """The study's augmentation: random shear and zoom, then a horizontal flip half the time."""
    return augment.compose(functools.partial(augment.affine, shear=shear, scale=tuple(scale)),
                         augment.hflip)


def svm_accuracy(train_x: torch.Tensor, train_y: torch.Tensor, val_x: torch.Tensor,
                 val_y: torch.Tensor, c: float, seed: int) -> tuple[float, torch.Tensor]:
    """Validation accuracy of a linear SVM (standardized features) trained on `train_x`, and
    whether it got each validation image right."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    svm = make_pipeline(StandardScaler(), LinearSVC(C=c, max_iter=20_000,
                                                    random_state=seed % 2**32))
    svm.fit(train_x.numpy(), train_y.numpy())
    correct = torch.from_numpy(svm.predict(val_x.numpy()) == val_y.numpy())
    return float(svm.score(val_x.numpy(), val_y.numpy())), correct


# --------------------------------------------------------------------------- the four variants


def feature_source(variant: str, head: str) -> str:
    """The variant whose features `variant` classifies from: itself, except that with a
    linear head the fine-tuned variants read the frozen backbone's pooled features, the very
    features the `svm` variant uses, so they share its t-SNE (an earlier entry of VARIANTS)."""
    if variant not in VARIANTS or head not in HEADS:
        raise ValueError(f"unknown variant {variant!r} or head {head!r}")
    return "svm" if head == "linear" and variant in ("head", "head_aug") else variant


Backbone = Callable[[bool], tuple[nn.Module, int]]
"""backbone(pretrained) -> (a new headless backbone, its feature width)."""


def _seeded_net(backbone: Backbone, pretrained: bool, k: int, head: str, seed: int) -> TransferNet:
    """The variant's net, drawn from one seeded stream: the backbone's init (overwritten by
    pretrained weights, but drawn all the same), then the head's. `build_model(seed=)` cannot
    replace this fork: the head continues the backbone's stream."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module, dim = backbone(pretrained)
        return transfer_net(module, dim, k, head, frozen=pretrained)


class Outcome(NamedTuple):
    """What one variant gives: validation accuracy, whether each validation image was right
    (the validation sample's own error comes from these), the features it classifies from,
    and its learning curves."""

    accuracy: float
    correct: torch.Tensor
    features: torch.Tensor
    curves: pd.DataFrame


def run_variant(variant: str, backbone: Backbone, train: ImageSet, val: ImageSet,
                plan: TransferPlan, runtime: Runtime, seed: int) -> Outcome:
    """Validation accuracy, per-image correctness, validation features and learning curves
    of one variant (`Outcome`).

    The features are what the variant classifies from: the backbone's pooled features for
    `svm`, the input of the head's last layer otherwise (the 128-d hidden layer of the `mlp`
    head). `scratch` trains everything from random init; `head`/`head_aug` train only a new
    head on the frozen pretrained backbone. `seed` fixes the head's init, batches and draws.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    device = runtime.torch_device
    if variant == "svm":
        module, _ = backbone(True)
        frozen = Frozen(module)
        train_x, val_x = (extract(frozen, s, "output", device) for s in (train, val))
        accuracy, correct = svm_accuracy(train_x, train.labels, val_x, val.labels, plan.svm_c,
                                         seed)
        return Outcome(accuracy, correct, val_x,
                       pd.DataFrame(columns=["epoch", "split", "metric", "value"]))
    model = _seeded_net(backbone, variant != "scratch", train.num_classes, plan.head, seed)
    draws = augmentation(plan.shear, tuple(plan.zoom)) if variant == "head_aug" else None
    recipe = plan.recipe(variant)
    history = fit(model, train, val, recipe=recipe, runtime=runtime, seed=seed, augment=draws,
                  name=variant)
    _, accuracy = evaluate(model, val, runtime, recipe.precision)
    correct = extract(model, val, "output", device).argmax(1) == val.labels
    return Outcome(accuracy, correct, extract(model, val, "penultimate", device), history.frame)
