"""`initlab`: run, re-render and list the studies; check and fetch data sets."""

from __future__ import annotations

import argparse
import sys
import time

import yaml

from initlab import paths, profiles, report, runner
from initlab.training.runtime import DEVICES, Runtime


def _parse_value(text: str):
    """`-p iterations 3` -> 3, `-p noises blur,gaussian` -> 'blur,gaussian' (split later)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


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
    sub.add_parser("list", help="studies, profiles and their settings")
    rep = sub.add_parser("report", help="write figures/<profile>/README.md from what has run")
    rep.add_argument("--profile", default="smoke", help=f"one of {', '.join(profiles.PROFILES)}")
    data = sub.add_parser("data", help="which data sets are present; fetch missing ones")
    data.add_argument("action", choices=("check", "download"))
    data.add_argument("names", nargs="*", help="data set names (default: all)")
    return parser


def cmd_run(args, train: bool) -> int:
    overrides = {key: _parse_value(value) for key, value in args.param}
    runtime = Runtime(args.device, args.compile, args.threads, progress="log")  # checks them
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
    print(f"report: {report.write(paths.output_name(args.profile, overrides))}", flush=True)
    return 1 if failed else 0


def _run_one(study: str, args, overrides: dict, runtime: Runtime, train: bool) -> bool:
    start = time.perf_counter()
    print(f"== {study} ({args.profile}{', render only' if not train else ''})", flush=True)
    outcome = runner.execute(study, args.profile, overrides, runtime, train)
    took = time.perf_counter() - start
    if outcome.error:
        print(f"!! {study} failed after {took:.0f} s in {outcome.error}\n"
              f"   partial notebook: {outcome.notebook}", file=sys.stderr)
        return False
    print(f"ok {study} in {took:.0f} s -> {outcome.notebook.parent}", flush=True)
    return True


def _stored_runs(study: str) -> int:
    """Finished runs of `study` (and of its helper stores, e.g. its source models)."""
    return sum(1 for _ in paths.store_dir().glob(f"{study}*/*/DONE"))


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
        if args.command == "list":
            return cmd_list()
        if args.command == "report":
            print(report.write(args.profile))
            return 0
        return cmd_data(args)
    except (ValueError, TypeError, LookupError, OSError, DataUnavailableError) as error:
        print(f"initlab: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
