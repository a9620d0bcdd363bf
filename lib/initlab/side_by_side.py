"""`initlab render` of several studies at once: one `initlab render <study>` process per study,
as many at a time as the machine has CPU cores.

Rendering loads stored runs and draws figures; it never trains, so no thread policy is shared
and the studies are independent. Most of a render is one core's work (kernel start, imports,
matplotlib), so on a 2-core laptop two studies at once take about half the time. Each study
runs in its own process because papermill's log and Python's warning filters are per process:
two notebooks in threads of one process would mix their logs.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from initlab import machine, paths


def workers(studies: list[str]) -> int:
    """How many studies to render at once: one per CPU core this process may use."""
    return max(1, min(len(studies), machine.cores()))


def options(args) -> list[str]:
    """The options of this `initlab render` (argparse's namespace) for one study's process;
    `--force`: this process has found the study's outputs out of date (`stamp.stale`)."""
    given = ["--profile", args.profile, "--device", args.device, "--threads", str(args.threads),
             "--force"]
    given += [text for pair in args.param for text in ("-p", *pair)]
    return given + (["--compile"] if args.compile else [])


def render(studies: list[str], options: list[str]) -> list[str]:
    """Render each study with `initlab render <study> <options> --no-pages`, printing each one's
    lines when it ends; return the studies that failed. Ctrl-C stops every child."""
    children: dict[str, subprocess.Popen] = {}

    def one(study: str) -> tuple[str, int]:
        command = [sys.executable, "-m", "initlab.cli", "render", study, *options, "--no-pages"]
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, cwd=str(paths.project_root()))
        children[study] = child
        out, err = child.communicate()
        print(out, end="", flush=True)
        print(err, end="", file=sys.stderr, flush=True)
        return study, child.returncode

    pool = ThreadPoolExecutor(workers(studies))
    try:
        results = list(pool.map(one, studies))
    except KeyboardInterrupt:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGINT)  # each ends with its own one line
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    return [study for study, code in results if code != 0]
