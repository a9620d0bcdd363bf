"""Which runs study 01 needs: one per iteration (each under its own seed), and the warm-start
methods each trains. Torch-free, so `initlab plan` lists the runs without the training code
(`runs`), which the batch names (`store.LazyFn`) and imports only to compute a run.
"""

from __future__ import annotations

import dataclasses

from initlab import store
from initlab.studies.warm_start.settings import WarmStartSettings

STUDY = "01_warm_start"
MODEL = "tiny_cnn"


def methods(cfg: WarmStartSettings) -> tuple[str, ...]:
    """Random init, shrink-and-perturb, then one warm start per metric, raw and aligned."""
    return ("random", "shrink_perturb", *cfg.metrics, *(f"{m}_aligned" for m in cfg.metrics))


def iteration_settings(cfg: WarmStartSettings) -> list[WarmStartSettings]:
    """The settings of each iteration: the same protocol under seeds seed, seed + 1, ..."""
    return [dataclasses.replace(cfg, seed=cfg.seed + i) for i in range(cfg.iterations)]


def batches(cfg: WarmStartSettings) -> list[store.Batch]:
    """Every run the study needs: one per iteration (`runs.run` computes one)."""
    return [store.Batch(STUDY, store.LazyFn(f"{__package__}.runs:run"),
                        tuple(iteration_settings(cfg)))]
