"""Execute the study notebooks with papermill, into `figures/<profile>/<study>/`.

Parameters are checked against the study's settings dataclass before a kernel starts, so a
mistyped name fails in a second with the valid names rather than after an hour of training.
Study names and profiles are checked without importing any study (nor torch), so a typo
answers at once; the kernel's own failures (an error in a cell, a dead kernel, a full disk)
end in one line each, and no kernel outlives the command.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from initlab import console, kernel, paths, stamp
from initlab.tempfiles import clean_stale, is_disk_full, temp_path

if TYPE_CHECKING:
    from initlab.training.runtime import Runtime

KERNEL = "python3"
PROFILES = ("smoke", "quick", "paper")  # settings.PROFILES, without importing the settings
_STUDY = re.compile(r"\d+_(\w+)")  # notebooks/NN_<package>.ipynb <-> studies/<package>/


@dataclass
class Outcome:
    study: str
    notebook: Path
    error: str | None = None  # the failing cell's error, None when the notebook ran through
    log: Path | None = None  # papermill's log: every cell's output
    kernel_died: bool = False  # the kernel process ended mid-notebook (killed, out of memory)


def studies() -> list[str]:
    """Study names: the notebooks `NN_<package>.ipynb` whose study package has a settings
    module, found on disk without importing a study (tests check that they are
    `profiles.STUDIES` exactly)."""
    found = sorted(p.stem for p in paths.notebooks_dir().glob("*.ipynb"))
    home = Path(__file__).parent / "studies"
    return [s for s in found
            if (m := _STUDY.fullmatch(s)) and (home / m.group(1) / "settings.py").is_file()]


def check_names(study_names: list[str], profile: str) -> list[str]:
    """The studies to run (all when none is named), after checking the names and the profile:
    in a fraction of a second, before any settings are built."""
    available = studies()
    for name in study_names:
        if name not in available:
            raise ValueError(f"unknown study {name!r}; choose from {', '.join(available)}")
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    return list(study_names) or available


def check_request(study_names: list[str], profile: str, overrides: dict[str, Any]) -> list[str]:
    """Validate studies, profile and overrides up front (every `-p` value applies to every
    study run, so each must be a setting of each); return the studies to run."""
    from initlab import profiles
    from initlab.settings import UnknownSetting

    chosen = check_names(study_names, profile)
    for name in chosen:
        try:
            settings = profiles.load(name, profile, **overrides)  # names, types, ranges
        except UnknownSetting as error:
            raise ValueError(_unknown_setting(error, name, study_names, chosen)) from None
        check_init_options(settings)
    return chosen


def _unknown_setting(error, study: str, named: list[str], chosen: list[str]) -> str:
    """One line: which study lacks the setting, that -p applies to every study run, and
    which studies have it (else, for a typo, the study's settings)."""
    from initlab import profiles

    having = [s for s in chosen if error.key in vars(profiles.load(s, "paper"))]
    text = f"unknown parameter {error.key!r} for study {study} (-p applies to every study run"
    text += ")" if named else "; no study was named, so all of them run)"
    if having:
        return (f"{text}; {', '.join(having)} {'has' if len(having) == 1 else 'have'} it: "
                f"name {'it' if len(having) == 1 else 'them'}, e.g. `initlab run "
                f"{' '.join(having)} -p {error.key} ...`")
    return f"{text}; {study}'s settings: {', '.join(error.names)}"


def check_init_options(settings: Any) -> None:
    """Each option of `init_options` is one its init takes (`inits.InitSpec.of`), before any
    kernel starts: a misspelt option fails here in one line, not in a notebook cell. Inits
    given no options, and names a study handles itself (not registered), are the study's."""
    if not (hasattr(settings, "inits") and hasattr(settings, "init_options")):
        return
    from initlab.inits import InitSpec, methods

    for name in settings.inits:
        options = settings.init_options.get(name)
        if options and (name in methods() or ":" in name):
            try:
                InitSpec.of(name, options)
            except ValueError as error:
                raise ValueError(f"init_options: {error}") from None


def execute(study: str, profile: str = "smoke", overrides: dict[str, Any] | None = None,
            runtime: Runtime | None = None, train: bool = True, *, verbose: bool = False,
            on_cell: Callable[[int], None] | None = None) -> Outcome:
    """Run one study notebook with papermill; a failing cell is reported, not raised.

    The notebook writes into a temporary folder that replaces `figures/<output>/<study>/` only
    when it succeeds: a failed or interrupted run never overwrites good outputs (its partial
    notebook lands in `<study>.failed/`; on a full disk only its log and notebook are kept)
    and leaves no empty folder. Runs with overrides have their own output folder
    (`paths.output_name`). The runtime reaches the kernel as the notebook's parameters (never
    through the environment); its progress style defaults to "log" for a papermill log.
    Papermill's log (every cell's output) goes to `<study>.log` beside the notebook, and to
    the terminal too with `verbose`; `on_cell` hears each cell's number as it starts."""
    papermill = kernel.import_papermill()
    from nbformat.warnings import MissingIDFieldWarning

    from initlab.training.runtime import Runtime

    overrides = dict(overrides or {})
    final = paths.figures_dir(paths.output_name(profile, overrides)) / study
    clean_stale(final.parent)
    staging = temp_path(final)
    _disk_full_guard(staging.mkdir, staging)
    runtime = runtime or Runtime(progress="log")
    parameters = dict(profile=profile, device=runtime.device, torch_compile=runtime.compile,
                      threads=runtime.threads, progress=runtime.progress, train=train,
                      overrides=overrides, cluster=runtime.cluster.as_dict(),
                      output_dir=str(staging))
    start, log = time.perf_counter(), staging / f"{study}.log"
    try:
        with console.papermill_log(log, verbose, on_cell), kernel.options(log) as options, \
                warnings.catch_warnings():
            # nbformat's advice about a cell without an id is the notebook author's, not
            # the terminal's (nbformat adds the ids itself)
            warnings.simplefilter("ignore", MissingIDFieldWarning)
            papermill.execute_notebook(
                str(paths.notebooks_dir() / f"{study}.ipynb"), str(staging / f"{study}.ipynb"),
                parameters=parameters, kernel_name=KERNEL, cwd=str(paths.project_root()),
                progress_bar=False, log_output=True, **options)
    except BaseException as error:  # noqa: B036 - `_failure` raises all but a notebook's end
        error_text, died = _failure(error, study, staging, final)
    else:
        error_text, died = None, False
    folder = _finish(staging, final if error_text is None else final.with_name(f"{study}.failed"))
    outcome = Outcome(study, folder / f"{study}.ipynb", error_text, folder / f"{study}.log",
                      died)
    _disk_full_guard(lambda: _write_run_record(outcome, parameters,
                                               time.perf_counter() - start), folder)
    return outcome


def run_one(request: stamp.Request, runtime: Runtime, train: bool, *,
            verbose: bool = False) -> bool:
    """Execute one study's notebook with its line on the terminal (cells, runs stored), then
    one line saying how it ended; stamp its outputs with the inputs taken before it started
    (`stamp.record`). True when it ran through."""
    start, study, profile = time.perf_counter(), request.study, request.profile
    title = f"{study} ({profile}{', render only' if not train else ''})"
    folders = _run_folders(request)
    before = stamp.snapshot(request)
    with console.StudyLine(title, cell_count(study), folders) as line:
        outcome = execute(study, profile, request.overrides, runtime, train, verbose=verbose,
                          on_cell=line.on_cell)
    took, runs = time.perf_counter() - start, line.runs_text()
    if outcome.kernel_died:
        print(f"!! {study}: the kernel died after {took:.0f} s (killed, or out of memory?)"
              f"{'; ' + line.stored_text() if runs else ''}; log: {outcome.log}",
              file=sys.stderr)
        return False
    if outcome.error:
        shown = [] if verbose else console.tail(outcome.log)
        print(f"!! {study} failed after {took:.0f} s in {outcome.error}", file=sys.stderr)
        print("".join(f"   | {text}\n" for text in shown), end="", file=sys.stderr)
        print(f"   partial notebook: {outcome.notebook}\n   log: {outcome.log}",
              file=sys.stderr)
        return False
    print(f"ok {study} in {took:.0f} s{': ' + runs if runs else ''} -> "
          f"{outcome.notebook.parent}", flush=True)
    for note in (console.set_aside(outcome.log), stamp.record(request, before, train)):
        if note:
            print(f"   {note}", flush=True)
    return True


def _run_folders(request: stamp.Request) -> list[Path] | None:
    """The store folders of the study's runs, for the progress line (None if they cannot be
    listed here: the notebook will say why)."""
    try:
        return stamp.planned_runs(request)
    except Exception:  # noqa: BLE001 - only the progress line's run count is lost
        return None


def _failure(error: BaseException, study: str, staging: Path, final: Path) -> tuple[str, bool]:
    """How the notebook ended, when it ended early: an error in a cell, or a dead kernel
    (the error's text; whether the kernel died). Anything else (Ctrl-C, a full disk, a bug)
    is raised, after the partial outputs moved to `<study>.failed/` (never over the good
    ones); on a full disk only the log and the notebook are kept, and the error names where."""
    import papermill
    from nbclient.exceptions import DeadKernelError

    if isinstance(error, papermill.PapermillExecutionError):
        if "No space left on device" in error.evalue or "Errno 28" in error.evalue:
            _keep_small(staging)
        cell = f"cell {error.exec_count}" if error.exec_count else "a cell"
        return f"{cell}: {error.ename}: {error.evalue}", False
    if isinstance(error, DeadKernelError):
        return "the kernel died", True
    full = isinstance(error, OSError) and is_disk_full(error)
    if full:
        _keep_small(staging)
    failed = _finish(staging, final.with_name(f"{study}.failed"))
    if full:
        raise OSError(errno.ENOSPC, f"no space left on the device of {final.parent} (writing "
                      f"the {study} notebook's outputs); kept only its log and notebook in "
                      f"{failed}") from None
    raise error


def cell_count(study: str) -> int:
    """The cells papermill reports for a study notebook (its own, plus the injected
    parameters cell)."""
    notebook = json.loads((paths.notebooks_dir() / f"{study}.ipynb").read_text())
    return len(notebook["cells"]) + 1


def _disk_full_guard(action: Callable[[], Any], where: Path) -> Any:
    """Run `action`; a full disk becomes an error naming `where` (errno 28 alone names no
    path)."""
    try:
        return action()
    except OSError as error:
        if is_disk_full(error):
            raise OSError(errno.ENOSPC, f"no space left on the device of {where}") from None
        raise


def _keep_small(staging: Path) -> None:
    """On a full disk, keep only the study's log and notebook of a failed run (a copy of
    its figures and tables would keep the disk full)."""
    for item in staging.iterdir() if staging.exists() else ():
        if item.suffix not in (".log", ".ipynb"):
            shutil.rmtree(item, ignore_errors=True) if item.is_dir() else item.unlink()


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
