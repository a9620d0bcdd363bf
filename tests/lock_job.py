"""A store run that holds its lock until told to finish, for the lock tests:
`python lock_job.py ROOT COUNTER RELEASE` computes (or waits for, then loads) one run, noting
each computation it starts in COUNTER; a computation then waits until the file RELEASE exists,
so a test decides when it ends (by an event it has seen, never by a sleep being long enough).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from initlab import store

COUNTER: list[Path] = []
PATIENCE = 300  # seconds a computation waits for its release file before giving up on it


@dataclass(frozen=True)
class Slow:
    name: str = "slow"
    release: str = field(default="", metadata={"hash": False})  # not part of the run's name
    fail: bool = field(default=False, metadata={"hash": False})


def compute(settings: Slow, runtime=None) -> dict:
    for counter in COUNTER:
        with open(counter, "a") as handle:
            handle.write("start\n")
    if settings.release:
        deadline = time.monotonic() + PATIENCE
        while not Path(settings.release).exists() and time.monotonic() < deadline:
            time.sleep(0.02)  # polling an event (the file), not waiting for one to be over
    if settings.fail:
        raise RuntimeError("this run fails on purpose")
    return {"value": pd.DataFrame({"x": [1.5]})}


if __name__ == "__main__":
    COUNTER.append(Path(sys.argv[2]))
    result = store.run("slow", Slow(release=sys.argv[3]), compute, root=Path(sys.argv[1]))
    print(f"value {result['value'].x[0]}", flush=True)
