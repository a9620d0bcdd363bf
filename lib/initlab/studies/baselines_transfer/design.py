"""Which runs study 04 needs, in dependency order: the baselines, the fallback backbone (when
no ImageNet weights are used), then the transfer runs (one per seed); their settings are
built in `settings`. Torch-free, so `initlab plan` lists the runs without the training code
(`runs`), which the batches name (`store.LazyFn`) and import only to compute a run.
"""

from __future__ import annotations

import functools

from initlab import store
from initlab.studies.baselines_transfer.settings import (
    BaselinesTransferSettings,
    baseline_runs,
    source_run,
    transfer_runs,
)

STUDY = "04_baselines_transfer"


def batches(cfg: BaselinesTransferSettings) -> list[store.Batch]:
    """Every run the study needs: `runs.run_baseline`, `runs.run_source` and
    `runs.run_transfer` compute them (a transfer run is handed the backbone's settings)."""
    def fn(name: str) -> store.LazyFn:
        return store.LazyFn(f"{__package__}.runs:{name}")

    source = source_run(cfg)
    return [store.Batch(STUDY, fn("run_baseline"), tuple(baseline_runs(cfg))),
            *([store.Batch(STUDY, fn("run_source"), (source,))] if source else []),
            store.Batch(STUDY, functools.partial(fn("run_transfer"), source_settings=source),
                        tuple(transfer_runs(cfg)))]
