"""A batch's missing runs sent out as jobs through submitit: one SLURM job array, or processes
on this machine; the caller waits (`waiting.watch`) and then loads every run from the store.

Each job computes one run with `store.run` and the runtime minus its executor, so it takes the
run's lock, resumes from the run's per-epoch checkpoints and writes the run atomically, like a
run computed in the notebook's own process; it returns nothing (the store holds the result).
A SLURM job warned of its time limit is requeued by submitit (the job is `Checkpointable`: it
resubmits itself), and one requeued by SLURM's preemption simply starts again: either way it
resumes from its run's last finished epoch.

Jobs' files (submission script, pickles, stdout/stderr) go to `<store>/<study>/.jobs/<when>/`,
on the store's file system, which SLURM's nodes must share with this machine anyway.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import submitit
import torch
from submitit.core.utils import FailedJobError

from initlab.training.cluster import Cluster, minutes
from initlab.training.runtime import Runtime

_LOCAL_TIMEOUT_MIN = 60 * 24 * 30  # local jobs run until done (submitit's default is 2 min)
_BATCHES = itertools.count()


class ExecutorUnavailable(RuntimeError):
    """The executor cannot start jobs here (no SLURM commands, sbatch refused the array)."""


class StoreJob(submitit.helpers.Checkpointable):
    """What one job runs: `run(study, settings, fn, runtime=, root=)`, i.e. `store.run` (passed
    in, so that this module does not import the store package that imports it)."""

    def __init__(self, run: Callable[..., Any]) -> None:
        self.run = run

    def __call__(self, study: str, settings, fn, runtime: Runtime, root: Path) -> None:
        start = time.perf_counter()
        self.run(study, settings, fn, runtime=runtime, root=root)
        print(f"job done in {time.perf_counter() - start:.0f} s", flush=True)


@dataclass
class Sent:
    """The jobs of one batch: each with its settings and label, and how to start the rest
    (local jobs start as slots free up; a SLURM array is all submitted at once)."""

    kind: str
    folder: Path
    labels: list[str]
    jobs: list[Any] = field(default_factory=list)  # submitit jobs, in submission order
    waiting: list[tuple] = field(default_factory=list)  # (index, submit args) not started
    slots: dict[int, int] = field(default_factory=dict)  # local: job index -> its slot (GPUs)
    start_next: Callable[[Sent], None] | None = None
    array_id: str = ""


def job_folder(root: Path, study: str) -> Path:
    """A fresh folder for this submission's files (job ids repeat across clusters and pids)."""
    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{next(_BATCHES)}"
    folder = root / study / ".jobs" / stamp
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def send(study: str, missing: list, labels: list[str], fn, runtime: Runtime, root: Path,
         run: Callable[..., Any]) -> Sent:
    """Start jobs computing `missing` (labels name them in messages); return what was sent."""
    cluster, folder = runtime.cluster, job_folder(root, study)
    args = [(study, s, fn, runtime.in_process(), root) for s in missing]
    if cluster.executor == "slurm":
        return _send_slurm(study, cluster, folder, labels, args, StoreJob(run))
    return _send_local(cluster, runtime, folder, labels, args, StoreJob(run))


def check_available(cluster: Cluster) -> None:
    """Fail at once, in one line, where the executor cannot start jobs."""
    if cluster.executor == "slurm" and not all(shutil.which(c) for c in ("sbatch", "squeue")):
        raise ExecutorUnavailable("--executor slurm needs SLURM's sbatch and squeue on this "
                                  "machine (run on the cluster's login node)")


def _send_slurm(study: str, cluster: Cluster, folder: Path, labels: list[str], args: list,
                task: StoreJob) -> Sent:
    check_available(cluster)
    executor = submitit.SlurmExecutor(folder=folder, max_num_timeout=3)
    options = cluster.slurm_options()
    options.setdefault("time", partition_minutes(cluster.partition))
    if cluster.gpus:
        options["gpus_per_node"] = cluster.gpus
    executor.update_parameters(job_name=f"initlab-{study.split('/')[0]}",
                               array_parallelism=cluster.jobs or len(args), **options)
    try:
        jobs = executor.map_array(task, *zip(*args))
    except FailedJobError as error:
        lines = [line for line in str(error).splitlines() if "error" in line.lower()]
        why = (lines or [str(error)])[-1].strip().removeprefix("sbatch: error: ")
        raise ExecutorUnavailable(f"sbatch refused the job array: {why}") from None
    return Sent("slurm", folder, labels, jobs, array_id=jobs[0].job_id.split("_")[0])


def partition_minutes(partition: str) -> int | None:
    """The partition's time limit in minutes (`sinfo`; without a name, the default partition,
    which sinfo marks with "*"), None when unlimited or unknown: the jobs then ask for no
    limit of their own (submitit would ask for 5 minutes)."""
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%P %l"], capture_output=True, text=True,
                             timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    wanted = partition or next((line.split()[0] for line in out.splitlines()
                                if line.split() and line.split()[0].endswith("*")), "")
    for line in out.splitlines():
        name, _, limit = line.partition(" ")
        if name == wanted:
            try:
                return minutes(limit)
            except ValueError:  # "infinite", "n/a"
                return None
    return None


def _send_local(cluster: Cluster, runtime: Runtime, folder: Path, labels: list[str],
                args: list, task: StoreJob) -> Sent:
    """Processes on this machine, at most `jobs` at once, one GPU each where there are
    several (submitit's LocalExecutor starts whatever it is given at once, so the jobs are
    started one by one as earlier ones finish)."""
    executor = submitit.LocalExecutor(folder=folder)
    gpus = _visible_gpus(runtime)
    per_job = cluster.gpus or (1 if gpus else 0)
    slots = cluster.jobs or (max(1, len(gpus) // max(per_job, 1)) if gpus else
                             max(1, (os.cpu_count() or 1) // runtime.cpu_threads))
    sent = Sent("local", folder, labels, waiting=list(enumerate(args)))
    sent.jobs = [None] * len(args)
    sent.start_next = lambda s: _start_free_slots(s, executor, task, slots, gpus, per_job)
    sent.start_next(sent)
    return sent


def _start_free_slots(sent: Sent, executor, task: StoreJob, slots: int, gpus: list[int],
                      per_job: int) -> None:
    busy = {sent.slots[i] for i, job in enumerate(sent.jobs)
            if job is not None and job.state == "RUNNING"}
    free = [k for k in range(slots) if k not in busy]
    while sent.waiting and free:
        slot, (index, args) = free.pop(0), sent.waiting.pop(0)
        visible = [gpus[(slot * per_job + k) % len(gpus)] for k in range(per_job)] if gpus else []
        executor.update_parameters(timeout_min=_LOCAL_TIMEOUT_MIN, gpus_per_node=len(visible),
                                   visible_gpus=tuple(visible))
        sent.jobs[index], sent.slots[index] = executor.submit(task, *args), slot


def _visible_gpus(runtime: Runtime) -> list[int]:
    """The CUDA devices jobs may use (none when the runtime asks for the CPU), as the ids
    CUDA_VISIBLE_DEVICES takes in this process's environment."""
    if runtime.device in ("cpu", "mps") or not torch.cuda.is_available():
        return []
    count = torch.cuda.device_count()
    parent = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    ids = [p.strip() for p in parent.split(",") if p.strip()]
    if ids and all(i.isdigit() for i in ids):
        return [int(i) for i in ids[:count]]
    return list(range(count))


def cancel(sent: Sent) -> str:
    """Stop what can be stopped after an interrupt; say what keeps running."""
    if sent.kind == "slurm":
        return (f"the SLURM job array {sent.array_id} keeps running (`scancel {sent.array_id}` "
                "stops it); run the same command again to collect its runs")
    sent.waiting.clear()
    for job in sent.jobs:
        if job is not None and job.state == "RUNNING":
            job.cancel(check=False)
    return (f"the local jobs were stopped (logs in {sent.folder}); run the same command again "
            "to resume their runs from their checkpoints")
