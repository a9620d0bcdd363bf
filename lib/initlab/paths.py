"""Where the project lives on disk, independent of the working directory.

JupyterLab starts kernels in `notebooks/`, papermill in the repository root, a test in a
temporary folder: every path the package writes must resolve to the same place in all three.
`INITLAB_ROOT` overrides the search; `INITLAB_DATA` overrides the data folder alone.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

_MARKERS = ("pyproject.toml", "notebooks")


def _looks_like_root(folder: Path) -> bool:
    return all((folder / marker).exists() for marker in _MARKERS)


def project_root() -> Path:
    """The repository root: `INITLAB_ROOT`, else the checkout holding this package, else cwd."""
    if env := os.environ.get("INITLAB_ROOT"):
        return Path(env).expanduser().resolve()
    here = Path(__file__).resolve()
    for folder in here.parents:  # editable install: lib/initlab/paths.py -> repo root
        if _looks_like_root(folder):
            return folder
    cwd = Path.cwd().resolve()
    for folder in (cwd, *cwd.parents):
        if _looks_like_root(folder):
            return folder
    return cwd


def data_dir() -> Path:
    """Downloads and data sets: `INITLAB_DATA`, else `<root>/data`."""
    if env := os.environ.get("INITLAB_DATA"):
        return Path(env).expanduser().resolve()
    return project_root() / "data"


def store_dir() -> Path:
    """The results store: `INITLAB_STORE`, else `<root>/data/store`."""
    if env := os.environ.get("INITLAB_STORE"):
        return Path(env).expanduser().resolve()
    return project_root() / "data" / "store"


def output_name(profile: str, overrides: dict | None = None) -> str:
    """The outputs' folder name: the profile, or with overrides `<profile>+<key>=<value>,...`
    (a hash when that gets long), so a variant never writes over the profile's outputs."""
    if not overrides:
        return profile
    values = {k: re.sub(r"\s*,\s*", ",", str(v).strip()) for k, v in overrides.items()}
    text = ",".join(f"{k}={v}" for k, v in sorted(values.items()))
    slug = re.sub(r"[^A-Za-z0-9_.,=-]+", "_", text)
    if len(slug) > 60:
        slug = hashlib.sha256(text.encode()).hexdigest()[:12]
    return f"{profile}+{slug}"


def figures_dir(output: str, study: str | None = None) -> Path:
    """`figures/<output>/<study>/` (`INITLAB_FIGURES` replaces `figures/`), created on demand;
    `output` is a profile or a variant named by `output_name`."""
    base = os.environ.get("INITLAB_FIGURES")
    folder = (Path(base).expanduser().resolve() if base else project_root() / "figures") / output
    if study:
        folder = folder / study
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def notebooks_dir() -> Path:
    return project_root() / "notebooks"
