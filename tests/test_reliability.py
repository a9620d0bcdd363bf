"""Failure modes a researcher meets, each with one clear message, and determinism."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pandas as pd
import pytest
import torch

from initlab import cli, paths, profiles, store
from initlab.studies.warm_start import runs as warm_start
from initlab.training.runtime import Runtime

ROOT = paths.project_root()


def test_same_settings_and_seed_give_identical_tables_on_cpu(tmp_path):
    cfg = dataclasses.replace(profiles.load("01_warm_start", "smoke"), iterations=1)
    runs = warm_start.iteration_settings(cfg)
    cpu = Runtime("cpu")
    first = store.run_many("01_warm_start", runs, warm_start.run, runtime=cpu, root=tmp_path / "a")
    second = store.run_many("01_warm_start", runs, warm_start.run, runtime=cpu,
                            root=tmp_path / "b")
    for table in ("accuracy", "similarity", "noisy_models"):
        pd.testing.assert_frame_equal(store.gather(runs, first, table),
                                      store.gather(runs, second, table))
    assert torch.equal(first[0]["filters"], second[0]["filters"])


@pytest.mark.parametrize("argv, message", [
    (["run", "-p", "dataset", "mnistt"], "dataset: unknown value 'mnistt'; choose from digits"),
    (["run", "-p", "noises", "blur,fog"], "noises: unknown value 'fog'"),
    (["run", "-p", "epochs", "0"], "epochs must be"),  # positive, or in a range
    (["report", "--profile", "huge"], "unknown profile 'huge'"),
])
def test_bad_settings_fail_before_anything_runs(argv, message, capsys):
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def _papermill(parameters: dict, tmp_path) -> str:
    import papermill

    with pytest.raises(papermill.PapermillExecutionError) as error:
        papermill.execute_notebook(str(ROOT / "notebooks" / "01_warm_start.ipynb"),
                                   str(tmp_path / "out.ipynb"), parameters=parameters,
                                   kernel_name="python3", cwd=str(ROOT), progress_bar=False)
    return f"{error.value.ename}: {error.value.evalue}"


@pytest.mark.slow
def test_papermill_parameters_are_checked_in_the_notebook(tmp_path):
    message = _papermill({"iterations": 3}, tmp_path)
    assert "unknown notebook parameter(s) iterations" in message and "overrides" in message
    message = _papermill({"train": "yes"}, tmp_path)
    assert "TypeError" in message and "'train' must be a bool" in message


@pytest.mark.slow
def test_a_missing_data_set_stops_the_study_with_the_fetch_command(tmp_path):
    env = dict(os.environ, INITLAB_DATA=str(tmp_path / "no-data"))
    result = subprocess.run([sys.executable, "-m", "initlab.cli", "run", "01_warm_start",
                             "--profile", "quick"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 1
    assert "DataUnavailableError" in result.stderr
    assert "initlab data download mnist" in result.stderr
    assert not list((tmp_path / "store").rglob("DONE"))


@pytest.mark.slow
def test_ctrl_c_ends_with_one_line_and_the_same_command_resumes(tmp_path):
    """SIGINT to the whole process group, as a terminal's Ctrl-C sends it (the notebook kernel
    gets it too): one line naming what is stored, no traceback; rerunning finishes the study."""
    import signal
    import time

    store_dir = tmp_path / "store"
    env = dict(os.environ, INITLAB_STORE=str(store_dir), INITLAB_FIGURES=str(tmp_path / "fig"))
    command = [sys.executable, "-m", "initlab.cli", "run", "02_clustered_init", "-p", "distances",
               "euclidean", "-p", "gabor_layers", "1", "-p", "sweep_clusters", "2"]  # smaller
    job = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and len(list(store_dir.rglob("DONE"))) < 2:
        time.sleep(0.1)
    os.killpg(job.pid, signal.SIGINT)
    _, err = job.communicate(timeout=120)
    assert job.returncode == 130, err[-2000:]
    assert "Traceback" not in err, err[-3000:]
    line = [t for t in err.splitlines() if t.startswith("interrupted: 02_clustered_init has")]
    assert len(line) == 1 and "Run the same command to resume" in line[0]
    stored = len(list(store_dir.rglob("DONE")))
    again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(list(store_dir.rglob("DONE"))) > stored
