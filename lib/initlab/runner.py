"""Execute the study notebooks with papermill, into `figures/<profile>/<study>/`.

Parameters are checked against the study's settings dataclass before a kernel starts, so a
mistyped name fails in a second with the valid names rather than after an hour of training.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from initlab import console, paths, profiles
from initlab.tempfiles import clean_stale, temp_path
from initlab.training.runtime import Runtime

KERNEL = "python3"


@dataclass
class Outcome:
    study: str
    notebook: Path
    error: str | None = None  # the failing cell's error, None when the notebook ran through
    log: Path | None = None  # papermill's log: every cell's output


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
            runtime: Runtime | None = None, train: bool = True, *, verbose: bool = False,
            on_cell: Callable[[int], None] | None = None) -> Outcome:
    """Run one study notebook with papermill; a failing cell is reported, not raised.

    The notebook writes into a temporary folder that replaces `figures/<output>/<study>/` only
    when it succeeds: a failed or interrupted run never overwrites good outputs (its partial
    notebook lands in `<study>.failed/`). Runs with overrides have their own output folder
    (`paths.output_name`). The runtime reaches the kernel as the notebook's parameters (never
    through the environment); its progress style defaults to "log" for a papermill log.
    Papermill's log (every cell's output) goes to `<study>.log` beside the notebook, and to
    the terminal too with `verbose`; `on_cell` hears each cell's number as it starts."""
    import papermill

    overrides = dict(overrides or {})
    final = paths.figures_dir(paths.output_name(profile, overrides), study)
    clean_stale(final.parent)
    staging = temp_path(final)
    staging.mkdir()
    runtime = runtime or Runtime(progress="log")
    parameters = dict(profile=profile, device=runtime.device, torch_compile=runtime.compile,
                      threads=runtime.threads, progress=runtime.progress, train=train,
                      overrides=overrides, cluster=runtime.cluster.as_dict(),
                      output_dir=str(staging))
    start = time.perf_counter()
    try:
        with console.papermill_log(staging / f"{study}.log", verbose, on_cell):
            papermill.execute_notebook(
                str(paths.notebooks_dir() / f"{study}.ipynb"), str(staging / f"{study}.ipynb"),
                parameters=parameters, kernel_name=KERNEL, cwd=str(paths.project_root()),
                progress_bar=False, log_output=True, **_kernel_options(staging / f"{study}.log"))
    except papermill.PapermillExecutionError as error:
        cell = f"cell {error.exec_count}" if error.exec_count else "a cell"
        error_text = f"{cell}: {error.ename}: {error.evalue}"
    except BaseException:  # interrupted: keep what ran for inspection, never the good outputs
        _finish(staging, final.with_name(f"{study}.failed"))
        raise
    else:
        error_text = None
    folder = _finish(staging, final if error_text is None else final.with_name(f"{study}.failed"))
    outcome = Outcome(study, folder / f"{study}.ipynb", error_text, folder / f"{study}.log")
    _write_run_record(outcome, parameters, time.perf_counter() - start)
    return outcome


def cell_count(study: str) -> int:
    """The cells papermill reports for a study notebook (its own, plus the injected
    parameters cell)."""
    notebook = json.loads((paths.notebooks_dir() / f"{study}.ipynb").read_text())
    return len(notebook["cells"]) + 1


def _kernel_options(log: Path) -> dict[str, Any]:
    """Papermill's options for the kernel: its own output (the kernel app's messages, native
    libraries' warnings, its complaints when Ctrl-C closes its sockets) goes to the study's
    log, not the terminal; and it talks over IPC (Unix sockets in a private folder), so it
    neither listens on TCP nor warns that TCP traffic is unencrypted (TCP on Windows)."""
    from jupyter_client import AsyncKernelManager

    class LoggedKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            if os.name != "nt":
                kwargs.update(transport="ipc", ip=_ipc_address())
            super().__init__(**kwargs)

        async def start_kernel(self, **kw: Any) -> None:
            with open(log, "ab") as output:
                await super().start_kernel(**{"stdout": output, "stderr": output, **kw})

    return {"kernel_manager_class": LoggedKernelManager}


def _ipc_address() -> str:
    """A fresh socket prefix in one private folder per process (removed at exit)."""
    if not _IPC_FOLDER:
        _IPC_FOLDER.append(tempfile.mkdtemp(prefix="initlab-kernels-"))
        atexit.register(shutil.rmtree, _IPC_FOLDER[0], ignore_errors=True)
    return os.path.join(_IPC_FOLDER[0], f"kernel-{next(_KERNELS)}")


_IPC_FOLDER: list[str] = []
_KERNELS = itertools.count()


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
