"""`initlab`: run, re-render, plan and list the studies; compare the inits across them; check
and fetch data sets."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import yaml

from initlab import compare, console, paths, plan, profiles, report, runner, store
from initlab.training.cluster import Cluster, parse_pairs
from initlab.training.runtime import DEVICES, Runtime


def _parse_value(text: str):
    """`-p iterations 3` -> 3, `-p noises blur,gaussian` -> 'blur,gaussian' (split later).

    Only `true`/`false` mean booleans: YAML 1.1 would also read on/off/yes/no as booleans,
    which turned `-p tiny_imagenet off` into False."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, bool) and text.strip().lower() not in ("true", "false"):
        return text
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="initlab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("run", "train what is missing, then execute the notebooks"),
                       ("render", "re-execute the notebooks from the store only (no training)")):
        p = sub.add_parser(name, help=text)
        p.add_argument("studies", nargs="*", help="study names (default: all)")
        p.add_argument("--profile", default="smoke", help=f"one of {', '.join(profiles.PROFILES)}")
        p.add_argument("-p", "--param", nargs=2, action="append", default=[],
                       metavar=("KEY", "VALUE"), help="override a setting, e.g. -p dataset mnist")
        p.add_argument("--device", default="auto", help=f"one of {', '.join(DEVICES)}")
        p.add_argument("--compile", action="store_true",
                       help="torch.compile the models (long GPU runs; slower for short ones)")
        p.add_argument("--threads", type=int, default=0,
                       help="CPU threads for training (default 0: one for small models)")
        p.add_argument("--verbose", action="store_true",
                       help="show the notebook's whole log (always in <study>.log beside it)")
        if name == "run":
            _executor_arguments(p)
    plan = sub.add_parser("plan", help="runs stored and missing, the work and time they need")
    plan.add_argument("studies", nargs="*", help="study names (default: all)")
    plan.add_argument("--profile", default="smoke", help=f"one of {', '.join(profiles.PROFILES)}")
    plan.add_argument("-p", "--param", nargs=2, action="append", default=[],
                      metavar=("KEY", "VALUE"), help="override a setting, e.g. -p dataset mnist")
    plan.add_argument("--device", default="auto", help=f"one of {', '.join(DEVICES)}")
    plan.add_argument("--threads", type=int, default=0, help="CPU threads, as for `run`")
    sub.add_parser("list", help="studies, profiles and their settings")
    rep = sub.add_parser("report", help="write figures/<profile>/README.md from what has run")
    rep.add_argument("--profile", default="smoke", help=f"one of {', '.join(profiles.PROFILES)}")
    comp = sub.add_parser("compare", help="one page of every init across the studies that "
                          "have run: figures/<profile>/compare.md")
    comp.add_argument("--profile", default="smoke", help=f"one of {', '.join(profiles.PROFILES)}")
    comp.add_argument("-p", "--param", nargs=2, action="append", default=[],
                      metavar=("KEY", "VALUE"), help="the -p values the studies ran with (they "
                      "name the output folder)")
    data = sub.add_parser("data", help="which data sets are present; fetch missing ones")
    data.add_argument("action", choices=("check", "download"))
    data.add_argument("names", nargs="*", help="data set names (default: all)")
    return parser


def _executor_arguments(p: argparse.ArgumentParser) -> None:
    """Where `initlab run` computes the missing runs (see `training.cluster.Cluster`)."""
    group = p.add_argument_group("executor", "send the missing runs out as jobs (default: "
                                 "compute them here, one after another)")
    group.add_argument("--executor", choices=("local", "slurm"), default="",
                       help="local: processes on this machine (one GPU each where there are "
                       "several); slurm: one SLURM job array per batch of runs")
    group.add_argument("--jobs", type=int, default=0,
                       help="at most this many jobs at once (default: local one per GPU or "
                       "CPU core; slurm as many as the scheduler starts)")
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


def cmd_run(args, train: bool) -> int:
    overrides = {key: _parse_value(value) for key, value in args.param}
    runtime = Runtime(args.device, args.compile, args.threads, progress="log",
                      cluster=_cluster(args))  # checks them
    store.jobs.check_available(runtime.cluster)
    chosen = runner.check_request(args.studies, args.profile, overrides)
    failed, study, stored = [], chosen[0], _stored_runs(chosen[0])
    try:
        for study in chosen:
            stored = _stored_runs(study)
            failed += [study] if not _run_one(study, args, overrides, runtime, train) else []
    except KeyboardInterrupt:
        now = _stored_runs(study)
        print(f"\ninterrupted: {study} has {now} runs stored ({now - stored} new in this "
              "attempt); its outputs were left as they were. Run the same command to resume.",
              file=sys.stderr)
        return 130
    output = paths.output_name(args.profile, overrides)
    if compare.has_scores(output):  # keep the page the report links in step with the runs
        print(f"compare: {compare.write(output)}", flush=True)
    print(f"report: {report.write(output)}", flush=True)
    return 1 if failed else 0


def _run_one(study: str, args, overrides: dict, runtime: Runtime, train: bool) -> bool:
    start = time.perf_counter()
    title = f"{study} ({args.profile}{', render only' if not train else ''})"
    with console.StudyLine(title, runner.cell_count(study),
                           _run_folders(study, args.profile, overrides)) as line:
        outcome = runner.execute(study, args.profile, overrides, runtime, train,
                                 verbose=args.verbose, on_cell=line.on_cell)
    took = time.perf_counter() - start
    if outcome.error:
        shown = [] if args.verbose else console.tail(outcome.log)
        print(f"!! {study} failed after {took:.0f} s in {outcome.error}", file=sys.stderr)
        print("".join(f"   | {text}\n" for text in shown), end="", file=sys.stderr)
        print(f"   partial notebook: {outcome.notebook}\n   log: {outcome.log}",
              file=sys.stderr)
        return False
    print(f"ok {study} in {took:.0f} s -> {outcome.notebook.parent}", flush=True)
    return True


def _run_folders(study: str, profile: str, overrides: dict) -> list[Path] | None:
    """The store folders of the study's runs, for the progress line (None if they cannot be
    listed here: the notebook will say why)."""
    try:
        return plan.run_folders(study, profiles.load(study, profile, **overrides))
    except Exception:  # noqa: BLE001 - only the progress line's run count is lost
        return None


def _stored_runs(study: str) -> int:
    """Finished runs of `study` (and of its helper stores, e.g. its source models)."""
    return sum(1 for _ in paths.store_dir().glob(f"{study}*/*/DONE"))


def cmd_plan(args) -> int:
    overrides = {key: _parse_value(value) for key, value in args.param}
    runtime = Runtime(args.device, threads=args.threads)
    chosen = runner.check_request(args.studies, args.profile, overrides)
    configs = {s: profiles.load(s, args.profile, **overrides) for s in chosen}
    print(f"plan: profile {paths.output_name(args.profile, overrides)}, store "
          f"{paths.store_dir()}", flush=True)
    for line in plan.report(chosen, configs, runtime):
        print(line)
    return 0


def cmd_compare(args) -> int:
    """Write the compare page of an output folder, then the report page that links it."""
    overrides = {key: _parse_value(value) for key, value in args.param}
    if args.profile not in profiles.PROFILES:
        raise ValueError(f"unknown profile {args.profile!r}; choose one of "
                         f"{', '.join(profiles.PROFILES)}")
    output = paths.output_name(args.profile, overrides)
    print(f"compare: {compare.write(output)}", flush=True)
    print(f"report: {report.write(output)}", flush=True)
    return 0


def cmd_list() -> int:
    for study in runner.studies():
        print(study)
        for profile, values in profiles.describe(study).items():
            shown = ", ".join(f"{k}={v}" for k, v in values.items())
            print(f"  {profile:6s} {shown}")
    return 0


def cmd_data(args) -> int:
    from initlab import data

    names = args.names or list(data.DATASETS)
    missing = 0
    for name in names:
        if args.action == "download" and not data.available(name):
            data.download(name)
        present = data.available(name)
        missing += not present
        where = ", ".join(str(p) for p in data.expected_files(name)[:2])
        print(f"{name:15s} {'present' if present else 'MISSING'}  {where}")
    print(f"data folder: {paths.data_dir()}")
    return 1 if missing and args.action == "download" else 0


def main(argv: list[str] | None = None) -> int:
    from initlab.data import DataUnavailableError

    args = build_parser().parse_args(argv)
    try:
        if args.command in ("run", "render"):
            return cmd_run(args, train=args.command == "run")
        if args.command == "plan":
            return cmd_plan(args)
        if args.command == "compare":
            return cmd_compare(args)
        if args.command == "list":
            return cmd_list()
        if args.command == "report":
            print(report.write(args.profile))
            return 0
        return cmd_data(args)
    except (ValueError, TypeError, LookupError, OSError, DataUnavailableError,
            store.ExecutorUnavailable) as error:
        print(f"initlab: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
