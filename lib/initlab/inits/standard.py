"""The standard schemes: Kaiming, Xavier, fixed-scale normal and uniform (biases zeroed), and
PyTorch's own per-layer default."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from initlab.inits.registry import Initializer, register


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


@register("xavier_normal")
def xavier_normal(model: nn.Module, seed: int | None = None, gain: float = 1.0) -> nn.Module:
    """Glorot's normal draw, std = gain * sqrt(2 / (fan_in + fan_out)); `gain` defaults to
    PyTorch's 1, and sqrt(2) (`nn.init.calculate_gain("relu")`) is what study 03's original
    code used for ReLU networks."""
    return _standard(lambda w: nn.init.xavier_normal_(w, gain=gain))(model, seed=seed)


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
