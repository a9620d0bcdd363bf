"""Where a study's missing runs go: this process, processes on this machine, or SLURM jobs.

A `Cluster` is part of the `Runtime` (how, never what, is computed), passed explicitly from
`initlab run --executor ...` or a notebook's `cluster` parameter down to `store.run_many`;
nothing is read from the environment. The default (executor "") computes the runs on this machine:
several at once in worker processes on a CPU (`store.pool`, `jobs` of them, default one per
core), else one after another in this process.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

EXECUTORS = ("", "local", "slurm")
_MEMORY = re.compile(r"^\d+[KMGT]?$")
_TIME = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")


@dataclass(frozen=True)
class Cluster:
    """The executor and, for SLURM, what each job asks for (defaults: the site's own)."""

    executor: str = ""  # "": runs in this process | local: processes here | slurm: job arrays
    jobs: int = 0  # at most this many runs at once; 0: here and local one per GPU (else per
    # CPU core), slurm as many as the scheduler starts; here, 1 computes in this process
    partition: str = ""  # "" = the cluster's default partition
    gpus: int = 0  # GPUs per job (slurm); local jobs get one GPU each where there are several
    cpus: int = 0  # CPUs per job (slurm); 0 = the site's default
    memory: str = ""  # per job, SLURM's format: 16G, 4000M; "" = the site's default
    time: str = ""  # per job, SLURM's format (minutes, H:MM:SS, D-HH); "" = the partition's
    account: str = ""
    qos: str = ""
    slurm: tuple[tuple[str, str], ...] = ()  # more sbatch options, e.g. (("constraint", "a100"),)

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise ValueError(f"unknown executor {self.executor!r}; choose local or slurm")
        for name in ("jobs", "gpus", "cpus"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(f"cluster {name} must be an integer >= 0, got "
                                 f"{getattr(self, name)!r}")
        if self.memory and not _MEMORY.match(self.memory):
            raise ValueError(f"memory must look like 16G or 4000M, got {self.memory!r}")
        if self.time:
            minutes(self.time)  # raises on a malformed limit
        object.__setattr__(self, "slurm", tuple((str(k), str(v)) for k, v in self.slurm))
        if not self.executor and self.gpus:
            raise ValueError("gpus are for --executor local or slurm")
        if self.executor != "slurm" and self.slurm_options():
            raise ValueError("partition, account, qos, memory, time, cpus and --slurm options "
                             "are for --executor slurm")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Cluster:
        """A notebook's `cluster` parameter: unknown keys fail with the valid ones; `slurm`
        may be a dict {"constraint": "a100"}."""
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise ValueError(f"unknown cluster setting(s) {', '.join(unknown)}; valid: "
                             f"{', '.join(names)}")
        values = dict(values)
        if isinstance(values.get("slurm"), dict):
            values["slurm"] = tuple(values["slurm"].items())
        if isinstance(values.get("time"), int):
            values["time"] = str(values["time"])
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        """The settings that differ from the defaults (what the runner hands a notebook)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                  if getattr(self, f.name) != f.default}
        if "slurm" in values:
            values["slurm"] = dict(values["slurm"])
        return values

    def slurm_options(self) -> dict[str, Any]:
        """What the jobs ask SLURM for, as submitit's SlurmExecutor parameters."""
        options: dict[str, Any] = {}
        for name, key in (("partition", "partition"), ("account", "account"), ("qos", "qos"),
                          ("memory", "mem"), ("cpus", "cpus_per_task")):
            if getattr(self, name):
                options[key] = getattr(self, name)
        if self.time:
            options["time"] = minutes(self.time)
        if self.slurm:
            options["additional_parameters"] = dict(self.slurm)
        return options


def minutes(limit: str) -> int:
    """A SLURM time limit in whole minutes (rounded up): "90", "1:30:00", "2-00", "2-12:00"."""
    match = _TIME.match(str(limit).strip())
    if not match:
        raise ValueError(f"time must be minutes, H:MM:SS or D-HH[:MM[:SS]], got {limit!r}")
    days, *parts = match.groups()
    numbers = [int(p) for p in parts if p is not None]
    if days is not None:  # D-HH, D-HH:MM, D-HH:MM:SS
        numbers += [0] * (3 - len(numbers))
        seconds = int(days) * 86400 + numbers[0] * 3600 + numbers[1] * 60 + numbers[2]
    elif len(numbers) == 1:  # minutes
        seconds = numbers[0] * 60
    elif len(numbers) == 2:  # MM:SS
        seconds = numbers[0] * 60 + numbers[1]
    else:  # HH:MM:SS
        seconds = numbers[0] * 3600 + numbers[1] * 60 + numbers[2]
    if seconds <= 0:
        raise ValueError(f"time must be positive, got {limit!r}")
    return -(-seconds // 60)


def parse_pairs(pairs: list[str]) -> tuple[tuple[str, str], ...]:
    """`--slurm constraint=a100 --slurm mail-type=END` -> (("constraint", "a100"), ...)."""
    out = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--slurm wants KEY=VALUE (an sbatch option without its dashes), "
                             f"got {pair!r}")
        out.append((key.strip().lstrip("-"), value.strip()))
    return tuple(out)
