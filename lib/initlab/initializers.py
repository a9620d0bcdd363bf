"""One registry of initialization methods: `initialize(model, method, **options)`.

Every method works in place on a freshly built model and returns it, and every random draw
takes a `seed`, so a study can give all methods the same starting point for the layers a
method does not touch (a paired comparison).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from initlab.similarity import (
    HIGHER_IS_MORE_SIMILAR,
    align_to,
    kernel_slices,
    pairwise,
    set_kernel_slices,
)

Initializer = Callable[..., nn.Module]
_REGISTRY: dict[str, Initializer] = {}


def register(name: str) -> Callable[[Initializer], Initializer]:
    def wrap(fn: Initializer) -> Initializer:
        _REGISTRY[name] = fn
        return fn

    return wrap


def methods() -> tuple[str, ...]:
    return tuple(sorted(_REGISTRY))


def initialize(model: nn.Module, method: str, **options) -> nn.Module:
    """Initialize `model` in place with a registered method; returns the model."""
    if method not in _REGISTRY:
        raise ValueError(f"unknown init method {method!r}; choose one of {', '.join(methods())}")
    return _REGISTRY[method](model, **options)


def _weighted(model: nn.Module):
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _standard(draw: Callable[[torch.Tensor], None]) -> Initializer:
    """A scheme that draws every conv/linear weight with `draw` and zeroes the biases."""

    @torch.no_grad()
    def init(model: nn.Module, seed: int | None = None) -> nn.Module:
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            for module in _weighted(model):
                draw(module.weight)
                if module.bias is not None:
                    module.bias.zero_()
        return model

    return init


register("kaiming_uniform")(_standard(lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu")))
register("kaiming_normal")(_standard(lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu")))
register("xavier_normal")(_standard(nn.init.xavier_normal_))
register("normal")(_standard(lambda w: nn.init.normal_(w, 0.0, 0.05)))
register("uniform")(_standard(lambda w: nn.init.uniform_(w, -0.025, 0.025)))


@register("default")
@torch.no_grad()
def default(model: nn.Module, seed: int | None = None) -> nn.Module:
    """PyTorch's own per-layer initialization (what the original studies' 'random' used)."""
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        for module in model.modules():
            if module is not model and hasattr(module, "reset_parameters"):
                module.reset_parameters()
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


def stacked_kernels(models: list[nn.Module], aligned: bool = False) -> torch.Tensor:
    """(models, kernels, k, k): every model's kernels, optionally aligned to the first model."""
    if aligned:
        import copy

        models = [models[0]] + [copy.deepcopy(m) for m in models[1:]]
        for m in models[1:]:
            align_to(models[0], m)
    return torch.stack([kernel_slices(m) for m in models])


@register("shrink_perturb")
@torch.no_grad()
def shrink_perturb(
    model: nn.Module, source: nn.Module, shrink: float = 0.4, perturb: float = 0.1
) -> nn.Module:
    """theta <- shrink * theta_source + perturb * theta_model (Ash and Adams, 2020).

    `model` must be freshly initialized: its current parameters are the 'fresh' draw.
    """
    source_params = dict(source.named_parameters())
    for name, param in model.named_parameters():
        param.mul_(perturb).add_(source_params[name].to(param.device), alpha=shrink)
    return model


# Methods with heavier machinery live in their own modules and register themselves here on
# import (kept at the bottom: they use `register`). One line per module.
from initlab import init_agop  # noqa: E402, F401
from initlab import clustering  # noqa: E402, F401
from initlab import alignment  # noqa: E402, F401
import initlab.perturb  # noqa: E402, F401  (a bare name would shadow shrink_perturb's argument)
