"""The results store: a run is named by its settings, computed once, then loaded.

Layout: `<store>/<study>/<run name>/` holds `settings.json`, one CSV per table, `tensors.pt`
and a `DONE` marker written last. A run is written into a temporary folder and renamed into
place, so an interrupted run leaves no half entry behind, and a folder without `DONE` is
ignored and redone. A run's name hashes only the settings that differ from their dataclass
defaults (and skips fields marked `metadata={"hash": False}`), so adding a setting later
keeps every stored run valid (open_lth's habit).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import torch

from initlab import checkpoints, paths, progress
from initlab.train import TrainingDiverged

Result = dict[str, Any]  # table name -> DataFrame, or tensor name -> Tensor
DONE = "DONE"


class MissingRunError(LookupError):
    """A run needed for rendering is not in the store."""


class RunsFailed(RuntimeError):
    """Some runs of a batch diverged; the others finished and are stored."""


def hashed_settings(settings) -> dict[str, Any]:
    """The settings that name a run: non-default values of hashed fields."""
    values = {}
    for f in dataclasses.fields(settings):
        if not f.metadata.get("hash", True):
            continue
        value = getattr(settings, f.name)
        default = f.default if f.default is not dataclasses.MISSING else dataclasses.MISSING
        if value != default:
            values[f.name] = list(value) if isinstance(value, tuple) else value
    return values


def run_name(settings) -> str:
    text = json.dumps([type(settings).__name__, hashed_settings(settings)], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_dir(study: str, settings, root: Path | None = None) -> Path:
    return (root or paths.store_dir()) / study / run_name(settings)


def is_done(study: str, settings, root: Path | None = None) -> bool:
    return (run_dir(study, settings, root) / DONE).exists()


def save(folder: Path, settings, result: Result) -> None:
    """Write a result atomically: into a sibling temp folder, then rename into place."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    tensors = {}
    for key, value in result.items():
        if isinstance(value, pd.DataFrame):
            value.to_csv(tmp / f"{key}.csv", index=False)
        elif isinstance(value, torch.Tensor):
            tensors[key] = value.detach().cpu()
        else:
            raise TypeError(f"result {key!r} is a {type(value).__name__}; store DataFrames/tensors")
    if tensors:
        torch.save(tensors, tmp / "tensors.pt")
    (tmp / "settings.json").write_text(json.dumps(dataclasses.asdict(settings), indent=1))
    (tmp / DONE).write_text("")
    shutil.rmtree(folder, ignore_errors=True)  # an incomplete entry from an earlier crash
    os.replace(tmp, folder)


def read(folder: Path) -> Result:
    result: Result = {p.stem: pd.read_csv(p) for p in sorted(folder.glob("*.csv"))}
    if (folder / "tensors.pt").exists():
        result.update(torch.load(folder / "tensors.pt", weights_only=True))
    return result


def run(
    study: str, settings, fn: Callable[[Any], Result], *, train: bool = True,
    root: Path | None = None,
) -> Result:
    """The run's result: loaded when stored, else computed by `fn(settings)` and stored."""
    folder = run_dir(study, settings, root)
    if (folder / DONE).exists():
        return read(folder)
    if not train:
        raise MissingRunError(
            f"{study}: run {folder.name} is not in the store ({folder}); settings "
            f"{hashed_settings(settings)}. Train it first: `initlab run {study}` with the same "
            "profile and parameters, or set train=True."
        )
    partial = folder.with_name(f"{folder.name}.partial")  # per-epoch checkpoints of this run
    with checkpoints.scratch(partial):
        result = fn(settings)
    save(folder, settings, result)
    shutil.rmtree(partial, ignore_errors=True)
    return read(folder)


def run_many(
    study: str, settings_list: list, fn: Callable[[Any], Result], *, train: bool = True,
    executor: Executor | None = None, root: Path | None = None,
) -> list[Result]:
    """Every run's result, computing the missing ones (through `executor` if given)."""
    missing = [s for s in settings_list if not is_done(study, s, root)]
    if missing and not train:
        run(study, missing[0], fn, train=False, root=root)  # raises with a clear message
    failures = []
    desc = f"{study}: {len(missing)} runs"
    if executor is None:
        for settings in progress.bar(missing, desc=desc, leave=True):
            try:
                run(study, settings, fn, root=root)
            except TrainingDiverged as error:  # keep going: the other runs are still worth having
                failures.append(f"run {run_name(settings)}: {error}")
    else:
        futures = {executor.submit(run, study, s, fn, root=root): s for s in missing}
        for future in progress.bar(list(futures), desc=desc, leave=True):
            try:
                future.result()
            except TrainingDiverged as error:
                failures.append(f"run {run_name(futures[future])}: {error}")
    if failures:
        raise RunsFailed(
            f"{study}: {len(failures)} of {len(settings_list)} runs diverged and were not stored "
            f"(the other runs are stored):\n  " + "\n  ".join(failures)
            + "\nLower the learning rate or change the seed for these runs."
        )
    return [read(run_dir(study, s, root)) for s in settings_list]


def gather(settings_list: list, results: list[Result], table: str) -> pd.DataFrame:
    """One tidy frame of `table` across runs, with each run's settings as columns."""
    frames = []
    for settings, result in zip(settings_list, results):
        frame = result[table].copy()
        for key, value in dataclasses.asdict(settings).items():
            if key not in frame.columns and not isinstance(value, (list, tuple, dict)):
                frame[key] = value
        frame["run"] = run_name(settings)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def load(study: str, table: str, root: Path | None = None) -> pd.DataFrame:
    """Every finished run of `study` in the store: `table` with the run's settings as columns."""
    base = (root or paths.store_dir()) / study
    folders = sorted(p for p in base.glob("*") if (p / DONE).exists())
    frames = []
    for folder in folders:
        csv = folder / f"{table}.csv"
        if not csv.exists():
            continue
        frame = pd.read_csv(csv)
        settings = json.loads((folder / "settings.json").read_text())
        for key, value in settings.items():
            if key not in frame.columns and not isinstance(value, (list, dict)):
                frame[key] = value
        frame["run"] = folder.name
        frames.append(frame)
    if not frames:
        raise MissingRunError(f"no finished runs of {study!r} with a table {table!r} in the store")
    return pd.concat(frames, ignore_index=True)
