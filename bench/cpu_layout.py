"""Training-step time of every model the quick profile trains, in the plain NCHW layout (the
path before channels_last on CPU) and in NHWC (`Runtime.layout`, now the CPU default).

    .venv/bin/python bench/cpu_layout.py [--profile quick] [--device cpu]

Each distinct model (architecture, input size, width, batch) is timed by `initlab.calibrate`,
as `initlab plan` times it, once per layout, one after the other in this run; the totals weigh
each model by the image passes the profile trains it for (01 and 02 on Fashion-MNIST).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from initlab import calibrate, plan, profiles
from initlab.training.progress import duration
from initlab.training.runtime import Runtime

OVERRIDES = {"01_warm_start": {"dataset": "fashion_mnist"},
             "02_clustered_init": {"dataset": "fashion_mnist"}}


def trainings(profile: str) -> dict[tuple, tuple]:
    """Each distinct model of the profile's runs -> (a Training of it, its image passes)."""
    found: dict[tuple, tuple] = {}
    empty = Path(tempfile.mkdtemp())  # every run counted as missing, whatever is stored
    for study in profiles.STUDIES:
        cfg = profiles.load(study, profile, **OVERRIDES.get(study, {}))
        for training in plan.plan_study(study, cfg, root=empty).trainings:
            first, passes = found.get(calibrate.key(training), (training, 0))
            found[calibrate.key(training)] = (first, passes + training.passes)
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    runtimes = {layout: Runtime(args.device, layout=layout, progress="off")
                for layout in ("nchw", "nhwc")}
    print(f"# {args.profile} profile's models, one thread, {args.device}: training step "
          "us/image NCHW vs NHWC")
    totals = dict.fromkeys(runtimes, 0.0)
    for training, passes in trainings(args.profile).values():
        cost = {k: calibrate.measure(training, rt).seconds for k, rt in runtimes.items()}
        for k in totals:
            totals[k] += cost[k] * passes
        print(f"{training.arch:16s} {training.size:3d}px w{training.width:<5g} "
              f"b{training.batch_size:<4d} {cost['nchw'] * 1e6:8.0f} {cost['nhwc'] * 1e6:8.0f}"
              f"  {cost['nchw'] / cost['nhwc']:.2f}x  ({passes:,} image passes)", flush=True)
    print(f"all training steps of the profile: NCHW {duration(totals['nchw'])}, NHWC "
          f"{duration(totals['nhwc'])}: {totals['nchw'] / totals['nhwc']:.2f}x")


if __name__ == "__main__":
    main()
