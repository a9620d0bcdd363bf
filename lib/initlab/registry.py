"""A named registry: the one pattern behind `models.build_model` and `inits.initialize`.

A settings dataclass names a model or an init with a string (so the store can hash it); the
registry maps that string to the function, and an unknown name fails with the valid ones.
The modules that register the package's own functions may be named up front (`modules`):
they are imported on the first lookup, not with the registry, so code that only checks
names (settings, `initlab list`) does not pay for what those modules import (torch).
"""

from __future__ import annotations

import importlib
from typing import Callable, Generic, TypeVar

T = TypeVar("T", bound=Callable)


class Registry(Generic[T]):
    """Functions by name, filled by the `register(name)` decorator."""

    def __init__(self, kind: str, modules: tuple[str, ...] = ()):
        self.kind = kind  # what a name names, for messages ("model", "init method")
        self._modules = modules  # imported on first lookup; each registers its functions
        self._loaded = not modules
        self._table: dict[str, T] = {}

    @property
    def _functions(self) -> dict[str, T]:
        """Every registered function by name, the `modules`' imported first (once)."""
        if not self._loaded:
            self._loaded = True  # first: the modules' own `register` calls land here
            for module in self._modules:
                importlib.import_module(module)
        return self._table

    @_functions.setter
    def _functions(self, table: dict[str, T]) -> None:
        self._table = table

    def register(self, name: str) -> Callable[[T], T]:
        def wrap(function: T) -> T:
            self._table[name] = function
            return function

        return wrap

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._functions))

    def get(self, name: str) -> T:
        if name not in self._functions:
            raise ValueError(f"unknown {self.kind} {name!r}; choose one of "
                             f"{', '.join(self.names())}")
        return self._functions[name]
