"""A batch's missing runs computed by worker processes of this machine, several at once: the
default on a CPU, where each run trains on one thread (`Runtime.cpu_threads`) and the other
cores would idle.

Each worker computes whole runs with `store.run` under the runtime minus its executor, so a
run's numbers are the same as computed in the notebook's own process: the thread policy is
set before every run, seeds come from the settings, the run's lock keeps two processes off one
run. The workers start once (`spawn`: a fresh interpreter, never a fork of a process whose
OpenMP threads are running) and serve every batch of the notebook; each pays the imports and
its data loads once. A GPU gets one process (the runs queue on one device anyway).

Interrupting the waiting process (Ctrl-C, a kernel interrupt) stops the workers at once: a run
they were computing resumes from its last finished epoch the next time.
"""

from __future__ import annotations

import atexit
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Callable

from initlab import machine
from initlab.training import progress
from initlab.training.loop import TrainingDiverged
from initlab.training.runtime import Runtime

_POOL: dict[int, ProcessPoolExecutor] = {}  # at most one: its size -> the executor


class WorkerDied(RuntimeError):
    """A worker process ended without finishing its run (killed, or out of memory)."""


def workers(runtime: Runtime, missing: int) -> int:
    """How many runs to compute at once here: the user's `jobs`; else, on a CPU, as many as
    the cores hold runs of `cpu_threads` threads; one on a GPU."""
    if runtime.cluster.jobs:
        wanted = runtime.cluster.jobs
    elif runtime.torch_device.type == "cpu":
        wanted = machine.cores() // runtime.cpu_threads
    else:
        wanted = 1
    return max(1, min(wanted, missing))


def compute_all(run: Callable[..., Any], study: str, missing: list, fn, runtime: Runtime,
                root: Path, size: int, desc: str, name: Callable[[Any], str]) -> list[str]:
    """Compute `missing` runs with `run` (`store.run`), `size` at a time, with one progress
    bar; return a line per diverged run (the others are stored). An interrupt stops the
    workers (their runs resume from their last finished epoch next time)."""
    failures, bar = [], None
    try:  # from the first submission: an interrupt while submitting must stop the workers too
        futures = compute(run, study, missing, fn, runtime, root, size)
        bar = progress.bar(total=len(missing), desc=f"{desc}, {size} at once", leave=True,
                           mode=runtime.progress)
        for settings, future in zip(missing, futures):
            try:
                result(future)
            except TrainingDiverged as error:
                failures.append(f"run {name(settings)}: {error}")
            bar.update()
    except BaseException:
        stop()
        raise
    finally:
        if bar is not None:
            bar.close()
    return failures


def compute(run: Callable[..., Any], study: str, settings_list: list, fn,
            runtime: Runtime, root: Path, size: int) -> list[Future]:
    """Start computing each run in the shared pool of `size` workers; return their futures
    (each resolves to None once its run is stored, or raises what the run raised)."""
    pool = _shared(size)
    job = runtime.in_process()
    return [pool.submit(_task, run, study, settings, fn, job, root)
            for settings in settings_list]


def result(future: Future) -> None:
    """Wait for one run; a dead worker becomes `WorkerDied` (and the pool is started anew
    next time)."""
    try:
        future.result()
    except BrokenProcessPool:
        stop()
        raise WorkerDied("a worker process died while computing a run (killed, or out of "
                         "memory?); the runs already stored are kept, run the same command "
                         "again to compute the rest") from None


def stop() -> None:
    """End the workers now, whatever they are computing (their runs' locks go with them)."""
    for size, pool in list(_POOL.items()):
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        del _POOL[size]


def _shared(size: int) -> ProcessPoolExecutor:
    if size not in _POOL:
        stop()
        context = multiprocessing.get_context("spawn")
        _POOL[size] = ProcessPoolExecutor(size, mp_context=context)
    return _POOL[size]


def _task(run: Callable[..., Any], study: str, settings, fn, runtime: Runtime,
          root: Path) -> None:
    """One run in a worker (`run` is `store.run`, passed in: this module is the store's)."""
    run(study, settings, fn, runtime=runtime, root=root)


atexit.register(stop)
