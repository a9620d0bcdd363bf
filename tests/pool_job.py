"""Run functions for tests/test_pool.py (importable by the pool's spawned workers)."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from initlab import store
from initlab.training.cluster import Cluster
from initlab.training.runtime import Runtime


@dataclass(frozen=True)
class Job:
    index: int = 0
    signals: str = ""  # a folder: the run writes started-<index> (with its pid) and then
    # blocks until the folder holds "release" (never, in the interrupt test)


def where(settings: Job, runtime: Runtime) -> dict:
    """Which process computed the run, with the run's thread count and a seeded draw."""
    if settings.signals:
        folder = Path(settings.signals)
        (folder / f"started-{settings.index}").write_text(str(os.getpid()))
        while not (folder / "release").exists():
            time.sleep(0.05)
    draw = torch.randn(3, generator=torch.Generator().manual_seed(settings.index))
    frame = pd.DataFrame({"pid": [os.getpid()], "threads": [torch.get_num_threads()]})
    return {"where": frame, "draw": draw}


if __name__ == "__main__":  # python pool_job.py STORE SIGNALS: two blocking runs, two at once
    root, signals = Path(sys.argv[1]), sys.argv[2]
    runs = [Job(i, signals) for i in range(2)]
    store.run_many("pooled", runs, where, runtime=Runtime(cluster=Cluster(jobs=2)), root=root)
