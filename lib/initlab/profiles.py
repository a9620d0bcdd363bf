"""The studies' settings by name, under a profile: `load(study, profile, **overrides)`.

Each study's dataclass lives in its own package (`studies/<study>/settings.py`); this module
only maps study names to them, so notebooks, the runner and the CLI find a study's settings.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from initlab.settings import PROFILES, check_dataset_fields, check_overrides  # noqa: F401
from initlab.studies.agop_nfm_init.settings import AgopNfmSettings
from initlab.studies.baselines_transfer.settings import BaselinesTransferSettings
from initlab.studies.clustered_init.settings import ClusteredInitSettings
from initlab.studies.parameter_dynamics.settings import ParameterDynamicsSettings
from initlab.studies.warm_start.settings import WarmStartSettings

STUDIES: dict[str, type] = {"01_warm_start": WarmStartSettings,
                            "02_clustered_init": ClusteredInitSettings,
                            "03_agop_nfm_init": AgopNfmSettings,
                            "04_baselines_transfer": BaselinesTransferSettings,
                            "05_parameter_dynamics": ParameterDynamicsSettings}


def settings_class(study: str) -> type:
    if study not in STUDIES:
        raise ValueError(f"unknown study {study!r}; choose one of {', '.join(STUDIES)}")
    return STUDIES[study]


def load(study: str, profile: str = "smoke", **overrides: Any):
    """The settings of `study` under `profile`, with `overrides` checked and applied.

    `as_run=True` (a setting of every study) first applies the class's `AS_RUN` values, the
    original code's behaviour for each difference the study documents; any other override
    the user gave still wins over them."""
    cls = settings_class(study)
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    given = check_overrides(cls, overrides)
    values = check_overrides(cls, dict(cls.PROFILES[profile]))
    if given.get("as_run", values.get("as_run", False)):
        values.update(check_overrides(cls, dict(getattr(cls, "AS_RUN", {}))))
    settings = cls(**{**values, **given})
    check_dataset_fields(settings)
    return settings


def describe(study: str) -> dict[str, dict[str, Any]]:
    """profile -> every setting's value, for `initlab list`."""
    return {p: dataclasses.asdict(load(study, p)) for p in PROFILES}
