"""The inputs stamp: what a study's outputs were made from, kept beside them, so that `initlab
render` (and `run`) executes a notebook again only when something it depends on changed.

A notebook's outputs are a function of: the notebook file; the initlab package (every
`lib/initlab/**/*.py`: hashing all is cheap and never misses a module the study reaches);
the request (profile, `-p` values, the settings they build, device as asked and as "auto"
picks it here, threads, compile, the data folder); the libraries that compute and draw
(versions, and Python's); and the store entries it reads. The store part holds every
finished entry under the study's store folders (`<store>/<study>*`, so its sources and
stored constants too) by name, manifest digest and each file's size and modification time,
and the names of the runs the study plans, present or not (a name hashes the run's full
settings, a user's init function's source included: an edited function plans new runs).
The stamp adds the sha256 of every output file, so a missing or edited output means a new
render.

The stamp (`.inputs-stamp.json` inside `figures/<output>/<study>/`) is written atomically,
after the outputs are in place and only when the notebook ended well, and only when the
inputs read before the notebook started are still those after it (a file edited or a store
entry set aside meanwhile leaves no stamp; a run only adds entries). Any new outputs replace
the whole folder, the stamp with it: a failed render, or the notebook run by hand in Jupyter
(whose `publish` swaps the folder), never leaves an old stamp beside new outputs.
Not seen: the data sets' file contents (the store's run names do not hash them either) and a
store entry altered together with its manifest and file times. Conservative: an entry of
another profile in the study's store folders counts too (a render more, never one less).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from initlab import paths
from initlab.tempfiles import sha256_of, temp_path

STAMP = ".inputs-stamp.json"
VERSION = 1
SOURCE = Path(__file__).resolve().parent  # the package whose source is hashed (tests: a copy)
DONE, MANIFEST = "DONE", "manifest.json"  # store.entries' names, without importing torch
LIBRARIES = ("torch", "torchvision", "numpy", "pandas", "scipy", "scikit-learn", "matplotlib",
             "seaborn", "papermill", "nbclient", "ipykernel")
REASONS = {"version": "the stamp's format", "notebook": "the notebook",
           "package": "the initlab package", "request": "the parameters",
           "settings": "the settings", "libraries": "the libraries",
           "store": "the store entries", "planned": "the runs it needs",
           "device": "the device \"auto\" picks"}


@dataclass(frozen=True)
class Request:
    """One study's outputs as asked for: what names its output folder and what it computes."""

    study: str
    profile: str
    overrides: dict = field(default_factory=dict)
    device: str = "auto"
    compile: bool = False
    threads: int = 0

    @property
    def folder(self) -> Path:
        """`figures/<output>/<study>/` (not created: a check leaves no empty folder)."""
        return paths.figures_root() / paths.output_name(self.profile, self.overrides) / self.study


def _plain(value: Any) -> Any:
    """`value` as it reads back from JSON (tuples as lists, objects by their text)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def package_digest() -> str:
    """One sha256 over every `*.py` of the package (names and contents)."""
    digest = hashlib.sha256()
    for path in sorted(SOURCE.rglob("*.py")):
        if "__pycache__" not in path.parts:
            digest.update(f"{path.relative_to(SOURCE)}\0{sha256_of(path)}\0".encode())
    return digest.hexdigest()


def libraries() -> dict[str, str | None]:
    """Python's version and the installed versions of the libraries a render runs on."""
    found: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def store_entries(study: str) -> dict[str, list]:
    """Every finished entry under `<store>/<study>` and `<store>/<study>_*` (entries being
    written, `*.tmp-*`, and set-aside ones, `.set-aside/`, excluded): its path in the store ->
    [manifest sha256, [[file, size, mtime_ns], ...]]."""
    root = paths.store_dir()
    found: dict[str, list] = {}
    tops = [p for p in root.iterdir() if p.name == study or p.name.startswith(f"{study}_")] \
        if root.is_dir() else []
    for top in sorted(tops):
        for done in sorted(top.rglob(DONE)):
            entry = done.parent
            name = entry.relative_to(root)
            if any(part.startswith(".") or ".tmp-" in part for part in name.parts):
                continue
            try:
                found[str(name)] = _entry(entry)
            except OSError:  # moved while listed (set aside): not an input any more
                continue
    return found


def _entry(entry: Path) -> list:
    files = sorted([p.name, p.stat().st_size, p.stat().st_mtime_ns]
                   for p in entry.iterdir() if p.is_file())
    manifest = sha256_of(entry / MANIFEST) if (entry / MANIFEST).is_file() else ""
    return [manifest, files]


def quick_inputs(request: Request) -> dict[str, Any]:
    """The inputs found without importing torch or the study (see `inputs`)."""
    from initlab import profiles

    settings = profiles.load(request.study, request.profile, **request.overrides)
    asked = dict(profile=request.profile, overrides=request.overrides, device=request.device,
                 compile=request.compile, threads=request.threads, data=str(paths.data_dir()))
    notebook = paths.notebooks_dir() / f"{request.study}.ipynb"
    return _plain(dict(version=VERSION, notebook=sha256_of(notebook), package=package_digest(),
                       request=asked, settings=vars(settings), libraries=libraries(),
                       store=store_entries(request.study)))


def planned_runs(request: Request) -> list[Path]:
    """The store folders of the runs the study plans (imports the study's design)."""
    from initlab import plan, profiles

    settings = profiles.load(request.study, request.profile, **request.overrides)
    return plan.run_folders(request.study, settings)


def heavy_inputs(request: Request, folders: list[Path] | None = None) -> dict[str, Any]:
    """The inputs that take a second or two: the planned runs' names, and the device the
    request's picks here (torch, unless "cpu": a figures folder shared by a CPU and a GPU
    machine renders on both)."""
    from initlab.training.runtime import pick_device

    root = paths.store_dir()
    folders = planned_runs(request) if folders is None else folders
    device = "cpu" if request.device == "cpu" else str(pick_device(request.device))
    return dict(planned=sorted(str(p.relative_to(root)) for p in folders), device=device)


def inputs(request: Request) -> dict[str, Any]:
    """Everything the study's outputs depend on, as the stamp records it."""
    return {**quick_inputs(request), **heavy_inputs(request)}


def snapshot(request: Request) -> dict[str, Any] | None:
    """`inputs`, or None where they cannot be listed (the study's plan fails: its notebook
    will say why, and its outputs get no stamp)."""
    try:
        return inputs(request)
    except Exception:  # noqa: BLE001 - only the stamp is lost
        return None


def outputs(folder: Path) -> dict[str, str]:
    """Each output file under `folder` (the stamp itself excluded) -> its sha256."""
    return {str(p.relative_to(folder)): sha256_of(p) for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.startswith(STAMP)}


def read(folder: Path) -> dict[str, Any] | None:
    """The stamp in `folder`, or None (none, or unreadable)."""
    try:
        stamp = json.loads((folder / STAMP).read_text())
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


def why_stale(request: Request, train: bool = False) -> str | None:
    """Why the study's outputs must be made again, or None when they are up to date. The
    cheap parts are compared first; the study's plan is listed and torch imported (to pick the
    device) only when they all match. For `run` (`train`), a planned run missing from the
    store is a reason."""
    stamp = read(request.folder)
    if stamp is None:
        return "no inputs stamp beside its outputs"
    if stamp.get("outputs") != outputs(request.folder):
        return "its output files changed"
    for key, value in quick_inputs(request).items():
        if stamp.get(key) != value:
            return f"{REASONS.get(key, key)} changed"
    try:
        folders = planned_runs(request)
        heavy = heavy_inputs(request, folders)
    except Exception as error:  # noqa: BLE001 - the notebook will say what is wrong
        return f"its runs or device could not be listed ({type(error).__name__})"
    for key, value in heavy.items():
        if stamp.get(key) != value:
            return f"{REASONS[key]} changed"
    missing = sum(not (p / DONE).exists() for p in folders)
    return f"{missing} of its runs are not stored" if train and missing else None


def record(request: Request, before: dict[str, Any] | None,
           train: bool = False) -> str | None:
    """Write the stamp of the outputs now in place, made from `before` (the inputs taken
    before the notebook started); return why not, when an input changed meanwhile. A run
    (`train`) may add store entries, never change one it had."""
    after = snapshot(request)
    if before is None or after is None:
        return "no inputs stamp: its inputs could not be listed"
    for key, value in after.items():
        if key == "store" and train:
            old, new = before.get(key, {}), value
            if any(new.get(name) != entry for name, entry in old.items()):
                return "no inputs stamp: a store entry it had changed while it ran"
        elif before.get(key) != value:
            return f"no inputs stamp: {REASONS.get(key, key)} changed while it ran"
    folder = request.folder
    text = json.dumps({**after, "outputs": outputs(folder)}, indent=1, sort_keys=True)
    tmp = temp_path(folder / STAMP)
    tmp.write_text(text + "\n")
    os.replace(tmp, folder / STAMP)
    return None


def current_line(request: Request, train: bool = False) -> str:
    """The one line of a study whose outputs are up to date."""
    shown = os.path.relpath(request.folder)
    shown = str(request.folder) if shown.startswith("..") else shown
    again = "runs it again" if train else "re-renders"
    return (f"up to date {request.study} ({shown}; nothing it depends on changed; --force "
            f"{again})")


def stale(requests: list[Request], train: bool = False) -> list[Request]:
    """The requests whose outputs must be made again; a line for each of the others."""
    todo = []
    for request in requests:
        if why_stale(request, train) is None:
            print(current_line(request, train), flush=True)
        else:
            todo.append(request)
    return todo
