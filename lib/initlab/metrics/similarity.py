"""Filter similarity: |cosine|, |Pearson r| and the Frobenius distance between 2-D kernels,
index by index across models (study 01). Aligning the models first is `matching.align_to`."""

from __future__ import annotations

from itertools import combinations

import torch
from torch import nn

from initlab.models import conv_layers

METRICS = ("cosine", "pearson", "frobenius")
HIGHER_IS_MORE_SIMILAR = {"cosine": True, "pearson": True, "frobenius": False}


def filter_similarity(a: torch.Tensor, b: torch.Tensor, metric: str) -> torch.Tensor:
    """Row-wise similarity of flattened filters: |cosine|, |Pearson r| or Frobenius distance.

    `a` and `b` are kernels of shape (..., k, k); the result has the leading shape. Absolute
    values because a filter and its negative detect the same edge, as the original counted them.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    if a.shape != b.shape or a.dim() < 2:
        raise ValueError(f"need two (..., k, k) tensors of one shape, got {a.shape} and {b.shape}")
    a, b = a.flatten(-2).double(), b.flatten(-2).double()
    if metric == "frobenius":
        return (a - b).norm(dim=-1)
    if metric == "pearson":
        a = a - a.mean(-1, keepdim=True)
        b = b - b.mean(-1, keepdim=True)
    denom = a.norm(dim=-1) * b.norm(dim=-1)
    return ((a * b).sum(-1) / denom.clamp_min(1e-12)).abs()


def kernel_slices(model: nn.Module) -> torch.Tensor:
    """Every 2-D kernel of every conv layer, in layer then (out, in) order: (n, k, k)."""
    slices = [conv.weight.detach().reshape(-1, *conv.kernel_size) for _, conv in conv_layers(model)]
    sizes = {tuple(s.shape[1:]) for s in slices}
    if len(sizes) != 1:
        raise ValueError(f"conv layers have different kernel sizes {sorted(sizes)}")
    return torch.cat(slices).cpu()


@torch.no_grad()
def set_kernel_slices(model: nn.Module, slices: torch.Tensor) -> None:
    """Inverse of `kernel_slices`: write (n, k, k) kernels back into the conv layers."""
    start = 0
    for _, conv in conv_layers(model):
        count = conv.weight[:, :, 0, 0].numel()
        conv.weight.copy_(slices[start : start + count].reshape(conv.weight.shape))
        start += count
    if start != len(slices):
        raise ValueError(f"model has {start} kernels, got {len(slices)}")


def pairwise(filter_sets: torch.Tensor, metric: str) -> tuple[list[tuple[int, int]], torch.Tensor]:
    """Compare filter i of model a with filter i of model b for every pair a < b.

    `filter_sets` is (models, filters, k, k); returns the pairs and a (pairs, filters) tensor.
    """
    pairs = list(combinations(range(len(filter_sets)), 2))
    a = filter_sets[[p[0] for p in pairs]]
    b = filter_sets[[p[1] for p in pairs]]
    return pairs, filter_similarity(a, b, metric)
