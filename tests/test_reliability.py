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
