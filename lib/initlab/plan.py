"""`initlab plan`: what a profile costs before anything runs.

Per study: its runs (every batch of its `design.batches`), how many are stored and missing,
the training work of the missing ones (image passes, FLOPs) from the study's
`work.trainings`, and the time that work takes on this device, from a short calibration of
each model that appears (`calibrate.measure`). Nothing here loads a data set: sizes come from
`initlab.catalog`. A study's `design` and `work` are torch-free (its batches name their run
functions, `store.LazyFn`), the store counts runs without torch, and the calibration (torch)
is imported only when it runs: `--no-time` imports neither torch nor pandas.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from initlab import paths, store
from initlab.training.progress import duration
from initlab.training.work import Training

if TYPE_CHECKING:
    from initlab import calibrate
    from initlab.training.runtime import Runtime

# study -> its package under initlab.studies; a study's `design` and `work` are imported
# when it is planned, never its training code (`runs`).
PACKAGES: dict[str, str] = {
    "01_warm_start": "warm_start",
    "02_clustered_init": "clustered_init",
    "03_agop_nfm_init": "agop_nfm_init",
    "04_baselines_transfer": "baselines_transfer",
    "05_parameter_dynamics": "parameter_dynamics",
}


def module(study: str, name: str) -> ModuleType:
    """The study's `design` or `work` module (or another of its modules, by name)."""
    return importlib.import_module(f"initlab.studies.{PACKAGES[study]}.{name}")


@dataclass
class StudyPlan:
    """A study's runs and the trainings its missing runs do (shared ones once)."""

    study: str
    total: int = 0
    stored: int = 0
    trainings: list[Training] = field(default_factory=list)

    @property
    def missing(self) -> int:
        return self.total - self.stored

    @property
    def passes(self) -> int:
        return sum(t.passes for t in self.trainings)


def batches(study: str, cfg: Any) -> list[store.Batch]:
    """Every batch of runs `study` needs under `cfg`, listed without loading data or torch."""
    return module(study, "design").batches(cfg)


def run_folders(study: str, cfg: Any) -> list[Path]:
    """Where each run of the study is (or will be) stored."""
    return [store.run_dir(b.study, s) for b in batches(study, cfg) for s in b.settings]


def check_store_writable(study: str, cfg: Any) -> None:
    """A store that cannot be written is fine while every run of the study is stored (they
    are only read); with runs to compute, say so before the notebook starts, not when the
    first run takes its lock."""
    root = paths.store_dir()
    if paths.writable(root):
        return
    folders = run_folders(study, cfg)
    missing = sum(not (folder / "DONE").exists() for folder in folders)
    if missing:
        raise ValueError(f"store {root} cannot be written (read-only?) and {study} has "
                         f"{missing} of {len(folders)} runs to compute: point INITLAB_STORE "
                         "at a writable folder")


def plan_study(study: str, cfg: Any, root: Path | None = None) -> StudyPlan:
    """Count the study's runs and collect the trainings of the missing ones."""
    trainings_of = module(study, "work").trainings
    plan, seen = StudyPlan(study), set()
    for batch in batches(study, cfg):
        for settings in batch.settings:
            plan.total += 1
            if store.is_done(batch.study, settings, root):
                plan.stored += 1
                continue
            for training in trainings_of(settings):
                if training.shared is not None:
                    where = store.run_dir(*training.shared, root)
                    if where in seen or store.is_done(*training.shared, root):
                        continue
                    seen.add(where)
                plan.trainings.append(training)
    return plan


def calibrate_all(plans: list[StudyPlan], runtime: Runtime) -> dict[tuple, calibrate.Cost]:
    """One measured cost per distinct model of the missing trainings."""
    from initlab import calibrate

    costs: dict[tuple, calibrate.Cost] = {}
    for plan in plans:
        for training in plan.trainings:
            if calibrate.key(training) not in costs:
                costs[calibrate.key(training)] = calibrate.measure(training, runtime)
    return costs


def table(plans: list[StudyPlan], costs: dict[tuple, calibrate.Cost]) -> list[str]:
    """The plan as aligned text lines: one row per study and a total."""
    rows = [("study", "runs", "stored", "missing", "image passes", "train FLOPs", "time here")]
    totals = [0, 0, 0, 0, 0.0, 0.0]
    for plan in plans:
        flops, seconds, counted = _cost(plan.trainings, costs)
        timed = plan.trainings and costs
        rows.append((plan.study, str(plan.total), str(plan.stored), str(plan.missing),
                     _si(plan.passes), _si(flops) + ("" if counted else "+") if timed else "-",
                     duration(seconds) if timed else "-"))
        for i, value in enumerate((plan.total, plan.stored, plan.missing, plan.passes, flops,
                                   seconds)):
            totals[i] += value
    rows.append(("all", *(str(v) for v in totals[:3]), _si(totals[3]),
                 _si(totals[4]) if costs else "-", duration(totals[5]) if costs else "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                      enumerate(zip(row, widths))) for row in rows]


def _cost(trainings: list[Training], costs: dict) -> tuple[float, float, bool]:
    """(FLOPs, seconds, whether every model's FLOPs could be counted) of `trainings`."""
    if not costs:  # not calibrated (`initlab plan --no-time`)
        return 0.0, 0.0, False
    from initlab import calibrate

    flops = seconds = 0.0
    counted = True
    for training in trainings:
        cost = costs.get(calibrate.key(training))
        if cost is None:
            return 0.0, 0.0, False
        seconds += cost.seconds * training.passes
        if cost.flops is None:
            counted = False
        else:
            flops += cost.flops * training.passes
    return flops, seconds, counted


def _si(value: float) -> str:
    """3.2 T, 45.1 M, 950: large counts for people."""
    for unit, size in (("E", 1e18), ("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6),
                       ("k", 1e3)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.0f}"


def report(studies: list[str], configs: dict[str, Any], runtime: Runtime,
           timed: bool = True) -> list[str]:
    """`initlab plan`'s lines: a header saying how it was measured, then the table (without
    `timed`, no model is built or timed: runs and image passes only, in about a second)."""
    plans = [plan_study(s, configs[s]) for s in studies]
    if not timed:
        return ["runs and image passes only (--no-time: no model calibrated)", "",
                *table(plans, {})]
    start = time.perf_counter()
    costs = calibrate_all(plans, runtime)
    device = runtime.torch_device
    threads = f", {runtime.cpu_threads} CPU thread(s)" if device.type == "cpu" else ""
    head = (f"time here: one process on {device}{threads}, from {len(costs)} model(s) "
            f"calibrated in {time.perf_counter() - start:.0f} s; training steps only "
            "(evaluation passes not counted); N parallel jobs divide it by up to N")
    return [head, "", *table(plans, costs)]
