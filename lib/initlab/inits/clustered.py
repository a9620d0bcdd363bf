"""Clustered init (study 02, registered as `clustered`): filters drawn from a k-means
clustering of the filters trained networks learned.

A conv layer's weight (out, in, k, k) is a grid of 2-D k x k *slices*. Clustered init stacks
one layer's slices from N trained source models, clusters them with k-means into K clusters
and fills each (out, in) position of the new layer with the centre of a cluster drawn with
probability proportional to its size. Only the first L of the model's main conv layers are
set (for ResNet-18 its 17: stem, then each block's conv1 and conv2; 1x1 shortcuts, batch norm
and fc keep the model's own init).

Distances (the space k-means works in):
- `euclidean`: the raw slice values;
- `fourier_real`: the real part of each slice's 2-D FFT, centres inverted with the inverse
  FFT (what the original code did: equivalent to clustering the even part of each filter);
- `fourier_abs`: the FFT magnitude (what the original report described: invariant to circular
  shifts); magnitudes cannot be inverted, so a cluster's centre is its member nearest the
  cluster mean.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from initlab.inits.names import DISTANCES, RESCALES
from initlab.inits.registry import register
from initlab.models.resnet import resnet_conv_layers


def main_convs(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """The conv layers an init counts in "first L layers": all but 1x1 shortcut convs."""
    return resnet_conv_layers(model)


def first_layers(model: nn.Module, layers: int) -> list[tuple[str, nn.Conv2d]]:
    convs = main_convs(model)
    if not 0 <= layers <= len(convs):
        raise ValueError(f"layers must lie in 0..{len(convs)} for this model, got {layers}")
    return convs[:layers]


# --------------------------------------------------------------------------- clustering


@dataclass
class Clusters:
    """One layer's clustering: centres in weight space, their sizes, and spreads for noise."""

    centres: torch.Tensor  # (K, k, k) float32
    sizes: torch.Tensor  # (K,) int64, members per cluster
    spread: torch.Tensor  # (K,) RMS distance of a member's values from its centre
    labels: torch.Tensor  # (n,) cluster of every clustered slice


def features(slices: torch.Tensor, distance: str) -> torch.Tensor:
    """(n, k, k) slices -> (n, k*k) vectors in the space k-means compares them in."""
    if distance not in DISTANCES:
        raise ValueError(f"unknown distance {distance!r}; choose one of {', '.join(DISTANCES)}")
    slices = slices.double()
    if distance == "fourier_real":
        slices = torch.fft.fft2(slices).real
    elif distance == "fourier_abs":
        slices = torch.fft.fft2(slices).abs()
    return slices.flatten(1).float()


def fit_clusters(slices: torch.Tensor, clusters: int, distance: str, seed: int = 0,
                 sample: int = 0) -> Clusters:
    """k-means (scikit-learn, k-means++ seeded with `seed`) on (n, k, k) slices.

    `sample` > 0 fits on that many slices drawn at random and then assigns every slice (for
    very large layers); K is capped at the number of slices.
    """
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    slices = slices.detach().cpu().float()
    x = features(slices, distance).numpy()
    fit_on = x
    if 0 < sample < len(x):
        pick = np.random.default_rng(seed).choice(len(x), sample, replace=False)
        fit_on = x[pick]
    k = min(clusters, len(fit_on))
    # One thread, whatever the process uses: k-means' float sums (OpenMP, shared with torch)
    # round differently with the thread count, and the clustering must not depend on it.
    with warnings.catch_warnings(), threadpool_limits(1):  # duplicate slices: "fewer
        warnings.simplefilter("ignore")  # distinct points" warnings
        kmeans = KMeans(n_clusters=k, n_init=1, random_state=seed % 2**32).fit(fit_on)
    labels = torch.as_tensor(kmeans.predict(x), dtype=torch.int64)
    means = torch.as_tensor(kmeans.cluster_centers_, dtype=torch.float32)
    centres = _centres(slices, torch.as_tensor(x), labels, means, distance)
    sizes = torch.bincount(labels, minlength=k)
    diff = (slices - centres[labels]).flatten(1).pow(2).mean(1)
    spread = torch.zeros(k).index_add_(0, labels, diff).div_(sizes.clamp_min(1)).sqrt_()
    return Clusters(centres, sizes, spread, labels)


def _centres(slices: torch.Tensor, x: torch.Tensor, labels: torch.Tensor, means: torch.Tensor,
             distance: str) -> torch.Tensor:
    """Each cluster's centre as a k x k filter."""
    k = slices.shape[-1]
    if distance == "euclidean":
        return means.view(-1, k, k)
    if distance == "fourier_real":  # an even real spectrum: its inverse is real and even
        return torch.fft.ifft2(means.view(-1, k, k).double()).real.float()
    nearest = torch.empty(len(means), dtype=torch.int64)  # fourier_abs: the medoid-like member
    for c in range(len(means)):
        members = (labels == c).nonzero().flatten()
        if len(members) == 0:
            nearest[c] = 0
            continue
        gap = (x[members] - means[c]).pow(2).sum(1)
        nearest[c] = members[gap.argmin()]
    return slices[nearest].clone()


def layer_slices(models: list[nn.Module], index: int) -> torch.Tensor:
    """(models * out * in, k, k): the `index`-th main conv layer's slices of every model."""
    stacked = []
    for model in models:
        weight = main_convs(model)[index][1].weight.detach().cpu()
        stacked.append(weight.reshape(-1, *weight.shape[-2:]))
    return torch.cat(stacked)


def draw(clusters: Clusters, shape: torch.Size, generator: torch.Generator,
         noise: float = 0.0) -> torch.Tensor:
    """A weight of `shape` (out, in, k, k): per (out, in), the centre of a cluster drawn with
    probability proportional to its size, plus Gaussian noise of std `noise` times that
    cluster's spread (noise=1 samples from an isotropic Gaussian fit of the cluster)."""
    n = shape[0] * shape[1]
    pick = torch.multinomial(clusters.sizes.double(), n, replacement=True, generator=generator)
    weight = clusters.centres[pick].clone()
    if noise:
        z = torch.randn(weight.shape, generator=generator)
        weight += noise * clusters.spread[pick].view(-1, 1, 1) * z
    return weight.view(shape)


def kaiming_std(conv: nn.Conv2d) -> float:
    """The std of Kaiming-normal init with fan_out and ReLU gain (torchvision's ResNet init)."""
    fan_out = conv.out_channels * conv.kernel_size[0] * conv.kernel_size[1]
    return math.sqrt(2.0 / fan_out)


def rescaled(weight: torch.Tensor, conv: nn.Conv2d, rescale: str | None) -> torch.Tensor:
    if rescale in (None, "none", ""):
        return weight
    if rescale != "kaiming":
        raise ValueError(f"unknown rescale {rescale!r}; choose one of {', '.join(RESCALES)}")
    rms = weight.pow(2).mean().sqrt().clamp_min(1e-12)
    return weight * (kaiming_std(conv) / rms)


@register("clustered")
@torch.no_grad()
def clustered(model: nn.Module, sources: list[nn.Module] | None = None, layers: int = 17,
              clusters: int = 10, distance: str = "euclidean", noise: float = 0.0,
              rescale: str | None = None, seed: int = 0, fitted: list[Clusters] | None = None,
              sample: int = 0) -> nn.Module:
    """Set the first `layers` main conv layers from k-means clusters of the sources' filters.

    `fitted` (one `Clusters` per layer) skips the k-means when a study reuses a clustering
    for many runs; otherwise every layer is clustered from `sources` (k-means seeded with
    `seed`). The draws use `seed` too. `rescale="kaiming"` scales each drawn layer to the RMS
    of Kaiming-normal (fan_out) init (an extension: cluster centres are averages, so smaller).
    """
    targets = first_layers(model, layers)
    if fitted is None:
        if not sources:
            raise ValueError("clustered init needs source models (or fitted clusters)")
        fitted = [fit_clusters(layer_slices(sources, i), clusters, distance, seed, sample)
                  for i in range(len(targets))]
    if len(fitted) < len(targets):
        raise ValueError(f"{len(fitted)} fitted layers for {len(targets)} layers to set")
    generator = torch.Generator().manual_seed(seed)
    for (_, conv), fit in zip(targets, fitted):
        if tuple(fit.centres.shape[-2:]) != tuple(conv.kernel_size):
            raise ValueError(f"clusters of {tuple(fit.centres.shape[-2:])} kernels for a conv "
                             f"with kernel {conv.kernel_size}")
        weight = draw(fit, conv.weight.shape, generator, noise)
        conv.weight.copy_(rescaled(weight, conv, rescale).to(conv.weight))
    return model
