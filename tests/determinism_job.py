"""One run of a study's smoke profile, computed alone or after two other runs of the study in
the same process. Run as a script by tests/test_determinism.py:

    python determinism_job.py STUDY alone|after STORE
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from initlab import profiles, store
from initlab.training.runtime import Runtime

# Small changes to each smoke profile: enough epochs that a kill lands mid-training, and (01)
# enough iterations that there are two other runs to compute first.
OVERRIDES = {
    "01_warm_start": dict(iterations=3, epochs=6),
    "02_clustered_init": dict(target_epochs=8),
    "03_agop_nfm_init": dict(epochs=8),
    "04_baselines_transfer": dict(scratch_epochs=8),
    "05_parameter_dynamics": dict(epochs=8, snapshot_epochs=(0, 8)),
}
PACKAGES = {"01_warm_start": "warm_start", "02_clustered_init": "clustered_init",
            "03_agop_nfm_init": "agop_nfm_init", "04_baselines_transfer": "baselines_transfer",
            "05_parameter_dynamics": "parameter_dynamics"}


def chosen(study: str) -> tuple[store.Batch, object, list[tuple[store.Batch, object]]]:
    """The study's last run (the one compared), and two runs before it (run first in
    "after"): from the last batch when it has three runs, else from the first batch."""
    cfg = profiles.load(study, "smoke", **OVERRIDES[study])
    batches = importlib.import_module(f"initlab.studies.{PACKAGES[study]}.runs").batches(cfg)
    last = batches[-1]
    donor = last if len(last.settings) >= 3 else batches[0]
    return last, last.settings[-1], [(donor, s) for s in donor.settings[:2]]


def main(study: str, mode: str, root: Path) -> None:
    batch, target, others = chosen(study)
    runtime = Runtime("cpu", progress="off")
    if mode == "after":
        for other_batch, settings in others:
            store.run(other_batch.study, settings, other_batch.fn, runtime=runtime, root=root)
    store.run(batch.study, target, batch.fn, runtime=runtime, root=root)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
