"""Study 02's tables (`results`) on small hand-made frames, and its figures' structure."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from initlab import profiles  # noqa: E402
from initlab.studies.clustered_init import design, figures  # noqa: E402
from initlab.studies.clustered_init import results as res  # noqa: E402
from initlab.studies.clustered_init.specs import SourceRun, TargetRun  # noqa: E402

T_975_1, T_975_2 = 12.706205, 4.302653  # Student t quantiles (tables), 1 and 2 dof


def curve_result(task: str, val_acc: list[float]) -> dict:
    """A run's stored `curves` table: val loss/accuracy per epoch from 0, and train rows."""
    rows = []
    for epoch, acc in enumerate(val_acc):
        rows += [dict(epoch=epoch, split="val", metric="accuracy", value=acc),
                 dict(epoch=epoch, split="val", metric="loss", value=9.0)]
        if epoch:
            rows.append(dict(epoch=epoch, split="train", metric="accuracy", value=0.99))
    return {"curves": pd.DataFrame(rows).assign(task=task)}


def test_labels_name_every_kind_of_condition():
    assert res.label(dict(init="random")) == "random"
    assert res.label(dict(init="random", custom=True)) == "random (custom)"
    assert res.label(dict(init="gabor", layers=6)) == "Gabor L=6"
    assert res.label(dict(init="aligned", matching="optimal", layers=2)) == "aligned optimal L=2"
    spec = TargetRun(init="clustered", distance="euclidean", n_sources=3, clusters=2, layers=17)
    assert res.label(spec) == "euclidean N=3 K=2 L=17"
    noisy = dict(init="clustered", distance="fourier_abs", n_sources=2, clusters=1, layers=1,
                 noise=0.5, rescale="kaiming")
    assert res.label(noisy) == "fourier_abs N=2 K=1 L=1 noise=0.5 kaiming"
    assert res.label(pd.Series(dict(init="pretrained"))) == "pretrained"


def test_curves_keep_validation_accuracy_in_percent_with_label_and_pair():
    specs = [TargetRun(task=(5, 6), seed=0, init="random"),
             TargetRun(task=(5, 7), seed=1, init="gabor", layers=1)]
    results = [curve_result("5-6", [0.5, 0.75]), curve_result("5-7", [0.25, 0.5])]
    frame = res.curves(specs, results)
    assert len(frame) == 4 and set(frame.split) == {"val"} and set(frame.metric) == {"accuracy"}
    assert frame.accuracy.tolist() == [50.0, 75.0, 25.0, 50.0]
    assert frame.label.tolist() == ["random", "random", "Gabor L=1", "Gabor L=1"]
    assert frame.pair.tolist() == ["5-6/0", "5-6/0", "5-7/1", "5-7/1"]
    assert frame.layers.tolist() == [0, 0, 1, 1]  # the condition's settings as columns
    assert res.final(frame).accuracy.tolist() == [75.0, 50.0]


def test_interval_is_the_t_interval_of_the_mean():
    row = res.interval(pd.Series([1.0, 2.0, 3.0]))
    assert row["mean"] == 2.0 and row["std"] == 1.0 and row["n"] == 3
    half = T_975_2 * 1.0 / math.sqrt(3)  # 2.4841
    assert row.ci95_low == pytest.approx(2.0 - half, rel=1e-6)
    assert row.ci95_high == pytest.approx(2.0 + half, rel=1e-6)
    single = res.interval(pd.Series([4.0]))
    assert single["mean"] == 4.0 and math.isnan(single.ci95_low) and single["n"] == 1


def final_frame() -> pd.DataFrame:
    """Final-epoch accuracies of three conditions on two (task, seed) pairs."""
    rows = [("random", "random", "", 0, 0, 0, False, [50.0, 60.0]),
            ("euclidean N=3 K=2 L=17", "clustered", "euclidean", 3, 2, 17, False, [58.0, 66.0]),
            ("euclidean N=3 K=1 L=17", "clustered", "euclidean", 3, 1, 17, False, [40.0, 41.0]),
            ("fourier_abs N=3 K=2 L=17", "clustered", "fourier_abs", 3, 2, 17, False, [52, 53]),
            ("Gabor L=1", "gabor", "", 0, 0, 1, False, [51.0, 62.0]),
            ("Gabor L=17", "gabor", "", 0, 0, 17, False, [30.0, 31.0]),
            ("pretrained", "pretrained", "", 3, 0, 0, False, [55.0, 70.0]),
            ("random (custom)", "random", "", 0, 0, 0, True, [40.0, 44.0]),
            ("aligned greedy L=2", "aligned", "", 2, 0, 2, True, [42.0, 50.0])]
    out = []
    for lab, init, distance, n, k, layers, custom, accs in rows:
        for pair, acc in zip(["5-6/0", "5-7/0"], accs):
            for epoch, value in ((0, 10.0), (2, float(acc))):
                out.append(dict(label=lab, init=init, distance=distance, n_sources=n, clusters=k,
                                layers=layers, matching="greedy" if init == "aligned" else "",
                                noise=0.0, rescale="none", custom=custom, pair=pair,
                                epoch=epoch, accuracy=value))
    return pd.DataFrame(out)


def test_condition_summary_is_per_condition_at_the_last_epoch_in_design_order():
    table = res.condition_summary(final_frame())
    assert table.label.tolist()[:3] == ["random", "euclidean N=3 K=2 L=17",
                                        "euclidean N=3 K=1 L=17"]
    row = table.set_index("label").loc["random"]
    assert row["mean"] == 55.0 and row["n"] == 2
    assert row["std"] == pytest.approx(math.sqrt(50.0))
    assert row.ci95_high - row["mean"] == pytest.approx(T_975_1 * math.sqrt(50.0) / math.sqrt(2),
                                                        rel=1e-6)
    assert {"init", "distance", "clusters", "custom"} <= set(table.columns)
    assert table.n.dtype.kind == "i"


def test_best_settings_are_the_highest_means():
    table = res.condition_summary(final_frame())
    best = res.best_clustered(table)
    assert best.label.tolist() == ["euclidean N=3 K=2 L=17", "fourier_abs N=3 K=2 L=17"]
    assert res.best_gabor(table) == "Gabor L=1"
    assert res.main_labels(table) == ["random", "pretrained", "Gabor L=1",
                                      "euclidean N=3 K=2 L=17", "fourier_abs N=3 K=2 L=17"]
    assert res.best_text(best).endswith(
        "`euclidean N=3 K=2 L=17` 62.00%; `fourier_abs N=3 K=2 L=17` 52.50%")


def test_paired_differences_against_random_and_random_custom():
    frame = final_frame()
    paired = res.paired_vs_random(frame, ["random", "pretrained", "Gabor L=1"])
    assert paired.label.tolist() == ["Gabor L=1", "pretrained", "aligned greedy L=2"]
    assert paired.baseline.tolist() == ["random", "random", "random (custom)"]
    pre = paired.set_index("label").loc["pretrained"]  # diffs 5, 10: mean 7.5, sd 3.5355
    assert pre.mean_difference == 7.5 and pre.n == 2
    assert pre.ci95_high - 7.5 == pytest.approx(T_975_1 * math.sqrt(12.5) / math.sqrt(2), rel=1e-6)
    assert pre.p_value == pytest.approx(1 - 2 / math.pi * math.atan(3.0))  # t = 3 on 1 dof
    assert paired.set_index("label").loc["aligned greedy L=2"].mean_difference == 4.0  # 2, 6


def test_source_table_takes_each_models_last_validation_accuracy():
    specs = [SourceRun(task=(0, 1)), SourceRun(task=(2, 3), custom=True)]
    history = pd.DataFrame(dict(epoch=[2, 1, 2, 1], split=["val", "val", "train", "train"],
                                metric="accuracy", value=[0.8, 0.6, 0.99, 0.9]))
    other = history.assign(value=[0.5, 0.7, 0.1, 0.1])
    table = res.source_table(specs, [{"history": history}, {"history": other}])
    assert table.task.tolist() == ["0-1", "2-3"] and table.custom.tolist() == [False, True]
    assert table.accuracy.tolist() == pytest.approx([80.0, 50.0])
    summary = res.source_summary(pd.DataFrame(dict(custom=[False, False, True],
                                                   accuracy=[60.0, 70.0, 50.0])))
    assert summary.loc[False, "mean"] == 65.0 and summary.loc[False, "min"] == 60.0
    assert summary.loc[True, "count"] == 1
    assert summary.loc[True, "reported (45 standard models)"] == "58.0 (43.0-70.2)"


def test_reported_vs_ours_pairs_each_reported_number_with_our_setting():
    cfg = profiles.load("02_clustered_init", "smoke")  # N = 3, K = 2, L = 17
    table = res.condition_summary(final_frame())
    out = res.reported_vs_ours(cfg, table, "smoke", epoch=2)
    assert out.columns.tolist() == ["data set", "experiment", "setting", "reported", "ours epoch",
                                    "ours_label", "ours_mean", "ours_ci95", "ours_n",
                                    "ours - reported"]
    assert len(out) == 2 + 5 + 2 * (6 + 5 + 5) + 4
    assert set(out["data set"]) == {"digits (smoke) vs cifar100 (reported)"}
    by_k = out[(out.experiment == "euclidean by K") & (out.setting == "clusters=2")].iloc[0]
    assert by_k.ours_label == "euclidean N=3 K=2 L=17" and by_k.ours_mean == 62.0
    assert by_k["ours - reported"] == pytest.approx(62.0 - 64.99)
    assert by_k.ours_ci95 == pytest.approx(T_975_1 * math.sqrt(32.0) / math.sqrt(2), rel=1e-6)
    baseline = out[out.setting == "random"]
    assert baseline.ours_mean.tolist() == [55.0, 42.0]  # standard, then custom random
    missing = out[(out.experiment == "Gabor by L") & (out.setting == "L=2")].iloc[0]
    assert missing.ours_label == "" and missing.ours_n == 0 and np.isnan(missing.ours_mean)


def test_tiny_table_reads_our_accuracy_at_the_reported_epochs():
    frame = pd.DataFrame(dict(init=["random"] * 4 + ["clustered"] * 2,
                              epoch=[5, 5, 15, 15, 5, 15],
                              accuracy=[20.0, 22.0, 30.0, 34.0, 25.0, 36.0]))
    table = res.tiny_table(frame)
    assert table.init.tolist() == ["random", "clustered"]
    assert table["ours epoch 5"].tolist() == [21.0, 25.0]
    assert table["ours epoch 15"].tolist() == [32.0, 36.0]
    assert table["reported epoch 15"].tolist() == [30.924, 35.374]


# --------------------------------------------------------------------------- figures


def design_curves(cfg) -> pd.DataFrame:
    """Curves of every smoke condition on two pairs, epochs 0-2 (arbitrary accuracies)."""
    rng = np.random.default_rng(0)
    rows = []
    for cond in design.conditions(cfg):
        full = {f: cond.get(f, d) for f, d in dict(
            distance="", n_sources=0, clusters=0, layers=0, matching="", noise=0.0,
            rescale="none", custom=False).items()}
        for pair in ("5-6/0", "5-7/0"):
            for epoch in range(3):
                rows.append(dict(init=cond["init"], **full, label=design.label(cond), pair=pair,
                                 epoch=epoch, accuracy=float(rng.uniform(40, 90))))
    return pd.DataFrame(rows)


@pytest.fixture
def smoke():
    cfg = profiles.load("02_clustered_init", "smoke")
    yield cfg, design_curves(cfg)
    plt.close("all")


def test_curve_figures_have_one_line_per_condition(smoke):
    cfg, curves = smoke
    order = ["random", "pretrained", "Gabor L=1", "euclidean N=3 K=2 L=17"]
    fig = figures.best_vs_baselines(curves, order, cfg.dataset)
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) >= len(order)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == order
    tiny = curves[curves.init.isin(["random", "pretrained", "clustered"])]
    fig = figures.tiny_imagenet(tiny)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
        "random", "pretrained", "clustered"]


@pytest.mark.parametrize("key, values", [("clusters", [1, 2]), ("layers", [1, 17]),
                                         ("n_sources", [2, 3])])
def test_sweep_figure_has_a_panel_per_distance_a_final_panel_and_the_report(smoke, key, values):
    cfg, curves = smoke
    fig = figures.sweep(curves, cfg, key)
    # one panel per distance, the final panel, and its right-hand axis for the report (digits)
    assert len(fig.axes) == len(cfg.distances) + 2
    for ax in fig.axes[:len(cfg.distances)]:
        assert [t.get_text() for t in ax.get_legend().get_texts()] == [
            f"{key}={v}" for v in values]
    assert [t.get_text() for t in fig.axes[-2].get_xticklabels()] == [str(v) for v in values]
    assert "reported" in fig.axes[-1].get_ylabel()


def test_final_panel_figures_have_curves_points_and_reported_marks(smoke):
    cfg, curves = smoke
    fig = figures.custom_aligned(curves, cfg)
    assert len(fig.axes) == 3  # curves, final points, the report's axis
    assert [t.get_text() for t in fig.axes[1].get_xticklabels()] == [
        "random (custom)", "aligned greedy L=2", "aligned optimal L=2"]
    marks = fig.axes[2].collections[0].get_offsets()
    assert marks.tolist() == [[0.0, 58.84], [1.0, 58.57]]  # random, greedy L=2
    fig = figures.gabor_by_layers(curves, cfg)
    assert [t.get_text() for t in fig.axes[1].get_xticklabels()] == [
        "random", "Gabor L=1", "Gabor L=17"]
    assert fig.axes[2].collections[0].get_offsets().tolist() == [
        [0.0, 60.16], [1.0, 62.42], [2.0, 39.62]]


def test_first_layer_filter_grid_has_a_row_per_condition():
    examples = {"random": np.ones((4, 3, 3)), "Gabor L=1": -np.ones((4, 3, 3))}
    fig = figures.first_layer_filters(examples)
    assert len(fig.axes) == 8
    assert fig.axes[0].get_ylabel() == "random" and fig.axes[4].get_ylabel() == "Gabor L=1"
    plt.close(fig)
