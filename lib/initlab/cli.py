"""`initlab`: run, re-render, plan and list the studies; compare the inits across them; check
and fetch data sets."""

# This module imports only what every command needs (argparse, paths, the runner's name
# checks): torch, pandas, matplotlib, papermill and the studies load inside the commands that
# use them, so `--help` and a mistyped study answer at once (tests/test_cli_imports.py).

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from initlab import paths, runner, side_by_side
from initlab.training.cluster import Cluster, parse_pairs

if TYPE_CHECKING:
    from initlab.training.runtime import Runtime

PROFILES = runner.PROFILES
# For the help texts only, without importing torch (tests/test_cli_imports.py checks that it
# equals training.runtime.DEVICES).
DEVICES = ("auto", "cpu", "cuda", "mps")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="initlab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("run", "train what is missing, then execute the notebooks"),
                       ("render", "re-execute the notebooks from the store only (no training)"),
                       ("plan", "runs stored and missing, the work and time they need")):
        p = sub.add_parser(name, help=text)
        p.add_argument("studies", nargs="*", help="study names (default: all)")
        p.add_argument("--profile", default="smoke", help=f"one of {', '.join(PROFILES)}")
        p.add_argument("-p", "--param", nargs=2, action="append", default=[],
                       metavar=("KEY", "VALUE"), help="override a setting of every study run, "
                       "e.g. -p dataset mnist")
        p.add_argument("--device", default="auto", help=f"one of {', '.join(DEVICES)}")
        p.add_argument("--threads", type=int, default=0,
                       help="CPU threads for training (default 0: one for small models)")
        if name == "plan":
            p.add_argument("--no-time", action="store_true",
                           help="skip the calibration: runs, stored, missing and image passes")
            continue
        p.add_argument("--compile", action="store_true",
                       help="torch.compile the models (long GPU runs; slower for short ones)")
        p.add_argument("--verbose", action="store_true",
                       help="show the notebook's whole log (always in <study>.log beside it)")
        p.add_argument("--force", action="store_true", help="execute the notebooks even where "
                       "nothing their outputs depend on changed (see initlab.stamp)")
        if name == "run":
            _executor_arguments(p)
        else:  # the parent of several renders writes the pages once (side_by_side)
            p.add_argument("--no-pages", action="store_true", help=argparse.SUPPRESS)
    sub.add_parser("list", help="studies, profiles and their settings")
    rep = sub.add_parser("report", help="write figures/<profile>/README.md from what has run")
    rep.add_argument("--profile", default="smoke", help=f"one of {', '.join(PROFILES)}")
    comp = sub.add_parser("compare", help="one page of every init across the studies that "
                          "have run: figures/<profile>/compare.md")
    comp.add_argument("--profile", default="smoke", help=f"one of {', '.join(PROFILES)}")
    comp.add_argument("-p", "--param", nargs=2, action="append", default=[],
                      metavar=("KEY", "VALUE"), help="the -p values the studies ran with (they "
                      "name the output folder)")
    ver = sub.add_parser("verify", help="compare your finished run's tables with the shipped "
                         "reference results, each number within its seed spread")
    ver.add_argument("--profile", default="quick", help=f"one of {', '.join(PROFILES)}")
    ver.add_argument("--reference", default="", help="reference folder (default: the "
                     "checkout's figures/reference)")
    ref = sub.add_parser("reference", help="copy a finished profile's tables, report page and "
                         "figures into figures/reference/ (what verify compares with)")
    ref.add_argument("--profile", default="quick", help=f"one of {', '.join(PROFILES)}")
    data = sub.add_parser("data", help="which data sets are present; fetch missing ones")
    data.add_argument("action", choices=("check", "download"))
    data.add_argument("names", nargs="*", help="data set names (default: all)")
    return parser


def _executor_arguments(p: argparse.ArgumentParser) -> None:
    """Where `initlab run` computes the missing runs (see `training.cluster.Cluster`)."""
    group = p.add_argument_group("executor", "where the missing runs are computed (default: "
                                 "here, on a CPU one per core at once in worker processes)")
    group.add_argument("--executor", choices=("local", "slurm"), default="",
                       help="local: processes on this machine (one GPU each where there are "
                       "several); slurm: one SLURM job array per batch of runs")
    group.add_argument("--jobs", type=int, default=0,
                       help="at most this many runs at once (default: here and local one "
                       "per GPU or CPU core; slurm as many as the scheduler starts); here, 1 "
                       "computes them in the notebook's own process")
    group.add_argument("--gpus", type=int, default=0, help="GPUs per job")
    for name, text in (("partition", "SLURM partition"), ("memory", "memory per job, e.g. 16G"),
                       ("time", "time limit per job, e.g. 4:00:00 (default: the partition's)"),
                       ("account", "SLURM account"), ("qos", "SLURM quality of service")):
        group.add_argument(f"--{name}", default="", help=text)
    group.add_argument("--cpus", type=int, default=0, help="CPUs per SLURM job")
    group.add_argument("--slurm", action="append", default=[], metavar="KEY=VALUE",
                       help="another sbatch option, e.g. --slurm constraint=a100 (repeatable)")


def _cluster(args) -> Cluster:
    """The executor settings of `initlab run` (none for `render`, which never trains)."""
    if not hasattr(args, "executor"):
        return Cluster()
    return Cluster(args.executor, args.jobs, args.partition, args.gpus, args.cpus, args.memory,
                   args.time, args.account, args.qos, parse_pairs(args.slurm))


def _overrides(args) -> dict:
    from initlab.settings import parse_value

    return {key: parse_value(value) for key, value in args.param}


def cmd_run(args, train: bool) -> int:
    overrides = _overrides(args)
    runner.check_names(args.studies, args.profile)  # a typo fails before torch is imported
    paths.check_folders(read=("data", "store"), write=("figures",))
    from initlab import stamp

    # torch checks the runtime here where it must; a render of "auto"/"cpu" leaves it to the
    # studies' own processes (the side-by-side parent never needs torch to start them)
    checked = train or args.device not in ("auto", "cpu") or args.threads < 0
    runtime = _runtime(args) if checked else None
    chosen = runner.check_request(args.studies, args.profile, overrides)
    if train:
        _check_store(runtime, chosen, args.profile, overrides)
    requests = [stamp.Request(s, args.profile, overrides, args.device, args.compile,
                              args.threads) for s in chosen]
    todo = requests if args.force else stamp.stale(requests, train)
    executed, failed, study, stored = bool(todo), [], chosen[0], _stored_runs(chosen[0])
    if todo and not train and not args.verbose and side_by_side.workers(todo) > 1:
        failed = side_by_side.render([r.study for r in todo], side_by_side.options(args))
        todo = []
    try:
        for request in todo:
            study, stored = request.study, _stored_runs(request.study)
            runtime = runtime or _runtime(args)
            failed += [] if _run_one(request, args, runtime, train) else [study]
    except KeyboardInterrupt:
        now = _stored_runs(study)
        print(f"\ninterrupted: {study} has {now} runs stored ({now - stored} new in this "
              "attempt); its outputs were left as they were. Run the same command to resume.",
              file=sys.stderr)
        return 130
    if not getattr(args, "no_pages", False):
        from initlab import report

        report.write_pages(paths.output_name(args.profile, overrides), executed=executed)
    return 1 if failed else 0


def _run_one(request, args, runtime: Runtime, train: bool) -> bool:
    return runner.run_one(request, runtime, train, verbose=args.verbose)


def _runtime(args) -> Runtime:
    from initlab.training.runtime import Runtime

    return Runtime(args.device, args.compile, args.threads, progress="log",
                   cluster=_cluster(args))  # checks them


def _check_store(runtime: Runtime, chosen: list[str], profile: str, overrides: dict) -> None:
    """Before `run` starts: the executor is there, the store takes the runs to compute."""
    from initlab import plan, profiles, store

    store.jobs.check_available(runtime.cluster)
    for study in chosen:
        plan.check_store_writable(study, profiles.load(study, profile, **overrides))


def _stored_runs(study: str) -> int:
    """Finished runs of `study` (and of its helper stores, e.g. its source models)."""
    return sum(1 for _ in paths.store_dir().glob(f"{study}*/*/DONE"))


def cmd_plan(args) -> int:
    overrides = _overrides(args)
    runner.check_names(args.studies, args.profile)
    paths.check_folders(read=("data", "store"))
    from initlab import plan, profiles
    from initlab.training.runtime import Runtime

    runtime = Runtime(args.device, threads=args.threads)
    chosen = runner.check_request(args.studies, args.profile, overrides)
    configs = {s: profiles.load(s, args.profile, **overrides) for s in chosen}
    print(f"plan: profile {paths.output_name(args.profile, overrides)}, store "
          f"{paths.store_dir()}", flush=True)
    for line in plan.report(chosen, configs, runtime, timed=not args.no_time):
        print(line)
    return 0


def cmd_pages(args) -> int:
    """`report`: figures/<profile>/README.md from what has run; `compare`: the compare page
    of an output folder, then the report page that links it."""
    runner.check_names([], args.profile)
    paths.check_folders(write=("figures",))
    from initlab import compare, report

    output = paths.output_name(args.profile, _overrides(args) if "param" in args else {})
    if args.command == "compare":
        print(f"compare: {compare.write(output)}", flush=True)
    print(f"{'report: ' if args.command == 'compare' else ''}{report.write(output)}", flush=True)
    return 0


def cmd_verify(args) -> int:
    """One line per study (reproduced or DIFFERENT), then each number outside its tolerance."""
    runner.check_names([], args.profile)
    from initlab import verify

    lines, ok = verify.report(args.profile, paths.figures_root(), args.reference)
    print("\n".join(lines))
    return 0 if ok else 1


def cmd_reference(args) -> int:
    """Ship the finished studies of a profile as the reference results, with provenance."""
    runner.check_names([], args.profile)
    from initlab import reference, verify

    for line in reference.ship(args.profile, paths.figures_root(), verify.reference_root()):
        print(line, flush=True)
    return 0


def cmd_list() -> int:
    from initlab import profiles

    for study in runner.studies():
        print(study)
        for profile, values in profiles.describe(study).items():
            shown = ", ".join(f"{k}={v}" for k, v in values.items())
            print(f"  {profile:6s} {shown}")
    return 0


def cmd_data(args) -> int:
    paths.check_folders(read=("data",), write=("data",) if args.action == "download" else ())
    from initlab import data

    names = args.names or list(data.DATASETS)
    missing = 0
    for name in names:
        if args.action == "download" and not data.available(name):
            data.download(name)
        present = data.available(name)
        missing += not present
        print(f"{name:15s} {'present' if present else 'MISSING'}  {_data_where(data, name)}")
    print(f"data folder: {paths.data_dir()}")
    return 1 if missing and args.action == "download" else 0


def _data_where(data, name: str) -> str:
    """Where a data set's files are (or go); an image folder is the user's own."""
    if name == "image_folder":
        return ("your own folder of train/<class>/<image> and test/<class>/<image>, given "
                "where it is used (study 04: -p folder /path/to/it; data.load: path=)")
    return ", ".join(str(p) for p in data.expected_files(name)[:2])


COMMANDS = {"plan": cmd_plan, "compare": cmd_pages, "report": cmd_pages,
            "list": lambda args: cmd_list(), "data": cmd_data, "verify": cmd_verify,
            "reference": cmd_reference,
            "run": lambda args: cmd_run(args, train=True),
            "render": lambda args: cmd_run(args, train=False)}


def _user_errors() -> tuple[type[BaseException], ...]:
    """The errors that are the user's to fix (one line, no traceback): the built-in kinds,
    and the package's own where their modules were loaded (an error of a module never
    imported cannot have been raised)."""
    kinds: list[type[BaseException]] = [ValueError, TypeError, LookupError, OSError]
    for module, name in (("initlab.data.sets", "DataUnavailableError"),
                         ("initlab.store.jobs", "ExecutorUnavailable")):
        if loaded := sys.modules.get(module):
            kinds.append(getattr(loaded, name))
    return tuple(kinds)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if not isinstance(error, _user_errors()):
            raise
        print(f"initlab: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
