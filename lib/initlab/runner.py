"""Execute the study notebooks with papermill, into `figures/<profile>/<study>/`.

Parameters are checked against the study's settings dataclass before a kernel starts, so a
mistyped name fails in a second with the valid names rather than after an hour of training.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from initlab import paths, profiles
from initlab.tempfiles import clean_stale, temp_path
from initlab.training.runtime import Runtime

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
            runtime: Runtime | None = None, train: bool = True) -> Outcome:
    """Run one study notebook with papermill; a failing cell is reported, not raised.

    The notebook writes into a temporary folder that replaces `figures/<output>/<study>/` only
    when it succeeds: a failed or interrupted run never overwrites good outputs (its partial
    notebook lands in `<study>.failed/`). Runs with overrides have their own output folder
    (`paths.output_name`). The runtime reaches the kernel as the notebook's parameters (never
    through the environment); its progress style defaults to "log" for a papermill log."""
    import papermill

    overrides = dict(overrides or {})
    final = paths.figures_dir(paths.output_name(profile, overrides), study)
    clean_stale(final.parent)
    staging = temp_path(final)
    staging.mkdir()
    runtime = runtime or Runtime(progress="log")
    parameters = dict(profile=profile, device=runtime.device, torch_compile=runtime.compile,
                      threads=runtime.threads, progress=runtime.progress, train=train,
                      overrides=overrides, output_dir=str(staging))
    _log_cell_output()
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(paths.notebooks_dir() / f"{study}.ipynb"), str(staging / f"{study}.ipynb"),
            parameters=parameters, kernel_name=KERNEL, cwd=str(paths.project_root()),
            progress_bar=False, log_output=True)
    except papermill.PapermillExecutionError as error:
        cell = f"cell {error.exec_count}" if error.exec_count else "a cell"
        error_text = f"{cell}: {error.ename}: {error.evalue}"
    except BaseException:  # interrupted: keep what ran for inspection, never the good outputs
        _finish(staging, final.with_name(f"{study}.failed"))
        raise
    else:
        error_text = None
    folder = _finish(staging, final if error_text is None else final.with_name(f"{study}.failed"))
    outcome = Outcome(study, folder / f"{study}.ipynb", error_text)
    _write_run_record(outcome, parameters, time.perf_counter() - start)
    return outcome


def _finish(staging: Path, target: Path) -> Path:
    """Put the staging folder in place of `target` (the old one removed only after)."""
    old = target.with_name(f"{target.name}.old-{staging.name.rsplit('-', 1)[-1]}")
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)
    return target


def _write_run_record(outcome: Outcome, parameters: dict, seconds: float) -> None:
    """`run.json` beside the executed notebook: what ran, how it ended (read by the report)."""
    parameters = {k: v for k, v in parameters.items() if k != "output_dir"}
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
