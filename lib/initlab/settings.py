"""What every study's settings dataclass shares: the profile names, field markers and checks,
and the coercion of user-given values (CLI strings, notebook literals) to the fields' types.

The dataclass defaults are a study's original protocol (`paper`); its `PROFILES` dict lists
only what `smoke` and `quick` change. Fields marked `not_hashed` (how many iterations, say) do
not name a run, so asking for more iterations reuses the ones already stored.
"""

from __future__ import annotations

import dataclasses
import decimal
import math
import typing
from dataclasses import field
from typing import Any

from initlab.data import DATASETS

PROFILES = ("smoke", "quick", "paper")


def not_hashed(default: Any) -> Any:
    return field(default=default, metadata={"hash": False})


def check_choices(name: str, values: Any, choices: tuple) -> None:
    """Each of `values` (one or a tuple) must be one of `choices`."""
    for value in values if isinstance(values, tuple) else (values,):
        if value not in choices:
            raise ValueError(f"{name}: unknown value {value!r}; choose from {', '.join(choices)}")


def check_positive(settings: Any, *names: str) -> None:
    for name in names:
        if getattr(settings, name) <= 0:
            raise ValueError(f"{name} must be positive, got {getattr(settings, name)!r}")


def check_bools(settings: Any, *names: str) -> None:
    """Each of `names` must be a bool (a notebook's `overrides` can hand any object)."""
    for name in names:
        if not isinstance(getattr(settings, name), bool):
            raise ValueError(f"{name} must be true or false, got {getattr(settings, name)!r}")


def check_range(settings: Any, name: str, low: float | None = None, high: float | None = None,
                *, above: float | None = None) -> None:
    """`name` must be a finite number with low <= value <= high (and value > above): one line
    naming the setting and the allowed range, before any kernel starts."""
    value = getattr(settings, name)
    values = value if isinstance(value, tuple) else (value,)
    for item in values:
        bad = not math.isfinite(item) or (low is not None and item < low) \
            or (high is not None and item > high) or (above is not None and item <= above)
        if bad:
            bounds = [f"> {above:g}" if above is not None else "",
                      f">= {low:g}" if low is not None else "",
                      f"<= {high:g}" if high is not None else ""]
            wanted = " and ".join(b for b in bounds if b)
            raise ValueError(f"{name} must be a finite number {wanted}, got {item!r}")


def check_dataset_fields(settings: Any) -> None:
    """Any `dataset`-like setting must name a data set the package can load."""
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if f.name.endswith("dataset") and isinstance(value, str) and value:
            check_choices(f.name, value, DATASETS)


class UnknownSetting(ValueError):
    """A value for a setting the class does not have (the runner names the study with it)."""

    def __init__(self, key: str, cls: type, names: list[str]) -> None:
        super().__init__(f"unknown parameter {key!r} for {cls.__name__}; valid names: "
                         f"{', '.join(names)}")
        self.key, self.names = key, names


def check_overrides(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """Reject unknown names and coerce values to the field's type (CLI strings included)."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    checked = {}
    for key, value in values.items():
        if key not in names:
            raise UnknownSetting(key, cls, names)
        checked[key] = _coerce(key, value, hints[key])
    return checked


_KINDS = {int: "a whole number", float: "a number", bool: "true or false", str: "text"}


def _coerce(key: str, value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is tuple:
        # `-p inits "kaiming_normal, orthogonal"`: the space after a comma is not a name's
        items = [part.strip() for part in value.split(",")] if isinstance(value, str) else value
        if isinstance(items, (int, float)) and not isinstance(items, bool):
            items = [items]  # `-p gabor_layers 1`: YAML reads a one-item list as a number
        if not isinstance(items, (list, tuple)):
            raise TypeError(f"parameter {key!r} wants a list, got {value!r}")
        item_type = typing.get_args(hint)[0]
        return tuple(_coerce(key, item, item_type) for item in items)
    if hint is float:
        return _finite(key, value)
    try:
        if hint is bool and isinstance(value, str):
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError(value)
            return value.lower() in ("true", "1")
        if hint is int and (isinstance(value, bool) or (isinstance(value, float) and value % 1)):
            raise ValueError(value)
        return hint(value)
    except (TypeError, ValueError) as error:
        if getattr(hint, "PARSES_SETTING", False):  # a kind whose errors say what is wrong
            text = str(error)  # (inits.InitOptions): its own message, named once
            raise TypeError(text if text.startswith(key) else f"{key}: {text}") from None
        kind = _KINDS.get(hint, f"a {getattr(hint, '__name__', hint)}")
        raise TypeError(f"parameter {key!r} wants {kind}, got {value!r}") from None


def _finite(key: str, value: Any) -> float:
    """`value` as a float that means what was written: not nan or infinite, and not a number
    written nonzero that rounds to 0 (`1e-400`) or to infinity (`1e400`)."""
    try:
        if isinstance(value, bool):
            raise ValueError(value)
        number = float(value)
    except OverflowError:  # an int beyond a float's range
        number = math.inf
    except (TypeError, ValueError):
        raise TypeError(f"parameter {key!r} wants a number, got {value!r}") from None
    if not math.isfinite(number) or (number == 0 and isinstance(value, str)
                                     and _nonzero(value)):
        raise TypeError(f"parameter {key!r} wants a finite number a float can hold "
                        f"(about 1e-308 to 1e308 in size, or 0), got {value!r}")
    return number


def _nonzero(text: str) -> bool:
    """Whether a number written as text is nonzero (before a float rounds it)."""
    try:
        return decimal.Decimal(text.strip().replace("_", "")) != 0
    except decimal.InvalidOperation:
        return False


def parse_value(text: str) -> Any:
    """`-p iterations 3` -> 3, `-p noises blur,gaussian` -> 'blur,gaussian' (split later).

    Only `true`/`false` mean booleans: YAML 1.1 would also read on/off/yes/no as booleans,
    which turned `-p tiny_imagenet off` into False. A nonzero float YAML rounds to 0
    (`1.0e-400`) stays text, so the settings' coercion rejects it instead of using 0."""
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, bool) and text.strip().lower() not in ("true", "false"):
        return text
    if isinstance(value, float) and value == 0 and _nonzero(text):
        return text
    return value
