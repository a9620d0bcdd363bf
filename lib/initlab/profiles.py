"""Every study's settings: one frozen dataclass per study, with its three profiles.

The dataclass defaults are the original protocol (`paper`); `smoke` and `quick` list only
what they change. A run is named by the hash of the settings that differ from the defaults
(see `store.run_name`); fields marked `metadata={"hash": False}` (how many iterations, say)
do not name a run, so asking for more iterations reuses the ones already stored.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar

PROFILES = ("smoke", "quick", "paper")
NOISES = ("perspective", "blur", "gaussian", "erasing", "elastic", "rotation")


def not_hashed(default: Any) -> Any:
    return field(default=default, metadata={"hash": False})


@dataclass(frozen=True)
class WarmStartSettings:
    """Study 01: warm start from similar filters (STUDIES.md section 01)."""

    dataset: str = "mnist"
    noises: tuple[str, ...] = NOISES  # one disjoint noisy subset, and one model, per noise
    subset_size: int = 10_000
    train_size: int = 0  # 0 = the whole training set for the warm-started runs
    epochs: int = 1
    batch_size: int = 64
    lr: float = 1e-3
    metrics: tuple[str, ...] = ("cosine", "pearson", "frobenius")
    shrink: float = 0.4  # shrink-and-perturb baseline (Ash and Adams, 2020)
    perturb: float = 0.1
    seed: int = 0  # an iteration's seed is seed + iteration index
    iterations: int = not_hashed(10)

    PROFILES: ClassVar[dict[str, dict[str, Any]]] = {
        "smoke": dict(dataset="digits", subset_size=230, epochs=3, iterations=2),
        "quick": dict(iterations=3),
        "paper": dict(),
    }


STUDIES: dict[str, type] = {"01_warm_start": WarmStartSettings}


def settings_class(study: str) -> type:
    if study not in STUDIES:
        raise ValueError(f"unknown study {study!r}; choose one of {', '.join(STUDIES)}")
    return STUDIES[study]


def load(study: str, profile: str = "smoke", **overrides: Any):
    """The settings of `study` under `profile`, with `overrides` checked and applied."""
    cls = settings_class(study)
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    values = {**cls.PROFILES[profile], **overrides}
    return cls(**check_overrides(cls, values))


def check_overrides(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """Reject unknown names and coerce values to the field's type (CLI strings included)."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    checked = {}
    for key, value in values.items():
        if key not in names:
            raise ValueError(
                f"unknown parameter {key!r} for {cls.__name__}; valid names: {', '.join(names)}"
            )
        checked[key] = _coerce(key, value, hints[key])
    return checked


def _coerce(key: str, value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is tuple:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise TypeError(f"parameter {key!r} wants a list, got {value!r}")
        item_type = typing.get_args(hint)[0]
        return tuple(_coerce(key, item, item_type) for item in items)
    try:
        if hint is bool and isinstance(value, str):
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError(value)
            return value.lower() in ("true", "1")
        if hint is int and (isinstance(value, bool) or (isinstance(value, float) and value % 1)):
            raise ValueError(value)
        return hint(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"parameter {key!r} wants a {hint.__name__}, got {value!r}"
        ) from None


def describe(study: str) -> dict[str, dict[str, Any]]:
    """profile -> every setting's value, for `initlab list`."""
    return {p: dataclasses.asdict(load(study, p)) for p in PROFILES}
