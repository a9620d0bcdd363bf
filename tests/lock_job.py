"""A slow store run for the lock tests: `python lock_job.py ROOT COUNTER SECONDS` computes (or
waits for, then loads) one run, noting each computation it starts in COUNTER."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from initlab import store

COUNTER: list[Path] = []


@dataclass(frozen=True)
class Slow:
    name: str = "slow"
    seconds: float = field(default=2.0, metadata={"hash": False})  # not part of the run's name
    fail: bool = field(default=False, metadata={"hash": False})


def compute(settings: Slow, runtime=None) -> dict:
    for counter in COUNTER:
        with open(counter, "a") as handle:
            handle.write("start\n")
    time.sleep(settings.seconds)
    if settings.fail:
        raise RuntimeError("this run fails on purpose")
    return {"value": pd.DataFrame({"x": [1.5]})}


if __name__ == "__main__":
    COUNTER.append(Path(sys.argv[2]))
    result = store.run("slow", Slow(seconds=float(sys.argv[3])), compute, root=Path(sys.argv[1]))
    print(f"value {result['value'].x[0]}", flush=True)
