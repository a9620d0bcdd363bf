"""The one registry of initialization methods: `initialize(model, method, **options)`.

Every initializer module imports `register` from here and decorates its methods; the package's
`__init__` imports each module once, so `initialize` knows every method and nothing imports
back up. A method works in place on a freshly built model and returns it; every random draw
takes a `seed`, so a study can give all methods the same start for the layers a method leaves
alone (a paired comparison).
"""

from __future__ import annotations

from typing import Callable

from torch import nn

from initlab.registry import Registry

Initializer = Callable[..., nn.Module]
INITIALIZERS: Registry[Initializer] = Registry("init method")
register = INITIALIZERS.register


def methods() -> tuple[str, ...]:
    return INITIALIZERS.names()


def initialize(model: nn.Module, method: str, **options) -> nn.Module:
    """Initialize `model` in place with a registered method; returns the model."""
    return INITIALIZERS.get(method)(model, **options)
