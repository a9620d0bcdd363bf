"""Every architecture the studies use, behind one registry.

`build_model(name, num_classes, in_channels, width)` is the only constructor the studies call,
so a settings dataclass can name a model with a string and the store can hash it. The
architectures live in sub-modules (`small`, and one per family) that register themselves
when this package is imported.
"""

from __future__ import annotations

import copy
from typing import Callable

import torch
from torch import nn

ModelFactory = Callable[..., nn.Module]
_REGISTRY: dict[str, ModelFactory] = {}


def register(name: str) -> Callable[[ModelFactory], ModelFactory]:
    def wrap(factory: ModelFactory) -> ModelFactory:
        _REGISTRY[name] = factory
        return factory

    return wrap


def model_names() -> tuple[str, ...]:
    return tuple(sorted(_REGISTRY))


def build_model(
    name: str, num_classes: int, in_channels: int = 1, width: float = 1.0, **options
) -> nn.Module:
    """Build a fresh, randomly initialized model (PyTorch's default init)."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(model_names())}")
    if num_classes < 1 or in_channels < 1 or width <= 0:
        raise ValueError(
            f"bad model shape: num_classes={num_classes}, in_channels={in_channels}, width={width}"
        )
    return _REGISTRY[name](num_classes=num_classes, in_channels=in_channels, width=width, **options)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def conv_layers(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """The model's Conv2d layers in definition order, with their qualified names."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def fresh_copy(model: nn.Module, seed: int | None = None) -> nn.Module:
    """A same-architecture model with newly drawn default parameters (for shrink-and-perturb)."""
    clone = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        for module in clone.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
    return clone


# Architectures register themselves on import (kept at the bottom: they use `register`).
# One line per module.
from initlab.models import small  # noqa: E402, F401
from initlab.models import resnet  # noqa: E402, F401
from initlab.models import vgg  # noqa: E402, F401
