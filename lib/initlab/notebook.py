"""What every study notebook does first and last: check its parameters, load its settings, set
the style (`setup`); put its outputs in place (`publish`).

Papermill injects parameters as plain assignments in a cell headed `# Parameters`; a mistyped
name would silently become an unused variable. `setup` reads that cell back from IPython's
input history and rejects names the notebook does not take, and checks each value's type,
before anything trains.

Outputs are staged, whoever runs the notebook: `setup` hands it a fresh folder in
`figures/<output>/.staging/` and the notebook's last cell, `notebook.publish(out)`, swaps it in
for `figures/<output>/<study>/` (old folder renamed aside, new one renamed in, old one
deleted). A notebook stopped before its last cell (an error, Ctrl-C, a killed kernel) leaves
the good outputs as they were; the next `setup` removes stagings of dead kernels. `initlab
run` passes its own staging folder as `output_dir` and puts it in place itself once the
notebook has run (adding the executed notebook and its log): then `publish` leaves it be.
"""

from __future__ import annotations

import ast
import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

from initlab import paths, plots, profiles
from initlab.tempfiles import clean_stale, temp_path
from initlab.training.cluster import Cluster
from initlab.training.runtime import Runtime

PARAMETERS = {"profile": str, "device": str, "torch_compile": bool, "threads": int,
              "progress": str, "train": bool, "overrides": dict, "cluster": dict,
              "output_dir": str}
STAGING = ".staging"  # beside the study folders: staged outputs, never taken for a study's
_STAGED: dict[Path, Path] = {}  # staging folder -> the study folder it replaces on publish


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

    Returns (settings, runtime, output folder): a staging folder that the notebook's last
    cell hands to `publish`."""
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
    if output_dir:
        out = Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
    else:
        out = stage(paths.figures_dir(paths.output_name(profile, overrides)) / study)
    return cfg, runtime, out


def stage(target: Path) -> Path:
    """A fresh, empty folder whose contents `publish` will put in place of `target`."""
    staging_root = target.parent / STAGING
    clean_stale(staging_root)  # what killed kernels left
    staging = temp_path(staging_root / target.name)
    shutil.rmtree(staging, ignore_errors=True)  # this kernel's earlier setup, if rerun
    staging.mkdir(parents=True)
    _STAGED[staging] = target
    return staging


def publish(out: Path) -> Path:
    """The notebook's last cell: put the outputs staged in `out` in place of the study's
    folder; return where they are now. A folder that `setup` did not stage (the runner's
    `output_dir`) is left for its owner to put in place."""
    target = _STAGED.pop(Path(out), None)
    if target is None:
        return Path(out)
    replace_folder(Path(out), target)
    with contextlib.suppress(OSError):  # the staging root, once no other kernel uses it
        Path(out).parent.rmdir()
    return target


def replace_folder(new: Path, target: Path) -> None:
    """Put folder `new` where `target` is: the old one renamed aside, the new one renamed in,
    the old one deleted (a rename cannot replace a non-empty folder in one step)."""
    old = target.with_name(f"{target.name}.old-{os.getpid()}")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)
