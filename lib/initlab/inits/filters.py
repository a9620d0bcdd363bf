"""Filter-based inits: Gabor filters (`gabor`), study 01's warm start from the most similar
filters of trained models (`similar_filters`), and the mean of permutation-aligned filters of
trained ResNets (`aligned`)."""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch import nn

from initlab.inits.clustered import first_layers, rescaled
from initlab.inits.names import ALIGNED_MEANS, GABOR_DRAWS, GABOR_GRIDS
from initlab.inits.registry import register
from initlab.metrics.matching import align_models, stacked_kernels
from initlab.metrics.similarity import HIGHER_IS_MORE_SIMILAR, pairwise, set_kernel_slices

# --------------------------------------------------------------------------- Gabor

GABOR_RANGES = {"sigma": (1.5, 2.5), "theta": (0.0, math.pi), "lambd": (2.0, 13.0),
                "psi": (0.0, 2 * math.pi), "gamma": (0.9, 1.1)}


def gabor_grid(size: int, grid: str = "centred") -> torch.Tensor:
    """The `size` coordinates a Gabor kernel is evaluated on (rows and columns alike)."""
    if grid not in GABOR_GRIDS:
        raise ValueError(f"unknown Gabor grid {grid!r}; choose one of {', '.join(GABOR_GRIDS)}")
    if grid == "original":
        return torch.from_numpy(np.linspace(-size // 2, size // 2, size))
    return torch.arange(size, dtype=torch.float64) - (size - 1) / 2


def gabor_kernel(size: int, sigma: float, theta: float, lambd: float, psi: float,
                 gamma: float, grid: str = "centred") -> torch.Tensor:
    """g(x, y) = exp(-(x'^2 + gamma^2 y'^2) / (2 sigma^2)) cos(2 pi x' / lambda + psi) on
    `gabor_grid(size, grid)` (x the column coordinate, y the row coordinate)."""
    offsets = gabor_grid(size, grid)
    y, x = torch.meshgrid(offsets, offsets, indexing="ij")
    xr = x * math.cos(theta) + y * math.sin(theta)
    yr = -x * math.sin(theta) + y * math.cos(theta)
    envelope = torch.exp(-(xr**2 + gamma**2 * yr**2) / (2 * sigma**2))
    return (envelope * torch.cos(2 * math.pi * xr / lambd + psi)).float()


def gabor_parameters(n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """`n` draws of each Gabor parameter from its uniform range (GABOR_RANGES)."""
    return {name: low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64)
            for name, (low, high) in GABOR_RANGES.items()}


def shared_gabor_parameters(n: int, first: int) -> dict[str, torch.Tensor]:
    """The original's draws for `n` output channels: channel i reseeds numpy's global
    generator with `first + i` and draws sigma, theta, lambda, psi, gamma in that order."""
    draws = []
    for channel_seed in range(first, first + n):
        state = np.random.RandomState(channel_seed)  # what np.random.seed(s) then uniform draw
        draws.append([state.uniform(low, high) for low, high in GABOR_RANGES.values()])
    table = torch.tensor(draws, dtype=torch.float64).reshape(n, len(GABOR_RANGES))
    return {name: table[:, i] for i, name in enumerate(GABOR_RANGES)}


@register("gabor")
@torch.no_grad()
def gabor(model: nn.Module, layers: int = 1, seed: int = 0, rescale: str | None = None,
          grid: str = "centred", draw: str = "per_model") -> nn.Module:
    """Set the first `layers` main conv layers to Gabor filters, one per output channel (the
    same 2-D filter on every input channel). `draw="per_model"` draws the parameters with
    `seed` (give each model its own); `"shared"` reproduces the original, whose every model
    got the same filters (`seed` unused). `grid`: see `GABOR_GRIDS`."""
    if draw not in GABOR_DRAWS:
        raise ValueError(f"unknown Gabor draw {draw!r}; choose one of {', '.join(GABOR_DRAWS)}")
    generator = torch.Generator().manual_seed(seed)
    counted = 0  # output channels drawn so far: the original's running numpy seed
    for _, conv in first_layers(model, layers):
        out, _, size, _ = conv.weight.shape
        params = gabor_parameters(out, generator) if draw == "per_model" else \
            shared_gabor_parameters(out, counted)
        counted += out
        kernels = torch.stack([gabor_kernel(size, *(float(params[k][o]) for k in GABOR_RANGES),
                                            grid=grid) for o in range(out)])
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


def group_mean(weights: list[torch.Tensor], mean: str = "raw") -> torch.Tensor:
    """The mean of aligned (out, ...) filters over models. `mean="unit"` (the original) first
    scales every whole filter to unit norm, so the result's scale is set by how well the
    filters agree, not by the trained filters' size; "raw" averages the weights as they are."""
    if mean not in ALIGNED_MEANS:
        raise ValueError(f"unknown aligned mean {mean!r}; choose one of {', '.join(ALIGNED_MEANS)}")
    stack = torch.stack([w.detach().cpu() for w in weights])
    if mean == "unit":
        norms = stack.flatten(2).norm(dim=2).clamp_min(1e-12)
        stack = stack / norms.view(*norms.shape, *([1] * (stack.dim() - 2)))
    return stack.mean(0)


@register("aligned")
@torch.no_grad()
def aligned_mean(model: nn.Module, sources: list[nn.Module], layers: int,
                 matching: str = "greedy", order: str = "filters",
                 mean: str = "raw") -> nn.Module:
    """Set the first `layers` conv layers to the mean of the sources' aligned filters (the
    sources themselves are left untouched: copies are aligned). `order`: the greedy matching's
    walk (`matching.greedy_match`); `mean`: see `group_mean`."""
    copies = [copy.deepcopy(m).cpu() for m in sources]
    names = align_models(copies, layers, matching, order)
    for name in names:
        new = group_mean([m.get_submodule(name).weight for m in copies], mean)
        target = model.get_submodule(name).weight
        target.copy_(new.to(target))
    return model
