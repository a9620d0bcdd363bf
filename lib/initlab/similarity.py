"""Filter similarity, distances and permutation alignment.

Filters of independently trained networks are not ordered alike: filter 3 of one model may do
the job of filter 0 of another. Comparing filters index by index (the original study) mixes
that permutation noise into the similarity; `align_to` removes it first by weight matching
(an optimal assignment per layer, scipy's linear_sum_assignment).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
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


def matching(reference: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """Permutation p maximizing sum_i <reference[i], other[p[i]]> (rows are flattened filters)."""
    score = reference.flatten(1).double() @ other.flatten(1).double().T
    rows, cols = linear_sum_assignment(score.numpy(), maximize=True)
    return torch.as_tensor(cols[np.argsort(rows)])


@torch.no_grad()
def permute_outputs(model: nn.Module, conv_name: str, perm: torch.Tensor) -> None:
    """Reorder one conv layer's output channels and every consumer of them.

    The model computes the same function afterwards. Consumers are found in module order:
    a BatchNorm2d right after the conv, then the next Conv2d (its input channels) or, after a
    flatten, the next Linear (its input features, in channel-sized blocks). This covers plain
    feed-forward CNNs; networks with skip connections need their own rule.
    """
    modules = list(model.named_modules())
    index = next(i for i, (n, _) in enumerate(modules) if n == conv_name)
    conv = modules[index][1]
    conv.weight.copy_(conv.weight[perm])
    if conv.bias is not None:
        conv.bias.copy_(conv.bias[perm])
    for _, module in modules[index + 1 :]:
        if isinstance(module, nn.BatchNorm2d):
            for t in (module.weight, module.bias, module.running_mean, module.running_var):
                if t is not None:
                    t.copy_(t[perm])
        elif isinstance(module, nn.Conv2d):
            module.weight.copy_(module.weight[:, perm])
            return
        elif isinstance(module, nn.Linear):
            block = module.in_features // len(perm)
            cols = (perm.view(-1, 1) * block + torch.arange(block)).flatten()
            module.weight.copy_(module.weight[:, cols])
            return


@torch.no_grad()
def align_to(reference: nn.Module, model: nn.Module) -> list[torch.Tensor]:
    """Permute `model`'s conv channels, layer by layer, to match `reference` (weight matching).

    Each layer's inputs are already permuted by the previous step, so filters are compared in
    the reference's channel order. Returns the permutation of every conv layer.
    """
    perms = []
    ref_convs = dict(conv_layers(reference))
    for name, conv in conv_layers(model):
        perm = matching(ref_convs[name].weight.cpu(), conv.weight.cpu())
        permute_outputs(model, name, perm.to(conv.weight.device))
        perms.append(perm)
    return perms


from initlab.agop import agop, agop_bruteforce, ansatz_correlation, nfm  # noqa: E402, F401
