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

from initlab import paths, plots, profiles
from initlab.training.cluster import Cluster
from initlab.training.runtime import Runtime

PARAMETERS = {"profile": str, "device": str, "torch_compile": bool, "threads": int,
              "progress": str, "train": bool, "overrides": dict, "cluster": dict,
              "output_dir": str}


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
    """Check the parameters, build the runtime and load the settings; set the plot style.

    Returns (settings, runtime, output folder)."""
    check_parameters(study, namespace)
    runtime = Runtime(namespace.get("device", "auto"), namespace.get("torch_compile", False),
                      namespace.get("threads", 0), namespace.get("progress", "auto"),
                      Cluster.from_dict(namespace.get("cluster", {})))
    runtime.apply()  # one CPU thread policy for everything this kernel computes
    profile = namespace.get("profile", "smoke")
    cfg = profiles.load(study, profile, **namespace.get("overrides", {}))
    plots.use_style()
    overrides = namespace.get("overrides", {})
    output_dir = namespace.get("output_dir", "")  # the runner's staging folder, if any
    out = Path(output_dir) if output_dir else paths.figures_dir(
        paths.output_name(profile, overrides), study)
    out.mkdir(parents=True, exist_ok=True)
    return cfg, runtime, out
