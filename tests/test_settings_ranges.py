"""Every setting of every study is checked when the settings are built, before any kernel.

Walks every field of every settings class and gives it values no study can use (not a
number, infinite, negative, an unknown name); each must fail in
`profiles.load` with one line naming the field. The few fields for which such a value is
genuinely valid are listed below with the reason, so a new field is checked by default.
"""

from __future__ import annotations

import dataclasses
import math
import typing

import pytest

from initlab import profiles

NUMBER_PROBES = (math.nan, math.inf, -1)
INT_PROBES = (-1,)
TEXT_PROBE = "no-such-value"
# (study, field, probe) that a study accepts on purpose, and why
VALID: dict[tuple[str, str, object], str] = {}


def _probes(hint) -> tuple:
    if typing.get_origin(hint) is tuple:
        hint = typing.get_args(hint)[0]
        if hint is str:
            return ((TEXT_PROBE,),)
        return tuple((probe,) for probe in _probes(hint))
    if hint is bool:
        return ()
    if hint is int:
        return INT_PROBES
    if hint is float:
        return NUMBER_PROBES
    if hint is str:
        return (TEXT_PROBE,)
    return ()


def _cases():
    for study, cls in profiles.STUDIES.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            for probe in _probes(hints[f.name]):
                if ({(study, f.name, probe), ("*", f.name, probe), ("*", f.name, None)}
                        & set(VALID)):
                    continue
                yield pytest.param(study, f.name, probe, id=f"{study}-{f.name}-{probe}")


@pytest.mark.parametrize(("study", "name", "value"), list(_cases()))
def test_a_value_no_study_can_use_fails_when_the_settings_are_built(study, name, value):
    with pytest.raises((ValueError, TypeError)) as error:
        profiles.load(study, "smoke", **{name: value})
    assert name in str(error.value).splitlines()[0]
    assert len(str(error.value).splitlines()) == 1
