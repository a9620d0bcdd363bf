"""Issue 17 end to end: a user's initializer, written in a module of its own, runs through
`initlab run` in study 03's smoke profile, appears in its tables and on the compare page, and
editing the function retrains its runs (and only those)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from initlab import paths

# under xdist one worker computes the module's first run, once
pytestmark = pytest.mark.xdist_group("user_init")

MODULE = '''
import torch
from torch import nn


def scaled_normal(model, *, seed, gain=1.0):
    """Every conv weight N(0, (gain / sqrt(fan_in))^2), biases zero."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * gain / fan_in ** 0.5)
                if m.bias is not None:
                    m.bias.zero_()
'''
INITS = "kaiming_normal, usermod:scaled_normal"
OVERRIDES = ["-p", "inits", INITS, "-p", "init_options", "{scaled_normal: {gain: 1.4}}",
             "-p", "epochs", "1", "-p", "source_epochs", "2"]
ARGS = ["03_agop_nfm_init", "--profile", "smoke", *OVERRIDES]


def _initlab(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "initlab.cli", *args], env=env,
                          cwd=paths.project_root(), capture_output=True, text=True, timeout=900)


def _done(store: Path) -> dict[str, float]:
    """Each stored run of study 03 (its folder) -> the time its DONE marker was written."""
    return {p.parent.name: p.stat().st_mtime for p in (store / "03_agop_nfm_init").glob("*/DONE")}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("user_init")
    (base / "usermod.py").write_text(MODULE)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(base), os.environ.get("PYTHONPATH",
                                                                                   "")]),
               INITLAB_STORE=str(base / "store"), INITLAB_FIGURES=str(base / "figures"))
    result = _initlab("run", *ARGS, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    outputs = list((base / "figures").glob("smoke+*"))  # the variant's own folder
    assert len(outputs) == 1, outputs
    return base, env, outputs[0]


@pytest.mark.slow
def test_a_user_init_from_a_module_is_in_the_tables_and_on_the_compare_page(first_run):
    base, env, out = first_run
    study = out / "03_agop_nfm_init"
    accuracy = pd.read_csv(study / "val_accuracy.csv")
    assert "usermod:scaled_normal" in set(accuracy.init)
    paired = pd.read_csv(study / "paired_vs_kaiming_normal.csv")
    assert "usermod:scaled_normal" in set(paired.init)
    compare = (out / "compare.md").read_text()
    assert "usermod:scaled_normal" in compare and "kaiming_normal" in compare
    assert "compare.md" in (out / "README.md").read_text()
    again = _initlab("compare", "--profile", "smoke", *OVERRIDES, env=env)
    assert again.returncode == 0, again.stderr[-2000:]


@pytest.mark.slow
def test_editing_the_function_retrains_its_runs_and_only_those(first_run):
    base, env, out = first_run
    before = _done(base / "store")
    source = (base / "usermod.py").read_text()
    (base / "usermod.py").write_text(source.replace("* gain / fan_in", "* 0.5 * gain / fan_in"))
    result = _initlab("run", *ARGS, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    after = _done(base / "store")
    new = set(after) - set(before)
    assert len(new) == 1, f"expected one new run (the edited init), got {sorted(new)}"
    assert all(after[name] == stamp for name, stamp in before.items()), "a stored run was redone"
    assert "usermod:scaled_normal" in set(
        pd.read_csv(out / "03_agop_nfm_init" / "val_accuracy.csv").init)
