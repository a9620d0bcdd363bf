"""The results store: a run is named by its settings, computed once, checked, then loaded.

Layout: `<store>/<study>/<run name>/` (see `entries` for the files). A run's name hashes its
full settings: every field, defaults included (fields marked `metadata={"hash": False}`
excepted), with the settings class's name and protocol version. So two checkouts whose
defaults differ (or two protocol versions) sharing one store keep their runs side by side;
hashing only non-default values, as before, made them take turns setting each other's runs
aside. The price: adding a setting renames, and so recomputes, that class's runs. Every load
still compares the full stored settings and the files' checksums, and checks that the tensors
load as tensors. A run that fails the check is moved to `.set-aside/` with one line saying
why, and computed again; in render-only mode it is reported as missing.

A run is computed by one process at a time, whoever asks for it (`lock`). `run_many` computes
a batch's missing runs here, or sends them out as jobs when the runtime names an executor
(`jobs`: local processes or a SLURM job array; `waiting`: one progress line, failed jobs).

Importing the store imports neither torch nor pandas: naming runs and checking what is stored
(`names`), and a study's batches whose function is named, not imported (`LazyFn`), are all
`initlab plan --no-time` needs. What computes, sends or reads runs loads them when it runs;
the executor modules (`jobs`, `pool`, `waiting`) load on first use (PEP 562).
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import shutil
import sys
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from initlab import paths
from initlab.store import lock
from initlab.store.entries import (
    ASIDE,
    DONE,
    Result,
    Unreadable,
    problem,
    read,
    set_aside,
    write,
)
from initlab.store.names import LazyFn, hashed_settings, is_done, run_dir, run_name
from initlab.tempfiles import NoSpaceLeft, clean_stale
from initlab.training import progress
from initlab.training.runtime import Runtime

if TYPE_CHECKING:
    import pandas as pd
    import torch
    from torch import nn

__all__ = ["DONE", "Batch", "ExecutorUnavailable", "LazyFn", "MODEL", "MissingRunError",
           "Result", "NoSpaceLeft", "RunsFailed",
           "gather", "hashed_settings", "is_done", "model_state", "model_tensors", "run",
           "run_dir", "run_many", "run_name"]
RunFn = Callable[[Any, Runtime], Result]  # (settings, runtime) -> result; picklable
MODEL = "model/"  # the key prefix of a stored model's state dict in a run's tensors
_MODULES = ("jobs", "pool", "waiting")  # executors: submitit, torch; loaded when first used


def __getattr__(name: str) -> Any:
    if name in _MODULES:  # `store.jobs.X` after a plain `from initlab import store`
        return importlib.import_module(f"initlab.store.{name}")
    if name == "ExecutorUnavailable":
        return importlib.import_module("initlab.store.jobs").ExecutorUnavailable
    raise AttributeError(f"module 'initlab.store' has no attribute {name!r}")


@dataclass(frozen=True)
class Batch:
    """Runs of one kind that a study needs: where they are stored, the function that computes
    one (a `LazyFn` where the list is made without the training code), and their settings.
    A study lists its batches in the order they depend on each other (source models before
    the runs that use them); `initlab plan` and the executors read it."""

    study: str
    fn: RunFn
    settings: tuple

    def run(self, runtime: Runtime | None = None, train: bool = True,
            executor: Executor | None = None) -> list[Result]:
        return run_many(self.study, list(self.settings), self.fn, runtime=runtime, train=train,
                        executor=executor)


class MissingRunError(LookupError):
    """A run needed for rendering is not in the store (or not usable)."""


class RunsFailed(RuntimeError):
    """Some runs of a batch diverged; the others finished and are stored."""


def model_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """A trained model as tensors of a run's result: its state dict under `MODEL` keys (the
    one way the package stores a model; `model_state` reads it back)."""
    return {f"{MODEL}{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}


def model_state(result: Result) -> dict[str, torch.Tensor]:
    """The state dict stored by `model_tensors` in a run's result (load it into a fresh model
    of the same architecture with `load_state_dict`)."""
    state = {k[len(MODEL):]: v for k, v in result.items() if k.startswith(MODEL)}
    if not state:
        raise KeyError(f"this run stored no model (no {MODEL!r} tensors)")
    return state


def run(
    study: str, settings, fn: RunFn, *, runtime: Runtime | None = None, train: bool = True,
    root: Path | None = None, wait: bool = True,
) -> Result | None:
    """The run's result: loaded when stored and sound, else computed by
    `fn(settings, runtime)` and stored.

    Computed under the run's lock (`lock.held`): while another process computes it, this one
    waits and then loads it, or with `wait=False` returns None at once (`run_many` comes
    back to it after the runs nobody else is computing)."""
    root = root or paths.store_dir()
    folder = run_dir(study, settings, root)
    result, why = _load(folder, settings)
    if why is None:
        return result
    if not train:
        command = re.sub(r"_(source|fresh)$", "", study.split("/")[0])  # a study's helpers
        raise MissingRunError(
            f"{study}: run {folder} {why}; settings {hashed_settings(settings)}. Train it "
            f"first: `initlab run {command}` with the same profile and parameters, or set "
            "train=True.")
    with lock.held(folder, root, wait=wait) as waited:
        if waited is None:
            return None
        result, why = _load(folder, settings)  # stored meanwhile by another process?
        if why is None:
            return result
        return _compute(study, settings, fn, runtime, folder, why)


def _why(folder: Path, settings) -> str | None:
    """Why the stored run cannot be used (see `entries.problem`), or None when it can."""
    return problem(folder, settings) if folder.exists() else "is not in the store"


def _load(folder: Path, settings) -> tuple[Result | None, str | None]:
    """The stored run's result, or why it cannot be used (checks failed, or its files do not
    load: `entries.Unreadable`)."""
    if (why := _why(folder, settings)) is not None:
        return None, why
    try:
        return read(folder), None
    except Unreadable as error:
        return None, str(error)


def _compute(study: str, settings, fn: RunFn, runtime: Runtime | None, folder: Path,
             why: str) -> Result:
    """Compute and store the run (its lock is held): set aside a bad entry, resume from the
    run's checkpoints, write atomically."""
    from initlab.training import checkpoints

    if folder.exists():
        aside = set_aside(folder, "damaged" if "other settings" not in why else "stale")
        print(f"store: run {folder} {why}; moved it to {aside} and computing it again",
              file=sys.stderr, flush=True)
    clean_stale(folder.parent)
    partial = folder.with_name(f"{folder.name}.partial")  # per-epoch checkpoints of this run
    runtime = runtime or Runtime()
    runtime.apply()  # the process's thread policy, whatever ran before in this process
    start = time.perf_counter()
    with checkpoints.scratch(partial, aside=folder.parent / ASIDE):
        result = fn(settings, runtime)
    write(folder, settings, result, runtime, seconds=time.perf_counter() - start)
    shutil.rmtree(partial, ignore_errors=True)
    return read(folder)


def run_many(
    study: str, settings_list: list, fn: RunFn, *, runtime: Runtime | None = None,
    train: bool = True, executor: Executor | None = None, root: Path | None = None,
) -> list[Result]:
    """Every run's result, computing the missing ones: through `executor` if given, as jobs
    when the runtime names one (`Cluster.executor`: local processes or a SLURM job array,
    `jobs`), else here: several at once in worker processes on a CPU (`pool`), or one after
    another (a run that another process is computing is left
    for last, then waited for and loaded)."""
    from initlab.store import pool
    from initlab.training.loop import TrainingDiverged

    runtime = runtime or Runtime()
    missing = [s for s in settings_list if not is_done(study, s, root)]
    if missing and not train:
        run(study, missing[0], fn, train=False, root=root)  # raises with a clear message
    failures = []
    desc = f"{study}: {len(missing)} runs"
    if not missing:
        pass
    elif executor is not None:
        futures = {executor.submit(run, study, s, fn, runtime=runtime, root=root): s
                   for s in missing}
        for future in progress.bar(list(futures), desc=desc, leave=True, mode=runtime.progress):
            try:
                future.result()
            except TrainingDiverged as error:
                failures.append(f"run {run_name(futures[future])}: {error}")
    elif runtime.cluster.executor:
        _send_jobs(study, missing, fn, runtime, root or paths.store_dir())
    elif (size := pool.workers(runtime, len(missing))) > 1:
        failures = pool.compute_all(run, study, missing, fn, runtime,
                                    root or paths.store_dir(), size, desc, run_name)
    else:
        failures = _compute_here(study, missing, fn, runtime, root, desc)
    if failures:
        raise RunsFailed(
            f"{study}: {len(failures)} of {len(settings_list)} runs diverged and were not stored "
            f"(the other runs are stored):\n  " + "\n  ".join(failures)
            + "\nLower the learning rate or change the seed for these runs."
        )
    if not missing:  # all were just checked (rendering): read them, not check them again
        return [_read_checked(study, s, fn, runtime, train, root) for s in settings_list]
    # train: a run whose files were altered with their manifest (found only when loaded) is
    # set aside and computed again here
    return [run(study, s, fn, runtime=runtime, train=train, root=root) for s in settings_list]


def _read_checked(study: str, settings, fn: RunFn, runtime: Runtime, train: bool,
                  root: Path | None) -> Result:
    """A run that `is_done` has just checked, read without hashing its files again; one whose
    files do not load (or are gone meanwhile) goes through `run`, which names it and, with
    `train`, sets it aside and computes it again."""
    try:
        return read(run_dir(study, settings, root))
    except (Unreadable, OSError):
        return run(study, settings, fn, runtime=runtime, train=train, root=root)


def _compute_here(study: str, missing: list, fn: RunFn, runtime: Runtime, root: Path | None,
                  desc: str) -> list[str]:
    """Compute the runs in this process; those another process holds go last (then this one
    waits for each and loads it), so processes sharing a store split the work."""
    from initlab.training.loop import TrainingDiverged

    failures, later = [], []
    bar = progress.bar(total=len(missing), desc=desc, leave=True, mode=runtime.progress)
    for wait, todo in ((False, missing), (True, later)):
        for settings in todo:
            try:
                if run(study, settings, fn, runtime=runtime, root=root, wait=wait) is None:
                    later.append(settings)
                    continue
            except TrainingDiverged as error:  # keep going: the other runs are still worth it
                failures.append(f"run {run_name(settings)}: {error}")
            bar.update()
    bar.close()
    return failures


def _send_jobs(study: str, missing: list, fn: RunFn, runtime: Runtime, root: Path) -> None:
    """The missing runs as one batch of jobs (`jobs.send`), waited for with one progress line;
    a failed job raises `RunsFailed` with its log and stderr tail (the others are stored)."""
    from initlab.store import jobs, waiting

    sent = jobs.send(study, missing, [run_name(s) for s in missing], fn, runtime, root, run)
    failed = waiting.watch(study, sent, runtime.progress)
    if failed:
        raise RunsFailed(
            f"{study}: {len(failed)} of {len(missing)} jobs failed; the other runs are stored. "
            "Run the same command again to retry them (each resumes from its last finished "
            "epoch):\n  " + "\n  ".join(failed))


def gather(settings_list: list, results: list[Result], table: str) -> pd.DataFrame:
    """One tidy frame of `table` across runs, with each run's settings as columns."""
    import pandas as pd

    frames = []
    for settings, result in zip(settings_list, results):
        frame = result[table].copy()
        for key, value in dataclasses.asdict(settings).items():
            if key not in frame.columns and not isinstance(value, (list, tuple, dict)):
                frame[key] = value
        frame["run"] = run_name(settings)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
