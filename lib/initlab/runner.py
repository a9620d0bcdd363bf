"""Execute the study notebooks with papermill, into `figures/<profile>/<study>/`.

Parameters are checked against the study's settings dataclass before a kernel starts, so a
mistyped name fails in a second with the valid names rather than after an hour of training.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from initlab import paths, profiles

KERNEL = "python3"


@dataclass
class Outcome:
    study: str
    notebook: Path
    error: str | None = None  # the failing cell's error, None when the notebook ran through


def studies() -> list[str]:
    """Study names: the notebooks that have a settings dataclass."""
    found = {p.stem for p in paths.notebooks_dir().glob("*.ipynb")}
    return [s for s in profiles.STUDIES if s in found]


def check_request(study_names: list[str], profile: str, overrides: dict[str, Any]) -> list[str]:
    """Validate studies, profile and overrides up front; return the studies to run."""
    available = studies()
    chosen = study_names or available
    for name in chosen:
        if name not in available:
            raise ValueError(f"unknown study {name!r}; choose from {', '.join(available)}")
        profiles.load(name, profile, **overrides)  # raises on bad profile, names or types
    return chosen


def execute(study: str, profile: str = "smoke", overrides: dict[str, Any] | None = None,
            device: str = "auto", train: bool = True) -> Outcome:
    """Run one study notebook with papermill; a failing cell is reported, not raised."""
    import papermill

    overrides = dict(overrides or {})
    out = paths.figures_dir(profile, study) / f"{study}.ipynb"
    parameters = dict(profile=profile, device=device, train=train, overrides=overrides)
    os.environ.setdefault("INITLAB_PROGRESS", "log")  # the kernel inherits it: bars stay short
    os.environ.setdefault("INITLAB_ROOT", str(paths.project_root()))
    _log_cell_output()
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(paths.notebooks_dir() / f"{study}.ipynb"), str(out), parameters=parameters,
            kernel_name=KERNEL, cwd=str(paths.project_root()), progress_bar=False,
            log_output=True,
        )
    except papermill.PapermillExecutionError as error:
        cell = f"cell {error.exec_count}" if error.exec_count else "a cell"
        outcome = Outcome(study, out, f"{cell}: {error.ename}: {error.evalue}")
    else:
        outcome = Outcome(study, out)
    _write_run_record(outcome, parameters, time.perf_counter() - start)
    return outcome


def _write_run_record(outcome: Outcome, parameters: dict, seconds: float) -> None:
    """`run.json` beside the executed notebook: what ran, how it ended (read by the report)."""
    record = dict(parameters, status="failed" if outcome.error else "ok", error=outcome.error,
                  seconds=round(seconds, 1), finished=time.strftime("%Y-%m-%d %H:%M:%S"))
    (outcome.notebook.parent / "run.json").write_text(json.dumps(record, indent=1) + "\n")


def _log_cell_output() -> None:
    """Show the notebook's printed output (progress, summaries) in the terminal as it runs."""
    logger = logging.getLogger("papermill")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
