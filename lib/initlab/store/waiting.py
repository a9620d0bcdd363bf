"""Waiting for a batch's jobs: one progress line (done / running / pending / failed, ETA), then
what failed, each with its log file and the tail of its stderr.

A job is done when submitit's result file says so, failed when it says error or when the job
is gone (from `squeue`, or its local process exited) without a result: killed, cancelled, out
of memory, past its time limit. SLURM states come from `squeue`, not submitit's `sacct` watcher,
so clusters without accounting work too (and no `sacct` warnings reach the terminal).
"""

from __future__ import annotations

import subprocess
import sys
import time

from submitit.core.utils import pickle_load

from initlab.store.jobs import Sent, cancel
from initlab.training.progress import duration

STATES = ("done", "running", "pending", "failed")
_GONE_POLLS = 3  # a SLURM job missing from squeue this many polls in a row, without a result
_TAIL = 8  # lines of a failed job's stderr shown


def watch(study: str, sent: Sent, mode: str = "auto") -> list[str]:
    """Wait until every job has ended; return one report per failed job (empty when none).
    `mode` is the runtime's progress style: "auto" redraws one line, "log" prints a line when
    the counts change (at most every 30 s), "off" prints nothing."""
    line = _Line(study, sent, mode)
    states, gone = ["pending"] * len(sent.labels), [0] * len(sent.labels)
    delay = 1.0
    try:
        while True:
            if sent.start_next:
                sent.start_next(sent)
            _update(sent, states, gone)
            line.show(states)
            if all(s in ("done", "failed") for s in states) and not sent.waiting:
                break
            time.sleep(delay)
            delay = min(delay * 1.5, 5.0 if sent.kind == "slurm" else 1.0)
    except KeyboardInterrupt:
        line.end(states)
        print(f"\ninterrupted: {cancel(sent)}", file=sys.stderr, flush=True)
        raise
    line.end(states)
    return [_report(sent, i) for i, s in enumerate(states) if s == "failed"]


def _update(sent: Sent, states: list[str], gone: list[int]) -> None:
    queued = _squeue(sent.array_id) if sent.kind == "slurm" else None
    for i, job in enumerate(sent.jobs):
        if states[i] in ("done", "failed") or job is None:
            continue
        ended = sent.kind == "local" and job.state != "RUNNING"  # before the result check:
        outcome = _outcome(job)  # a job writes its result file before its process exits
        if outcome is not None:
            states[i] = outcome
        elif sent.kind == "local":
            states[i] = "failed" if ended else "running"
        elif queued is not None:
            state = queued.get(job.job_id)
            gone[i] = 0 if state else gone[i] + 1
            if state:
                states[i] = "running" if state in ("RUNNING", "COMPLETING") else "pending"
            elif gone[i] >= _GONE_POLLS:
                states[i] = "failed"


def _outcome(job) -> str | None:
    """"done" or "failed" from the job's result file, None while it has none."""
    path = job.paths.result_pickle
    if not path.exists():
        return None
    try:
        kind, _ = pickle_load(path)
    except (OSError, EOFError, ValueError):
        return None  # still being written
    return "done" if kind == "success" else "failed"


def _squeue(array_id: str) -> dict[str, str] | None:
    """Task id ("123_4") -> SLURM state of the array's tasks still queued; None when squeue
    could not answer (then nothing is concluded from its silence)."""
    try:
        out = subprocess.run(["squeue", "-h", "-r", "-j", array_id, "-o", "%i %T"],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return {} if "Invalid job id" in out.stderr else None
    return dict(line.split()[:2] for line in out.stdout.splitlines() if len(line.split()) >= 2)


def _report(sent: Sent, index: int) -> str:
    """What a failed job says: its error (or that it ended without a result), log, stderr."""
    job = sent.jobs[index]
    reason = "ended without a result (killed, cancelled, out of memory or past its time limit)"
    path = job.paths.result_pickle
    if path.exists():
        try:
            _, trace = pickle_load(path)
            reason = [x for x in str(trace).strip().splitlines() if x.strip()][-1].strip()
        except (OSError, EOFError, ValueError, IndexError):
            pass
    log, tail = job.paths.stderr, []
    for path in (job.paths.stderr, job.paths.stdout):  # stderr, else what the job printed
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        if lines:
            log, tail = path, lines[-_TAIL:]
            break
    shown = "\n".join(f"    | {x}" for x in tail) or "    | (the job wrote nothing)"
    return f"run {sent.labels[index]} (job {job.job_id}): {reason}\n    log: {log}\n{shown}"


class _Line:
    """The one progress line of a batch's jobs."""

    def __init__(self, study: str, sent: Sent, mode: str) -> None:
        self.study, self.sent, self.mode = study, sent, mode
        self.start, self.last, self.printed = time.time(), "", 0.0
        where = f"SLURM job array {sent.array_id}" if sent.kind == "slurm" else "local jobs"
        self.say(f"{study}: {len(sent.labels)} runs sent as {where}; logs in {sent.folder}\n")

    def text(self, states: list[str]) -> str:
        counts = {s: states.count(s) for s in STATES}
        finished = counts["done"] + counts["failed"]
        elapsed = time.time() - self.start
        left = len(states) - finished
        eta = duration(elapsed / finished * left) if finished and left else "?" if left else "-"
        return (f"{self.study}: jobs {counts['done']}/{len(states)} done, {counts['running']} "
                f"running, {counts['pending']} pending, {counts['failed']} failed, "
                f"{duration(elapsed)} elapsed, ETA {eta}")

    def show(self, states: list[str]) -> None:
        text = self.text(states)
        counts = text.split(", ETA")[0].rsplit(",", 1)[0]
        if self.mode == "auto":
            self.say(f"\r{text}   ")
        elif self.mode == "log" and counts != self.last and time.time() - self.printed >= 30:
            self.say(f"{text}\n")
            self.last, self.printed = counts, time.time()

    def end(self, states: list[str]) -> None:
        self.say("\n" if self.mode == "auto" else f"{self.text(states)}\n")

    def say(self, text: str) -> None:
        if self.mode != "off":
            print(text, end="", flush=True)
