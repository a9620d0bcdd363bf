"""What every study notebook does first: check its parameters, load its settings, set the style.

Papermill injects parameters as plain assignments in a cell headed `# Parameters`; a mistyped
name would silently become an unused variable. `setup` reads that cell back from IPython's
input history and rejects names the notebook does not take, and checks each value's type,
before anything trains.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from initlab import devices, paths, plots, profiles

PARAMETERS = {"profile": str, "device": str, "train": bool, "overrides": dict}


def injected_names(namespace: dict[str, Any]) -> set[str]:
    """Names assigned in papermill's injected `# Parameters` cell(s), if any ran."""
    names: set[str] = set()
    for source in namespace.get("In", []) or []:
        if isinstance(source, str) and source.lstrip().startswith("# Parameters"):
            tree = ast.parse(source)
            for node in ast.walk(tree):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    names.add(node.id)
    return names


def check_parameters(study: str, namespace: dict[str, Any]) -> None:
    """Unknown injected names and values of the wrong type fail with the valid choices."""
    fields = ", ".join(vars(profiles.load(study, "paper")))
    unknown = sorted(injected_names(namespace) - set(PARAMETERS))
    if unknown:
        raise ValueError(
            f"unknown notebook parameter(s) {', '.join(unknown)}; this notebook takes "
            f"{', '.join(PARAMETERS)}. Study settings go into `overrides` "
            f"(e.g. -y \"overrides: {{{unknown[0]}: ...}}\"); valid settings: {fields}"
        )
    for name, kind in PARAMETERS.items():
        if name in namespace and not isinstance(namespace[name], kind):
            raise TypeError(f"notebook parameter {name!r} must be a {kind.__name__}, "
                            f"got {namespace[name]!r}")


def setup(study: str, namespace: dict[str, Any]):
    """Check parameters, pick the device, load settings; return (settings, output folder)."""
    check_parameters(study, namespace)
    devices.pick_device(namespace.get("device", "auto"))  # fail now on an absent device
    profile = namespace.get("profile", "smoke")
    cfg = profiles.load(study, profile, **namespace.get("overrides", {}))
    plots.use_style()
    out: Path = paths.figures_dir(profile, study)
    return cfg, out
