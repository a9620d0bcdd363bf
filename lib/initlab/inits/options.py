"""Per-init options: YAML text or a mapping, init name -> {option: value}.

`-p init_options "{orthogonal: {gain: 1.4}}"` (or a notebook's `overrides`) gives each init of
a study's `inits` its keyword arguments. Keys are init names as written in `inits`, or a
function's name alone; options are YAML scalars or lists of them, kept as tuples so that the
settings holding them stay hashable and name a run one way.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import yaml

RESERVED = ("model", "seed", "data")  # what a study passes itself: never a user's option
OPTIONS_EXAMPLE = '"{orthogonal: {gain: 1.4}}"'


def parse_options(text: str | Mapping | None) -> dict[str, dict[str, Any]]:
    """Init name -> its options, from YAML text (`-p init_options "{orthogonal: {gain: 1.4}}"`)
    or a mapping; "" or None -> {}. One ValueError line for bad YAML or a wrong shape."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return {}
    value = text
    if isinstance(text, str):
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as error:
            where = getattr(error, "problem", None) or type(error).__name__
            raise ValueError(f"init_options: not valid YAML ({where}) in {text!r}; write e.g. "
                             f"{OPTIONS_EXAMPLE}") from None
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"init_options must map init names to their options, e.g. "
                         f"{OPTIONS_EXAMPLE}; got {text!r}")
    parsed = {}
    for name, options in value.items():
        if options is not None and not isinstance(options, Mapping):
            raise ValueError(f"init_options: the options of {name!r} must be a mapping "
                             f"(option: value), got {options!r}")
        parsed[str(name)] = {str(k): _frozen_value(name, k, v) for k, v in (options or {}).items()}
        for key in parsed[str(name)]:
            if not key.isidentifier() or key in RESERVED:
                raise ValueError(f"init_options: {name!r} cannot take an option {key!r} "
                                 f"(options are keyword names other than {', '.join(RESERVED)})")
    return parsed


def _frozen_value(name: Any, key: Any, value: Any) -> Any:
    """Options are YAML scalars or lists of them (kept as tuples: a run's settings hash)."""
    if isinstance(value, (list, tuple)):
        return tuple(_frozen_value(name, key, v) for v in value)
    if isinstance(value, Mapping):
        raise ValueError(f"init_options: option {key!r} of {name!r} is a mapping; options are "
                         "numbers, strings, booleans or lists of them")
    return value


def options_for(options: Mapping[str, Mapping[str, Any]], name: str) -> dict[str, Any]:
    """The options given for init `name`: under the name as written in `inits`, or under its
    function's name alone ('orthogonal' for 'mypkg.inits:orthogonal')."""
    short = name.rpartition(":")[2].rpartition(".")[2]
    if name in options:
        return dict(options[name])
    return dict(options.get(short, {})) if short != name else {}


def check_options(options: Mapping[str, Any] | InitOptions, names: Sequence[str]) -> None:
    """Each key of `options` (a mapping or a settings' `InitOptions`) names one of the inits
    `names` (a typo fails, not ignored)."""
    if isinstance(options, InitOptions):
        options = options.as_dict()
    known = set(names) | {n.rpartition(":")[2].rpartition(".")[2] for n in names}
    unknown = [k for k in options if k not in known]
    if unknown:
        raise ValueError(f"init_options names {', '.join(map(repr, unknown))}, which are not "
                         f"among the inits {', '.join(names)}")


class InitOptions(tuple):
    """A settings value: init name -> options, from YAML text or a mapping, kept as a sorted
    tuple of (name, ((option, value), ...)) so settings stay hashable and hash one way."""

    PARSES_SETTING = True  # settings coercion shows its error messages as they are

    def __new__(cls, value: str | Mapping | Sequence = ()):
        parsed = parse_options(value) if isinstance(value, (str, Mapping)) or value is None \
            else parse_options({name: dict(options) for name, options in value})
        return super().__new__(cls, tuple(sorted((name, tuple(sorted(options.items())))
                                                 for name, options in parsed.items())))

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {name: dict(options) for name, options in self}

    def get(self, name: str) -> dict[str, Any]:
        return options_for(self.as_dict(), name)

    def __repr__(self) -> str:
        return yaml.safe_dump(_plain(self.as_dict()), default_flow_style=True,
                              width=1 << 20).strip()

    __str__ = __repr__


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return [_plain(v) for v in value] if isinstance(value, tuple) else value
