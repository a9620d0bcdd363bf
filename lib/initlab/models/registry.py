"""The model registry: `build_model(name, num_classes, in_channels, width, seed=)` is the only
constructor the studies call, so a settings dataclass names a model with a string and the
store hashes it. Architectures register themselves from their family modules, which the
registry imports on its first lookup."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from initlab.registry import Registry

ModelFactory = Callable[..., nn.Module]
MODELS: Registry[ModelFactory] = Registry(
    "model", modules=tuple(f"initlab.models.{family}" for family in ("resnet", "small", "vgg")))
register = MODELS.register


def model_names() -> tuple[str, ...]:
    return MODELS.names()


def build_model(
    name: str, num_classes: int, in_channels: int = 1, width: float = 1.0, *,
    seed: int | None = None, **options
) -> nn.Module:
    """A fresh model with PyTorch's default init; with `seed`, drawn from that seed without
    touching the global RNG (the same model whatever ran before)."""
    factory = MODELS.get(name)
    if num_classes < 1 or in_channels < 1 or width <= 0:
        raise ValueError(
            f"bad model shape: num_classes={num_classes}, in_channels={in_channels}, width={width}"
        )
    if seed is None:
        return factory(num_classes=num_classes, in_channels=in_channels, width=width, **options)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory(num_classes=num_classes, in_channels=in_channels, width=width, **options)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def conv_layers(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """The model's Conv2d layers in definition order, with their qualified names."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
