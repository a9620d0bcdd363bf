"""A named registry: the one pattern behind `models.build_model` and `inits.initialize`.

A settings dataclass names a model or an init with a string (so the store can hash it); the
registry maps that string to the function, and an unknown name fails with the valid ones.
"""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

T = TypeVar("T", bound=Callable)


class Registry(Generic[T]):
    """Functions by name, filled by the `register(name)` decorator."""

    def __init__(self, kind: str):
        self.kind = kind  # what a name names, for messages ("model", "init method")
        self._functions: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def wrap(function: T) -> T:
            self._functions[name] = function
            return function

        return wrap

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._functions))

    def get(self, name: str) -> T:
        if name not in self._functions:
            raise ValueError(f"unknown {self.kind} {name!r}; choose one of "
                             f"{', '.join(self.names())}")
        return self._functions[name]
