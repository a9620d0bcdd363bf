"""Runs of one batch one after another in this process (the path before `store.pool`) vs two
at once in worker processes (now the default on a 2-core CPU), on real quick-profile runs.

    .venv/bin/python bench/pool.py [--runs 4] [--jobs 2]

The runs are the first cells of study 05's quick grid (LeNet-5 on Fashion-MNIST, SGD and
Adam, two inits: each trains, snapshots and retrains perturbed copies). Each side computes
them into its own empty store; the pooled side's time includes starting its workers. The
stored numbers of both sides are compared (they must be equal).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from initlab import profiles, store
from initlab.studies.parameter_dynamics import runs
from initlab.training.cluster import Cluster
from initlab.training.runtime import Runtime

STUDY = "05_parameter_dynamics"


def compute(settings: list, jobs: int, root: Path) -> tuple[float, list]:
    runtime = Runtime("cpu", progress="off", cluster=Cluster(jobs=jobs))
    start = time.perf_counter()
    results = store.run_many(STUDY, settings, runs.run, runtime=runtime, root=root)
    return time.perf_counter() - start, results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    settings = runs.cells(profiles.load(STUDY, "quick"))[:args.runs]
    print(f"# {args.runs} runs of {STUDY} (quick): one at a time here vs {args.jobs} at once "
          f"in worker processes; torch {torch.__version__}, one thread per run")
    with tempfile.TemporaryDirectory() as here, tempfile.TemporaryDirectory() as pooled:
        t_here, a = compute(settings, 1, Path(here))
        t_pool, b = compute(settings, args.jobs, Path(pooled))
    same = all(torch.equal(x[k], y[k]) for x, y in zip(a, b) for k in x
               if isinstance(x[k], torch.Tensor))
    print(f"one after another: {t_here:.1f} s; {args.jobs} at once: {t_pool:.1f} s; "
          f"{t_here / t_pool:.2f}x; stored tensors equal: {same}")


if __name__ == "__main__":
    main()
