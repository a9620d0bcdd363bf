"""Study notebooks executed by papermill through the `initlab` command, smoke profile."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from initlab import paths

# the JupyterLab test reuses these smoke runs: under xdist one worker runs both files
pytestmark = pytest.mark.xdist_group("notebooks")

ROOT = paths.project_root()
PROMISED = {
    "01_warm_start": [
        "01_warm_start.ipynb", "noise_examples.png", "noise_examples.pdf", "filters.png",
        "aligned_filters.png", "similarity_per_filter.png", "accuracy_per_method.png",
        "accuracy_per_method.pdf", "table1_similarity.csv", "table1_similarity.md",
        "table2_accuracy.csv", "table2_accuracy.md", "paired_vs_random.csv",
        "reported_vs_ours.csv", "reported_vs_ours.md",
    ],
    "02_clustered_init": [
        "02_clustered_init.ipynb", "source_models.csv", "final_accuracy.csv", "final_accuracy.md",
        "fig2_best_vs_baselines.png", "fig2_best_vs_baselines.pdf", "fig3_by_clusters.png",
        "fig4_by_layers.png", "fig5_by_sources.png", "fig6_custom_aligned.png",
        "fig7_gabor_by_layers.png", "fig8_first_layer_inits.png", "fig8_first_layer_filters.png",
        "paired_vs_random.csv", "init_scores.csv",
        "reported_vs_ours.csv", "reported_vs_ours.md",
    ],
    "03_agop_nfm_init": [
        "03_agop_nfm_init.ipynb", "ansatz_correlation.png", "ansatz_correlation.pdf",
        "ansatz_correlation.csv", "accuracy_curves.png", "loss_gap.png", "best_val_accuracy.png",
        "best_val_accuracy.csv", "best_val_accuracy.md", "paired_vs_kaiming_normal.csv",
        "val_accuracy.csv", "init_scores.csv", "signal_at_init.csv", "ranks_per_seed.csv",
        "reported_vs_ours.csv", "reported_vs_ours.md",
    ],
    "04_baselines_transfer": [
        "04_baselines_transfer.ipynb", "baselines.csv", "baselines.md", "learning_curves.png",
        "learning_curves.pdf", "confusion.png", "most_confused.csv", "most_confused.md",
        "tsne_baselines.png", "embedding_baselines.csv", "transfer_accuracy.png",
        "transfer_accuracy.csv", "transfer_accuracy.md", "transfer_curves.png", "tsne_transfer.png",
        "transfer_embedding.csv", "transfer_embedding.md", "reported_vs_ours.csv",
        "reported_vs_ours.md",
    ],
    "05_parameter_dynamics": [
        "05_parameter_dynamics.ipynb", "summary.csv", "summary.md", "pretrained_sources.csv",
        "norm_distances.png", "norm_distances.pdf", "norm_distances.csv", "change_rate.png",
        "change_share.png", "change_share_per_tensor.png", "change_share_per_tensor.csv",
        "change_share_vs_tolerance.png", "weight_histograms.png", "weight_histograms.csv",
        "feature_correlation_within.png", "feature_correlation_across.png",
        "matched_correlation.png", "feature_pairs.csv", "perturbation.csv",
        "perturbation_distance.png", "reported_vs_ours.csv", "reported_vs_ours.md",
        "init_scores.csv", "accuracy.csv", "paired_vs_baseline.csv", "perturbation_vs_control.csv",
    ],
}


# Render checked on the studies whose stores are the most involved (sources shared by several
# batches, render-only loading of checkpoints, stored constants); 01 and 04 render through the
# same runner path. The three render at once (`side_by_side`), as `initlab render` does.
RENDERED = ("02_clustered_init", "03_agop_nfm_init", "05_parameter_dynamics")
RAN: dict[str, dict[str, pd.DataFrame]] = {}  # study -> its tables, from the smoke run below


def initlab(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run the real command line in a subprocess, with the test's store and figures folders."""
    return subprocess.run([sys.executable, "-m", "initlab.cli", *args], cwd=cwd, env=os.environ,
                          capture_output=True, text=True, timeout=600)


def _store_entries() -> dict[str, float]:
    store = Path(os.environ["INITLAB_STORE"])
    return {str(p): p.stat().st_mtime for p in store.rglob("DONE")}


def _tables(folder: Path) -> dict[str, pd.DataFrame]:
    return {p.name: pd.read_csv(p) for p in folder.glob("*.csv")}


@pytest.mark.slow
@pytest.mark.parametrize("study", sorted(PROMISED))
def test_smoke_run_writes_what_it_promises(study, shared_outputs, monkeypatch):
    for key, value in shared_outputs.items():  # the JupyterLab test reuses these runs
        monkeypatch.setenv(key, value)
    result = initlab("run", study, "--profile", "smoke")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = Path(shared_outputs["INITLAB_FIGURES"]) / "smoke" / study
    missing = [name for name in PROMISED[study] if not (out / name).exists()]
    assert not missing, f"not written: {missing}"
    executed = json.loads((out / f"{study}.ipynb").read_text())
    outputs = [o for c in executed["cells"] for o in c.get("outputs", [])]
    errors = [o for o in outputs if o["output_type"] == "error"]
    assert not errors
    assert _store_entries(), "the run stored nothing"
    RAN[study] = _tables(out)


@pytest.mark.slow
def test_render_of_several_studies_at_once_reuses_the_store(tmp_path, shared_outputs,
                                                           monkeypatch):
    for key, value in shared_outputs.items():
        monkeypatch.setenv(key, value)
    for study in RENDERED:
        if study not in RAN:  # run alone (-k): train it here first
            assert initlab("run", study, "--profile", "smoke").returncode == 0
            RAN[study] = _tables(Path(shared_outputs["INITLAB_FIGURES"]) / "smoke" / study)
    stored = _store_entries()
    # nothing changed since the runs: each study is up to date (its inputs stamp), no kernel
    current = initlab("render", *RENDERED, "--profile", "smoke", cwd=tmp_path)
    assert current.returncode == 0, current.stderr[-3000:]
    assert sorted(line.split()[3] for line in current.stdout.splitlines()
                  if line.startswith("up to date ")) == sorted(RENDERED), current.stdout
    # forced, from another working directory: nothing retrained, the same tables again
    rendered = initlab("render", *RENDERED, "--profile", "smoke", "--force", cwd=tmp_path)
    assert rendered.returncode == 0, rendered.stderr[-3000:]
    assert sorted(line.split()[1] for line in rendered.stdout.splitlines()
                  if line.startswith("ok ")) == sorted(RENDERED)
    assert _store_entries() == stored
    for study in RENDERED:
        out = Path(shared_outputs["INITLAB_FIGURES"]) / "smoke" / study
        for name, frame in RAN[study].items():
            pd.testing.assert_frame_equal(pd.read_csv(out / name), frame)


@pytest.mark.slow
def test_render_without_stored_runs_fails_clearly_and_keeps_the_partial_notebook(tmp_path):
    result = initlab("render", "01_warm_start", "--profile", "smoke")
    assert result.returncode == 1
    assert "MissingRunError" in result.stderr and "initlab run 01_warm_start" in result.stderr
    partial = tmp_path / "figures" / "smoke" / "01_warm_start.failed" / "01_warm_start.ipynb"
    assert partial.exists() and str(partial) in result.stderr
    assert not (tmp_path / "figures" / "smoke" / "01_warm_start" / "01_warm_start.ipynb").exists()


def test_committed_notebooks_have_no_outputs_and_a_parameters_cell():
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(notebook.read_text())["cells"]
        code = [c for c in cells if c["cell_type"] == "code"]
        assert not any(c.get("outputs") or c.get("execution_count") for c in code), notebook.name
        tags = [t for c in code for t in c.get("metadata", {}).get("tags", [])]
        assert tags.count("parameters") == 1, notebook.name
