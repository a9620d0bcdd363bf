"""Where the project lives on disk, independent of the working directory.

JupyterLab starts kernels in `notebooks/`, papermill in the repository root, a test in a
temporary folder: every path the package writes must resolve to the same place in all three.
`INITLAB_ROOT` overrides the search; `INITLAB_DATA` overrides the data folder alone.
`check_folders` says what is wrong with a folder (a symlink loop, a file, read-only) when a
command starts, in one line, rather than in a notebook cell later.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
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


def figures_root() -> Path:
    """`figures/` (`INITLAB_FIGURES` replaces it)."""
    base = os.environ.get("INITLAB_FIGURES")
    return Path(base).expanduser().resolve() if base else project_root() / "figures"


def figures_dir(output: str, study: str | None = None) -> Path:
    """`figures/<output>/<study>/` (`INITLAB_FIGURES` replaces `figures/`), created on demand;
    `output` is a profile or a variant named by `output_name`."""
    folder = figures_root() / output
    if study:
        folder = folder / study
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


FOLDERS = {"data": ("INITLAB_DATA", data_dir), "store": ("INITLAB_STORE", store_dir),
           "figures": ("INITLAB_FIGURES", figures_root)}


def check_folders(read: Iterable[str] = (), write: Iterable[str] = ()) -> None:
    """Check the folders a command reads and writes ("data", "store", "figures").

    Raises ValueError naming the folder, the variable that set it and what is wrong: a
    symlink loop, a file where a folder should be, a folder that cannot be read, written or
    created. A folder that does not exist yet is fine when it can be created."""
    write = set(write)
    for name, (variable, where) in FOLDERS.items():
        if name not in write and name not in read:
            continue
        label = f"{name} folder" + (f" ({variable}={os.environ[variable]})"
                                    if os.environ.get(variable) else "")
        try:
            folder = where()
        except (RuntimeError, OSError) as error:  # resolve(): "Symlink loop from ..."
            raise ValueError(f"{label}: {_reason(error)}") from None
        if problem := _problem(folder, name in write):
            raise ValueError(f"{label} {folder} {problem}")


def _reason(error: BaseException) -> str:
    text = str(error)
    return "is a symbolic link loop" if "loop" in text.lower() else text


def _problem(folder: Path, write: bool) -> str | None:
    """What is wrong with `folder` for reading (and writing), or None."""
    if folder.is_symlink() and not folder.exists():
        try:
            folder.resolve()
        except (RuntimeError, OSError) as error:
            return _reason(error)
        return f"is a symbolic link to {os.readlink(folder)}, which does not exist"
    if folder.exists():
        if not folder.is_dir():
            return "is a file, not a folder"
        if not os.access(folder, os.R_OK | os.X_OK):
            return "cannot be read"
        return "cannot be written (read-only?)" if write and not writable(folder) else None
    parent = next(p for p in folder.parents if p.exists() or p == p.parent)
    if not parent.is_dir():
        return f"cannot be created: {parent} is a file, not a folder"
    if write and not writable(folder):
        return f"does not exist and cannot be created in {parent} (read-only?)"
    return None


def writable(folder: Path) -> bool:
    """Whether a file can be created in `folder`, or in the nearest existing folder above it
    when it does not exist yet (tried: permissions say nothing of a read-only mount to
    root)."""
    existing = next(p for p in (folder, *folder.parents) if p.exists() or p == p.parent)
    try:
        with tempfile.TemporaryFile(dir=existing):
            return True
    except OSError:
        return False
