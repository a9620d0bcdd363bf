"""Scaling out (issue 14) with real parts: a real one-node SLURM cluster (tests/slurm.py), real
`initlab run` processes on one store, real SIGKILLs; no mocks of any of them.

The notebook tests use the smoke profiles; study 02 runs a smaller smoke design here (three
source models, then inits on two target tasks with one distance, clustered and pretrained inits
among them), the smallest that still has target runs waiting for source models and renders
every figure: each SLURM array task starts a fresh Python (about 10 s of imports and data
loading on a small machine), which makes the full smoke design take minutes.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from initlab import cli, paths, store
from initlab.store import jobs, lock
from initlab.training.cluster import Cluster
from initlab.training.runtime import Runtime

# under xdist one worker computes the module's reference runs, once
pytestmark = pytest.mark.xdist_group("scale_out")

ROOT = paths.project_root()
TESTS = Path(__file__).parent
STUDY01 = ["01_warm_start", "--profile", "smoke"]
STUDY02 = ["02_clustered_init", "--profile", "smoke", "-p", "gabor_layers", "1",
           "-p", "distances", "euclidean",
           "-p", "sweep_sources", "3", "-p", "sweep_clusters", "2", "-p", "sweep_layers", "17",
           "-p", "align_layers", "[]", "-p", "targets", "1", "-p", "runs", "1"]  # 9 runs
STUDIES = {"01_warm_start": STUDY01, "02_clustered_init": STUDY02}
FIT = re.compile(r"model\(s\) x \d+ epochs in")  # the line every training call logs


def _env(base: Path, figures: str = "figures") -> dict[str, str]:
    return dict(os.environ, INITLAB_STORE=str(base / "store"),
                INITLAB_FIGURES=str(base / figures))


def initlab(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "initlab.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def outputs(env: dict[str, str], study: str) -> Path:
    """The study's output folder (its name carries the overrides, if any)."""
    (folder,) = Path(env["INITLAB_FIGURES"]).glob(f"*/{study}")
    return folder


def tables(folder: Path) -> dict[str, bytes]:
    found = {p.name: p.read_bytes() for p in folder.glob("*.csv")}
    assert found, f"no tables in {folder}"
    return found


def fits(folder: Path, study: str) -> int:
    """How many training calls the notebook's process made (its log has one line each)."""
    return len(FIT.findall((folder / f"{study}.log").read_text()))


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, dict]:
    """Each study run plainly (no executor) into a fresh store: its tables, its training
    calls and what `initlab run` printed (the two studies at once, in separate stores)."""
    envs = {study: _env(tmp_path_factory.mktemp(study)) for study in STUDIES}
    started = {study: subprocess.Popen([sys.executable, "-m", "initlab.cli", "run", *args],
                                       cwd=ROOT, env=envs[study], stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True)
               for study, args in STUDIES.items()}
    found = {}
    for study, process in started.items():
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-3000:]
        folder = outputs(envs[study], study)
        found[study] = dict(tables=tables(folder), fits=fits(folder, study), folder=folder,
                            result=subprocess.CompletedProcess(process.args, 0, out, err))
    return found


@pytest.mark.slow
def test_a_run_prints_one_line_per_study_and_logs_the_notebook_beside_it(reference):
    result, folder = reference["01_warm_start"]["result"], reference["01_warm_start"]["folder"]
    lines = result.stdout.splitlines()
    assert lines[0] == "== 01_warm_start (smoke)" and lines[1].startswith("ok 01_warm_start in")
    assert len(lines) == 3 and lines[2].startswith("report: ")
    assert "Executing Cell" not in result.stdout + result.stderr
    assert "without encryption" not in result.stderr  # the kernel runs on IPC transport
    log = (folder / "01_warm_start.log").read_text()
    assert "Executing Cell 10" in log and "Unable to parse" not in log
    assert "without encryption" not in log
    assert reference["01_warm_start"]["fits"] == 2 * 2  # two iterations, two fit_many calls


@pytest.mark.slow
def test_slurm_jobs_give_the_tables_of_a_local_run(reference, slurm_cluster, tmp_path):
    """One batch of runs as a SLURM array (02's batches in dependency order are the local
    executor's test below: the same `store.jobs` path, without the scheduler's latency)."""
    study, env = "01_warm_start", _env(tmp_path)
    result = initlab("run", *STUDIES[study], "--executor", "slurm", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = outputs(env, study)
    assert tables(folder) == reference[study]["tables"]
    log = (folder / f"{study}.log").read_text()
    assert "sent as SLURM job array" in log and " failed, " in log
    assert fits(folder, study) == 0, "the notebook's own process trained something"
    job_logs = list((tmp_path / "store" / study / ".jobs").rglob("*_log.out"))
    assert len(job_logs) == len(list((tmp_path / "store").rglob("DONE")))


@pytest.mark.slow
def test_two_local_jobs_give_the_tables_of_a_sequential_run(reference, tmp_path):
    """Study 02: source models, then the target runs that use them, as successive batches."""
    env = _env(tmp_path)
    result = initlab("run", *STUDY02, "--executor", "local", "--jobs", "2", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = outputs(env, "02_clustered_init")
    assert tables(folder) == reference["02_clustered_init"]["tables"]
    assert "sent as local jobs" in (folder / "02_clustered_init.log").read_text()
    assert fits(folder, "02_clustered_init") == 0, "the notebook's own process trained"


@pytest.mark.slow
def test_processes_started_at_once_train_every_run_once(reference, tmp_path):
    """The issue's crash: several `initlab run` of study 02 on one store (three: at least two
    of them must find work taken by another). Each process writes its own figures folder (so
    each keeps its log), all share the store."""
    processes = 3
    study = "02_clustered_init"
    envs = [_env(tmp_path, f"figures{i}") for i in range(processes)]
    # each process computes in its own kernel (--jobs 1): the lock between processes is the
    # property; with worker pools the first process's two workers may take all nine runs
    # before the other kernels start
    command = [sys.executable, "-m", "initlab.cli", "run", *STUDY02, "--jobs", "1"]
    started = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for env in envs]
    ended = [p.communicate(timeout=600) for p in started]
    for process, (_, err) in zip(started, ended):
        assert process.returncode == 0, err[-3000:]
    folders = [outputs(env, study) for env in envs]
    for folder in folders:
        assert tables(folder) == reference[study]["tables"]
    trained = [fits(folder, study) for folder in folders]
    assert sum(trained) == reference[study]["fits"], f"training calls per process: {trained}"
    assert sum(n > 0 for n in trained) >= 2, f"one process did all the work: {trained}"
    assert not list((tmp_path / "store").rglob(".set-aside")), "a run was stored twice"


@pytest.mark.slow
def test_a_killed_array_task_resumes_to_the_numbers_of_an_unbroken_run(
        slurm_cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(TESTS))  # the jobs import resume_job, as this test
    sys.path.insert(0, str(TESTS))
    from resume_job import Job, work

    root, runs = tmp_path / "store", [Job(), Job(epochs=4)]
    runtime = Runtime("cpu", progress="off", cluster=Cluster("slurm"))
    killed: dict[str, int] = {}
    killer = threading.Thread(target=_kill_mid_epoch, args=(root, runs[0], killed))
    killer.start()
    with pytest.raises(store.RunsFailed) as failed:
        store.run_many("job", runs, work, runtime=runtime, root=root)
    killer.join()
    assert killed.get("epoch", 0) >= 2, "the task was not killed mid-run"
    message = str(failed.value)
    assert "1 of 2 jobs failed" in message and "ended without a result" in message
    assert f"log: {root / 'job' / '.jobs'}" in message
    assert store.is_done("job", runs[1], root) and not store.is_done("job", runs[0], root)

    resumed = store.run_many("job", runs, work, runtime=runtime, root=root)[0]
    unbroken = store.run("job", runs[0], work, runtime=Runtime("cpu", progress="off"),
                         root=tmp_path / "unbroken")
    pd.testing.assert_frame_equal(resumed["history"], unbroken["history"])
    assert torch.equal(resumed["single"], unbroken["single"])
    assert torch.equal(resumed["pair"], unbroken["pair"])


def _kill_mid_epoch(root: Path, settings, killed: dict) -> None:
    """SIGKILL the process computing `settings` once its single model has 2 epochs done."""
    folder = store.run_dir("job", settings, root)
    slot = folder.with_name(f"{folder.name}.partial") / "002-single.pt"
    deadline = time.time() + 300
    while time.time() < deadline:
        try:
            epoch = torch.load(slot, weights_only=True)["epoch"] if slot.exists() else 0
        except Exception:  # noqa: BLE001 - replaced while reading: try again
            epoch = 0
        if epoch >= 2 and (pid := lock.holder_pid(folder, root)):
            os.kill(pid, signal.SIGKILL)
            killed["epoch"] = epoch
            return
        time.sleep(0.05)


# --------------------------------------------------------------------------- the run lock


def _slow_job(root: Path, counter: Path, release: Path) -> subprocess.Popen:
    """`lock_job.py`: computes the run (noting it in `counter`) until `release` exists."""
    return subprocess.Popen([sys.executable, str(TESTS / "lock_job.py"), str(root), str(counter),
                             str(release)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _wait_for(condition, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def _read_until(stream, text: str) -> str:
    """The lines of `stream` up to the first holding `text` (all of them if it never comes)."""
    lines = []
    while line := stream.readline():
        lines.append(line)
        if text in line:
            break
    return "".join(lines)


def test_one_process_computes_a_run_while_another_waits_then_loads_it(tmp_path):
    """The first job holds the run's lock until the test releases it, which the test does only
    once the second job has said that it waits: no timing decides who computes."""
    counter, release = tmp_path / "counter", tmp_path / "release"
    first = _slow_job(tmp_path, counter, release)
    _wait_for(lambda: counter.exists())  # the first holds the lock and computes
    second = _slow_job(tmp_path, counter, release)
    waited = _read_until(second.stderr, "is being computed by")  # blocks until it waits
    release.write_text("")
    outs = [p.communicate(timeout=120) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outs
    assert counter.read_text() == "start\n", "the run was computed twice"
    assert outs[0][0] == outs[1][0] == "value 1.5\n"
    waited += outs[1][1]
    assert f"is being computed by process {first.pid} on " in waited
    assert waited.count("\n") == 1, "waiting should say so in one line"


def test_the_lock_is_released_on_an_error_and_on_sigkill(tmp_path):
    sys.path.insert(0, str(TESTS))
    from lock_job import COUNTER, Slow, compute

    folder = store.run_dir("slow", Slow(), tmp_path)
    with pytest.raises(RuntimeError, match="fails on purpose"):
        store.run("slow", Slow(fail=True), compute, root=tmp_path)
    with lock.held(folder, tmp_path, wait=False) as waited:
        assert waited is False, "the lock was kept after an error"

    counter = tmp_path / "counter"
    victim = _slow_job(tmp_path, counter, tmp_path / "never")  # computes until killed
    _wait_for(lambda: counter.exists())
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    COUNTER.append(counter)
    try:
        start = time.time()
        result = store.run("slow", Slow(), compute, root=tmp_path)
    finally:
        COUNTER.clear()
    assert time.time() - start < 10 and result["value"].x[0] == 1.5
    assert counter.read_text() == "start\nstart\n"


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize("argv, message", [
    (["run", "--gpus", "2"], "gpus are for --executor local or slurm"),
    (["run", "--executor", "local", "--partition", "gpu"], "are for --executor slurm"),
    (["run", "--executor", "slurm", "--time", "soon"], "time must be minutes, H:MM:SS"),
    (["run", "--executor", "slurm", "--memory", "lots"], "memory must look like 16G"),
    (["run", "--executor", "slurm", "--slurm", "constraint"], "--slurm wants KEY=VALUE"),
])
def test_bad_executor_settings_fail_in_one_line(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_cluster_settings_travel_as_a_notebook_parameter():
    cluster = Cluster("slurm", jobs=8, gpus=1, time="1-12", slurm=(("constraint", "a100"),))
    assert Cluster.from_dict(cluster.as_dict()) == cluster
    assert cluster.slurm_options() == {"time": 2160, "additional_parameters":
                                       {"constraint": "a100"}}
    with pytest.raises(ValueError, match="unknown cluster setting.*valid: executor"):
        Cluster.from_dict({"executer": "slurm"})
    assert Runtime(cluster=cluster).in_process().cluster == Cluster(jobs=1)


def test_slurm_without_its_commands_says_where_to_run(tmp_path, monkeypatch, capsys):
    sys.path.insert(0, str(TESTS))
    from lock_job import Slow, compute

    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch, no squeue
    with pytest.raises(store.ExecutorUnavailable, match="needs SLURM's sbatch and squeue"):
        store.run_many("slow", [Slow()], compute, root=tmp_path,
                       runtime=Runtime(cluster=Cluster("slurm")))
    assert cli.main(["run", "--executor", "slurm"]) == 2  # before any notebook starts
    err = capsys.readouterr().err
    assert "needs SLURM's sbatch and squeue" in err and err.count("\n") == 1


def test_sbatch_refusals_say_why_and_jobs_get_the_partition_time_limit(slurm_cluster, tmp_path):
    sys.path.insert(0, str(TESTS))
    from lock_job import Slow, compute

    assert jobs.partition_minutes("") is None  # the default partition has no limit
    assert jobs.partition_minutes("short") == 30
    runtime = Runtime(cluster=Cluster("slurm", partition="nosuch"))
    with pytest.raises(store.ExecutorUnavailable,
                       match="sbatch refused the job array: .*Invalid partition name"):
        store.run_many("slow", [Slow(), Slow(name="other")], compute, root=tmp_path,
                       runtime=runtime)
