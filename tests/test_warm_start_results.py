"""Study 01's tables and figures on small hand-made frames, and the run plumbing they rely on
(names, recipe), without training anything."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import pickle

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from initlab import profiles, store, tables
from initlab.studies.warm_start import figures, results, runs
from initlab.studies.warm_start.settings import WarmStartSettings
from initlab.training.recipe import Recipe

matplotlib.use("Agg")

# Final test accuracy (fraction) per seed and method: what three iterations could store.
ACCURACY = {0: {"random": 0.50, "shrink_perturb": 0.40, "cosine": 0.60},
            1: {"random": 0.70, "shrink_perturb": 0.30, "cosine": 0.75},
            2: {"random": 0.90, "shrink_perturb": 0.50, "cosine": 0.80}}
ORDER = ["random", "shrink_perturb", "cosine"]


def accuracy_frame() -> pd.DataFrame:
    """Rows as `runs.train_warm_starts` writes them, with train and test-loss rows to skip."""
    rows = []
    for seed, by_method in ACCURACY.items():
        for method, acc in by_method.items():
            rows += [dict(epoch=1, split="train", metric="accuracy", value=0.99, method=method,
                          seed=seed),
                     dict(epoch=1, split="test", metric="loss", value=2.0, method=method,
                          seed=seed),
                     dict(epoch=1, split="test", metric="accuracy", value=acc, method=method,
                          seed=seed)]
    return pd.DataFrame(rows)


def final_accuracy() -> pd.DataFrame:
    return results.final_test_accuracy(accuracy_frame())


def similarity_frame() -> pd.DataFrame:
    """Two pairs per (aligned, metric, filter), raw rows first as `similarity_table` writes."""
    values = {(False, "cosine", 0): (0.2, 0.4), (False, "cosine", 1): (0.1, 0.1),
              (False, "frobenius", 0): (1.0, 2.0), (False, "frobenius", 1): (3.0, 5.0),
              (True, "cosine", 0): (0.5, 0.5), (True, "cosine", 1): (0.3, 0.7),
              (True, "frobenius", 0): (0.5, 1.5), (True, "frobenius", 1): (2.0, 2.0)}
    rows = [dict(aligned=a, metric=m, model_a=0, model_b=pair + 1, filter=f, value=v)
            for (a, m, f), pair_values in values.items() for pair, v in enumerate(pair_values)]
    return pd.DataFrame(rows)


def test_final_test_accuracy_keeps_only_test_accuracy_rows_in_percent():
    acc = final_accuracy()
    assert len(acc) == 9 and set(acc.split) == {"test"} and set(acc.metric) == {"accuracy"}
    cosine = acc[acc.method == "cosine"].sort_values("seed").accuracy.to_numpy()
    np.testing.assert_allclose(cosine, [60.0, 75.0, 80.0])


def test_noisy_accuracy_summarizes_each_noise_in_percent():
    noisy = pd.DataFrame(dict(subset=[0, 1, 0, 1], noise=["blur", "gaussian", "blur", "gaussian"],
                              test_loss=1.0, test_accuracy=[0.5, 0.2, 0.7, 0.4]))
    table = results.noisy_accuracy(noisy)
    assert table.noise.tolist() == ["blur", "gaussian"]  # order of appearance
    np.testing.assert_allclose(table["mean"], [60.0, 30.0])
    np.testing.assert_allclose(table["sd"], [np.sqrt(200.0)] * 2)
    assert table["n"].tolist() == [2, 2] and table.ci95_low.isna().all()  # no CI for n < 3


def test_table1_is_mean_and_sd_per_filter_raw_then_aligned():
    # each pair in its own iteration: the mean and sd over iterations are those over pairs
    summary = results.similarity_summary(similarity_frame().assign(seed=lambda d: d.model_b))
    table = results.table1_similarity(summary)
    assert table.columns.tolist() == [
        "cosine", "cosine sd", "frobenius", "frobenius sd", "cosine aligned",
        "cosine aligned sd", "frobenius aligned", "frobenius aligned sd", "n"]
    assert table.index.tolist() == [0, 1] and table.n.tolist() == [2, 2]
    np.testing.assert_allclose(table.loc[0], [0.3, 0.141, 1.5, 0.707, 0.5, 0.0, 1.0, 0.707, 2],
                               atol=5e-4)
    np.testing.assert_allclose(table.loc[1], [0.1, 0.0, 4.0, 1.414, 0.5, 0.283, 2.0, 0.0, 2],
                               atol=5e-4)


def test_table2_follows_the_method_order():
    table = results.table2_accuracy(final_accuracy(), ORDER)
    assert table.index.tolist() == ORDER and table.columns.tolist() == [
        "mean", "sd", "n", "ci95_low", "ci95_high", "max"]
    np.testing.assert_allclose(table["mean"], [70.0, 40.0, 215.0 / 3])
    np.testing.assert_allclose(table["sd"], [20.0, 10.0, np.sqrt(650.0 / 6)])
    np.testing.assert_allclose(table["max"], [90.0, 50.0, 80.0])
    assert table["n"].tolist() == [3, 3, 3] and table.ci95_low.notna().all()
    assert table.loc[["shrink_perturb", "random"]].index.tolist() == ["shrink_perturb", "random"]
    assert results.table2_accuracy(final_accuracy(), ORDER[::-1]).index.tolist() == ORDER[::-1]


def test_paired_vs_random_differences_within_each_seed():
    paired = results.paired_vs_random(final_accuracy(), ORDER).set_index("method")
    assert paired.index.tolist() == ["shrink_perturb", "cosine"]  # ORDER without random
    expected = {"cosine": [10.0, 5.0, -10.0], "shrink_perturb": [-10.0, -40.0, -40.0]}
    for method, diffs in expected.items():
        row, diffs = paired.loc[method], np.array(diffs)
        half = stats.t.ppf(0.975, 2) * diffs.std(ddof=1) / np.sqrt(3)
        assert row.difference == pytest.approx(diffs.mean())
        assert row.ci95_low == pytest.approx(diffs.mean() - half)
        assert row.ci95_high == pytest.approx(diffs.mean() + half)
        assert row.p_value == pytest.approx(stats.ttest_1samp(diffs, 0.0).pvalue)
        assert row.n == 3
    assert paired.loc["shrink_perturb", "difference"] == pytest.approx(-30.0)
    np.testing.assert_allclose(paired.p_holm, tables.holm(paired.p_value))  # over both methods


def test_reported_vs_ours_puts_the_original_beside_ours():
    table2 = results.table2_accuracy(final_accuracy(), ORDER)
    table = results.reported_vs_ours(table2, ORDER, "digits")
    assert table.index.name == "method" and table.index.tolist() == ORDER
    assert not table["as_run"].any()
    assert set(table["original's behaviour in effect"]) == {"none"}
    assert table.columns.tolist() == [
        "data set", "as_run", "original's behaviour in effect", "reported mean",
        "reported std", "reported max", "ours mean", "ours sd",
        "ours max", "ours n", "ours - reported (mean)"]
    assert set(table["data set"]) == {"digits (ours) / mnist (reported)"}
    assert table.loc["random", "reported mean"] == 94.62
    assert table.loc["cosine", "reported std"] == 5.329
    assert table.loc["random", "ours - reported (mean)"] == pytest.approx(70.0 - 94.62)
    assert table.loc["cosine", "ours - reported (mean)"] == pytest.approx(215.0 / 3 - 91.143)
    assert np.isnan(table.loc["shrink_perturb", "reported mean"])  # not in the original
    assert np.isnan(table.loc["shrink_perturb", "ours - reported (mean)"])
    assert table.loc["shrink_perturb", "ours mean"] == pytest.approx(40.0)


def test_gather_tags_every_table_with_its_run():
    cfg = profiles.load("01_warm_start", "smoke")
    settings = runs.iteration_settings(cfg)
    stored = [dict(accuracy=accuracy_frame().query(f"seed == {s.seed}").drop(columns="seed"),
                   similarity=similarity_frame(), noisy_models=pd.DataFrame(dict(noise=["blur"])))
              for s in settings]
    for one in stored:
        one["selection"] = pd.DataFrame(dict(method=["cosine"], member=[True]))
    frames = results.gather(settings, stored)
    assert set(frames) == {"accuracy", "similarity", "noisy_models", "selection"}
    assert frames["accuracy"].seed.tolist() == [0] * 9 + [1] * 9
    assert frames["noisy_models"].run.tolist() == [store.run_name(s) for s in settings]
    assert len(frames["similarity"]) == 2 * len(similarity_frame())


def test_results_never_reach_training():
    source = inspect.getsource(results)
    imported = {node.module for node in ast.walk(ast.parse(source))
                if isinstance(node, ast.ImportFrom)}
    assert not any("training" in m or m.endswith("runs") for m in imported)
    assert "run_many" not in source and "store.run(" not in source


def test_run_names_methods_and_recipe_are_unchanged():
    cfg = profiles.load("01_warm_start", "smoke")
    names = [store.run_name(s) for s in runs.iteration_settings(cfg)]
    assert names == [store.run_name(s) for s in runs.iteration_settings(
        dataclasses.replace(cfg, iterations=5, as_run=True))][:2]  # not hashed
    assert len(set(names)) == 2
    assert runs.methods(cfg) == ("random", "shrink_perturb", "cosine", "pearson", "frobenius",
                                 "cosine_aligned", "pearson_aligned", "frobenius_aligned")
    cfg = dataclasses.replace(WarmStartSettings(), lr=0.01, epochs=3, batch_size=32)
    assert cfg.recipe() == Recipe(optimizer="adam", lr=0.01, epochs=3, batch_size=32,
                                  precision="float32")
    assert cfg.recipe(6) == dataclasses.replace(cfg.recipe(), epochs=6)
    assert pickle.loads(pickle.dumps(runs.run)) is runs.run  # a process pool can take it


def test_noise_examples_figure_has_one_axes_per_image():
    fig = figures.noise_examples(np.zeros((3, 4, 5, 5)), ("blur", "rotation"))
    assert len(fig.axes) == 12
    assert [fig.axes[4 * r].get_ylabel() for r in range(3)] == ["clean", "blur", "rotation"]


def test_filters_figure_has_one_axes_per_kernel():
    fig = figures.filters(torch.randn(2, 10, 3, 3), ("blur", "rotation"), "as learned")
    assert len(fig.axes) == 20
    assert [ax.get_title() for ax in fig.axes[:10]] == list(figures.KERNEL_NAMES)
    assert fig._suptitle.get_text() == "Filters of the 2 source models, as learned"


def test_similarity_figure_has_one_panel_per_metric_with_the_reported_range():
    fig = figures.similarity_per_filter(similarity_frame(), ("cosine", "frobenius"))
    assert [ax.get_title() for ax in fig.axes] == ["cosine", "frobenius"]
    for ax, metric in zip(fig.axes, ("cosine", "frobenius")):
        spans = [p for p in ax.patches if p.get_label() == "reported range"]
        assert len(spans) == 1
        ys = spans[0].get_path().transformed(spans[0].get_transform()).vertices
        low, high = results.REPORTED_SIMILARITY_RANGE[metric]
        ys = ax.transData.inverted().transform(ys)[:, 1]
        assert (ys.min(), ys.max()) == (pytest.approx(low), pytest.approx(high))
        drawn = [line for line in ax.lines if len(line.get_xdata())]
        means = [line for line in drawn if line.get_marker() not in ("None", None, "")]
        assert [len(line.get_xdata()) for line in means] == [2, 2]  # per hue, over 2 filters
        assert len(drawn) - len(means) == 4  # one interval per filter and hue
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["False", "True",
                                                                       "reported range"]


def test_accuracy_figure_marks_the_reported_means():
    fig = figures.accuracy_per_method(final_accuracy(), ORDER, "digits")
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ORDER
    reported = [c for c in ax.collections if c.get_label() == "reported"]
    assert len(reported) == 1
    np.testing.assert_allclose(reported[0].get_offsets(), [[2, 91.143], [0, 94.62]])
    assert "digits" in ax.get_title()


def test_selection_summary_and_the_original_in_effect():
    selection = pd.DataFrame(dict(method=["cosine"] * 4 + ["frobenius"] * 2,
                                  member=[True, False, False, False, True, True]))
    summary = results.selection_summary(selection).set_index("method")
    assert summary.kernels.tolist() == [4, 2]
    assert summary.from_the_pair.tolist() == [25.0, 100.0]
    assert results.original_in_effect(profiles.load("01_warm_start", "paper")) == (
        "corruption=original, source_epochs=6")
    as_run = results.original_in_effect(profiles.load("01_warm_start", "smoke", as_run=True))
    assert as_run.split(", ") == [f"{k}={v}" for k, v in WarmStartSettings.AS_RUN.items()]
