"""Filter-based inits: Gabor filters (`gabor`), study 01's warm start from the most similar
filters of trained models (`similar_filters`), and the mean of permutation-aligned filters of
trained ResNets (`aligned`)."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from initlab.inits.clustered import first_layers, rescaled
from initlab.inits.registry import register
from initlab.metrics.matching import align_models, stacked_kernels
from initlab.metrics.similarity import HIGHER_IS_MORE_SIMILAR, pairwise, set_kernel_slices

# --------------------------------------------------------------------------- Gabor

GABOR_RANGES = {"sigma": (1.5, 2.5), "theta": (0.0, math.pi), "lambd": (2.0, 13.0),
                "psi": (0.0, 2 * math.pi), "gamma": (0.9, 1.1)}


def gabor_kernel(size: int, sigma: float, theta: float, lambd: float, psi: float,
                 gamma: float) -> torch.Tensor:
    """g(x, y) = exp(-(x'^2 + gamma^2 y'^2) / (2 sigma^2)) cos(2 pi x' / lambda + psi) on a
    grid centred on the kernel (x the column offset, y the row offset from the centre)."""
    offsets = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    y, x = torch.meshgrid(offsets, offsets, indexing="ij")
    xr = x * math.cos(theta) + y * math.sin(theta)
    yr = -x * math.sin(theta) + y * math.cos(theta)
    envelope = torch.exp(-(xr**2 + gamma**2 * yr**2) / (2 * sigma**2))
    return (envelope * torch.cos(2 * math.pi * xr / lambd + psi)).float()


def gabor_parameters(n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """`n` draws of each Gabor parameter from its uniform range (GABOR_RANGES)."""
    return {name: low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64)
            for name, (low, high) in GABOR_RANGES.items()}


@register("gabor")
@torch.no_grad()
def gabor(model: nn.Module, layers: int = 1, seed: int = 0,
          rescale: str | None = None) -> nn.Module:
    """Set the first `layers` main conv layers to Gabor filters, one per output channel (the
    same 2-D filter on every input channel), parameters drawn with `seed` (give each model its
    own seed: the original gave every model the same filters)."""
    generator = torch.Generator().manual_seed(seed)
    for _, conv in first_layers(model, layers):
        out, _, size, _ = conv.weight.shape
        params = gabor_parameters(out, generator)
        kernels = torch.stack([gabor_kernel(size, *(float(params[k][o]) for k in GABOR_RANGES))
                               for o in range(out)])
        weight = kernels[:, None].expand_as(conv.weight.cpu())
        conv.weight.copy_(rescaled(weight, conv, rescale).to(conv.weight))
    return model


@register("similar_filters")
@torch.no_grad()
def similar_filters(
    model: nn.Module, sources: list[nn.Module], metric: str, aligned: bool = False,
    seed: int = 0,
) -> nn.Module:
    """Study 01's warm start: per kernel index, copy it from the most similar pair of sources.

    For each of the model's 2-D kernels, compare that kernel across every pair of source models
    with `metric`, take the most similar pair (the smallest distance for `frobenius`, which the
    original code got backwards) and copy the kernel of one of the two, chosen at random.
    Biases and linear layers keep the model's current (default) values. With `aligned=True`
    the sources are first permuted to match the first source (see `similarity.align_to`).
    """
    if len(sources) < 2:
        raise ValueError(f"similar_filters needs at least two source models, got {len(sources)}")
    filter_sets = stacked_kernels(sources, aligned)
    pairs, scores = pairwise(filter_sets, metric)
    best = scores.argmax(0) if HIGHER_IS_MORE_SIMILAR[metric] else scores.argmin(0)
    coin = torch.randint(0, 2, (scores.shape[1],), generator=torch.Generator().manual_seed(seed))
    chosen = torch.tensor([pairs[p][c] for p, c in zip(best.tolist(), coin.tolist())])
    kernels = filter_sets[chosen, torch.arange(filter_sets.shape[1])]
    set_kernel_slices(model, kernels.to(next(model.parameters()).dtype))
    return model


@register("aligned")
@torch.no_grad()
def aligned_mean(model: nn.Module, sources: list[nn.Module], layers: int,
                 matching: str = "greedy") -> nn.Module:
    """Set the first `layers` conv layers to the mean of the sources' aligned filters (the
    sources themselves are left untouched: copies are aligned)."""
    copies = [copy.deepcopy(m).cpu() for m in sources]
    names = align_models(copies, layers, matching)
    for name in names:
        mean = torch.stack([m.get_submodule(name).weight for m in copies]).mean(0)
        target = model.get_submodule(name).weight
        target.copy_(mean.to(target))
    return model
