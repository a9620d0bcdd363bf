"""Study 02's tables (`results`) on small hand-made frames, and its figures' structure."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from initlab import profiles, tables  # noqa: E402
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


TASKS = ("5-6", "5-7", "6-8")


def final_frame(tasks: tuple[str, ...] = TASKS) -> pd.DataFrame:
    """Accuracies of every condition on each task under seeds 0 and 1 (epochs 0 and 2): the
    condition's base value + 2 x task index + seed (random: + 3 x seed, so differences vary)."""
    rows = [("random", "random", "", 0, 0, 0, False, 50.0),
            ("euclidean N=3 K=2 L=17", "clustered", "euclidean", 3, 2, 17, False, 58.0),
            ("euclidean N=3 K=1 L=17", "clustered", "euclidean", 3, 1, 17, False, 40.0),
            ("fourier_abs N=3 K=2 L=17", "clustered", "fourier_abs", 3, 2, 17, False, 52.0),
            ("Gabor L=1", "gabor", "", 0, 0, 1, False, 51.0),
            ("Gabor L=17", "gabor", "", 0, 0, 17, False, 30.0),
            ("pretrained", "pretrained", "", 3, 0, 0, False, 55.0),
            ("random (custom)", "random", "", 0, 0, 0, True, 40.0),
            ("aligned greedy L=2", "aligned", "", 2, 0, 2, True, 42.0)]
    out = []
    for lab, init, distance, n, k, layers, custom, base in rows:
        for t, task in enumerate(tasks):
            for seed in (0, 1):
                acc = base + 2 * t + (3 if init == "random" else 1) * seed + (t == 1) * len(lab)
                for epoch, value in ((0, 10.0), (2, acc)):
                    out.append(dict(label=lab, init=init, distance=distance, n_sources=n,
                                    clusters=k, layers=layers, noise=0.0, rescale="none",
                                    matching="greedy" if init == "aligned" else "",
                                    custom=custom, task=task, seed=seed,
                                    pair=f"{task}/{seed}", epoch=epoch, accuracy=value))
    return pd.DataFrame(out)


def task_means(frame: pd.DataFrame, lab: str) -> pd.Series:
    last = res.final(frame)
    return last[last.label == lab].groupby("task").accuracy.mean()


def test_condition_summary_takes_the_task_as_unit_in_design_order():
    frame = final_frame()
    table = res.condition_summary(frame)
    assert table.label.tolist()[:3] == ["random", "euclidean N=3 K=2 L=17",
                                        "euclidean N=3 K=1 L=17"]
    row = table.set_index("label").loc["Gabor L=1"]
    means = task_means(frame, "Gabor L=1")  # three task means: seeds averaged first
    assert row["n"] == 3 and row["mean"] == pytest.approx(means.mean())
    assert row["sd"] == pytest.approx(means.std(ddof=1))
    half = T_975_2 * means.std(ddof=1) / math.sqrt(3)
    assert row.ci95_high - row["mean"] == pytest.approx(half, rel=1e-6)
    assert {"init", "distance", "clusters", "custom"} <= set(table.columns)


def test_no_interval_below_three_tasks_and_the_note_counts_those_rows():
    table = res.condition_summary(final_frame(TASKS[:2]))
    assert (table.n == 2).all() and table.ci95_low.isna().all()
    assert table["mean"].notna().all()
    note = res.interval_note(table, res.condition_summary(final_frame()))
    assert f"{len(table)} of {2 * len(table)} rows" in note


def test_best_settings_are_the_highest_means_and_are_only_described():
    table = res.condition_summary(final_frame())
    best = res.best_clustered(table)
    assert best.label.tolist() == ["euclidean N=3 K=2 L=17", "fourier_abs N=3 K=2 L=17"]
    assert res.best_gabor(table) == "Gabor L=1"
    assert res.main_labels(table) == ["random", "pretrained", "Gabor L=1",
                                      "euclidean N=3 K=2 L=17", "fourier_abs N=3 K=2 L=17"]
    text = res.best_text(best)
    assert "descriptive only" in text
    mean = table.set_index("label").loc["euclidean N=3 K=2 L=17", "mean"]
    assert f"`euclidean N=3 K=2 L=17` {mean:.1f}% (n = 3)" in text


def test_every_setting_is_tested_against_its_random_baseline_with_holm_over_the_table():
    frame = final_frame()
    paired = res.paired_vs_random(frame)
    assert paired.label.tolist() == [
        "euclidean N=3 K=2 L=17", "euclidean N=3 K=1 L=17", "fourier_abs N=3 K=2 L=17",
        "Gabor L=1", "Gabor L=17", "pretrained", "aligned greedy L=2"]
    assert paired.baseline.tolist() == ["random"] * 6 + ["random (custom)"]
    row = paired.set_index("label").loc["pretrained"]
    diffs = task_means(frame, "pretrained") - task_means(frame, "random")  # task level
    assert row.n == 3 and row.difference == pytest.approx(diffs.mean())
    half = T_975_2 * diffs.std(ddof=1) / math.sqrt(3)
    assert row.ci95_high - row.difference == pytest.approx(half, rel=1e-6)
    t = diffs.mean() / (diffs.std(ddof=1) / math.sqrt(3))
    # two-sided t-test on 2 degrees of freedom: p = 1 - |t| / sqrt(2 + t^2)
    assert row.p_value == pytest.approx(1 - abs(t) / math.sqrt(2 + t * t), rel=1e-6)
    assert paired.p_holm.to_numpy() == pytest.approx(tables.holm(paired.p_value.to_numpy()))
    assert (paired.p_holm >= paired.p_value).all()
    custom = paired.set_index("label").loc["aligned greedy L=2"]
    assert custom.difference == pytest.approx((task_means(frame, "aligned greedy L=2")
                                               - task_means(frame, "random (custom)")).mean())
    assert "Of the 7 settings" in res.holm_text(paired)


def test_holm_text_without_tests():
    paired = res.paired_vs_random(final_frame(TASKS[:2]))
    assert paired.p_holm.isna().all() and paired.ci95_low.isna().all()
    assert res.holm_text(paired).startswith("No setting could be tested")


def test_init_scores_are_one_row_per_run_with_the_task_as_unit():
    frame = final_frame()
    scores = res.init_scores(frame, "digits")
    assert scores.columns.tolist() == ["study", "dataset", "init", "unit", "value", "metric",
                                       "baseline", "seed"]
    assert len(scores) == 9 * 3 * 2 and set(scores.study) == {"02_clustered_init"}
    assert set(scores.dataset) == {"digits"} and set(scores.unit) == {
        f"task={t}" for t in TASKS}
    row = scores[(scores.init == "Gabor L=1") & (scores.unit == "task=6-8") & (scores.seed == 1)]
    assert row.value.tolist() == [51.0 + 4 + 1]  # the final epoch, in %
    custom = scores[scores.init.isin(["aligned greedy L=2", "random (custom)"])]
    assert set(custom.baseline) == {"random (custom)"}
    assert set(custom.metric) == {"validation accuracy at epoch 2 (%), custom ResNet-18"}
    standard = scores.drop(custom.index)
    assert set(standard.baseline) == {"random"}
    assert set(standard.metric) == {"validation accuracy at epoch 2 (%)"}
    # each panel (metric) holds its baseline, on the same (unit, seed) keys as every init
    for _, panel in scores.groupby("metric"):
        base = panel[panel.init == panel.baseline.iloc[0]]
        assert len(base) == 6
        assert set(zip(panel.unit, panel.seed)) == set(zip(base.unit, base.seed))
    # averaged within units, the comparison's paired test is this study's own
    ours = res.paired_vs_random(frame).set_index("label")
    theirs = tables.paired_tests(standard, "init", "unit", "random", "value").set_index("init")
    assert theirs.loc["pretrained", "difference"] == pytest.approx(
        ours.loc["pretrained", "difference"])
    assert theirs.loc["pretrained", "p_value"] == pytest.approx(ours.loc["pretrained", "p_value"])


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
    assert summary.loc[True, "n"] == 1
    assert summary.loc[True, "reported (45 standard models)"] == "58.0 (43.0-70.2)"


def test_reported_vs_ours_pairs_each_reported_number_with_our_setting():
    cfg = profiles.load("02_clustered_init", "smoke")  # N = 3, K = 2, L = 17
    frame = final_frame()
    table = res.condition_summary(frame)
    out = res.reported_vs_ours(cfg, table, "smoke", epoch=2)
    assert out.columns.tolist() == ["data_set", "experiment", "setting", "reported", "ours_epoch",
                                    "ours_label", "ours_mean", "ours_ci95", "ours_n",
                                    "ours_minus_reported", "as_run"]
    assert len(out) == 2 + 5 + 2 * (6 + 5 + 5) + 4
    assert set(out["data_set"]) == {"digits (smoke) vs cifar100 (reported)"}
    assert set(out.ours_epoch) == {2} and set(out.as_run) == {False}  # smoke: Gabor etc. fixed
    as_run = profiles.load("02_clustered_init", "smoke", as_run=True)
    assert set(res.reported_vs_ours(as_run, table, "smoke", epoch=2).as_run) == {True}
    overridden = profiles.load("02_clustered_init", "smoke", as_run=True, gabor_grid="centred")
    assert set(res.reported_vs_ours(overridden, table, "smoke", epoch=2).as_run) == {False}
    by_k = out[(out.experiment == "euclidean by K") & (out.setting == "clusters=2")].iloc[0]
    means = task_means(frame, "euclidean N=3 K=2 L=17")
    assert by_k.ours_label == "euclidean N=3 K=2 L=17" and by_k.ours_n == 3
    assert by_k.ours_mean == pytest.approx(means.mean())
    assert by_k["ours_minus_reported"] == pytest.approx(means.mean() - 64.99)
    assert by_k.ours_ci95 == pytest.approx(T_975_2 * means.std(ddof=1) / math.sqrt(3), rel=1e-6)
    baseline = out[out.setting == "random"]
    assert baseline.ours_mean.tolist() == pytest.approx(
        [task_means(frame, "random").mean(), task_means(frame, "random (custom)").mean()])
    missing = out[(out.experiment == "Gabor by L") & (out.setting == "L=2")].iloc[0]
    assert missing.ours_label == "" and missing.ours_n == 0 and np.isnan(missing.ours_mean)
    few = res.reported_vs_ours(cfg, res.condition_summary(final_frame(TASKS[:2])), "smoke", 2)
    assert few.ours_ci95.isna().all() and set(few.ours_n) <= {0, 2}


def test_tiny_table_gives_mean_spread_and_n_at_the_reported_epochs():
    frame = pd.DataFrame(dict(init=["random"] * 6 + ["clustered"] * 2,
                              epoch=[5, 5, 5, 15, 15, 15, 5, 15],
                              accuracy=[20.0, 22.0, 24.0, 30.0, 34.0, 32.0, 25.0, 36.0]))
    table = res.tiny_table(frame)
    assert table.init.tolist() == ["random", "clustered"] * 2
    assert table["reported_epoch"].tolist() == [5, 5, 15, 15]
    assert table["ours_epoch"].tolist() == [5, 5, 15, 15]
    assert table["reported"].tolist() == [28.246, 31.1, 30.924, 35.374]
    assert table["mean"].tolist() == [22.0, 25.0, 32.0, 36.0]
    assert table["n"].tolist() == [3, 1, 3, 1] and table["sd"].iloc[0] == 2.0
    assert table.ci95_high.iloc[0] == pytest.approx(22.0 + T_975_2 * 2.0 / math.sqrt(3))
    assert table.ci95_low.iloc[[1, 3]].isna().all()  # n < 3: no interval
    short = res.tiny_table(frame[frame.epoch == 5])  # only epoch 5 run: both rows at epoch 5
    assert short["ours_epoch"].tolist() == [5, 5, 5, 5]


# --------------------------------------------------------------------------- figures


def design_curves(cfg) -> pd.DataFrame:
    """Curves of every smoke condition on three tasks x two seeds, epochs 0-2 (arbitrary
    accuracies)."""
    rng = np.random.default_rng(0)
    rows = []
    for cond in design.conditions(cfg):
        full = {f: cond.get(f, d) for f, d in dict(
            distance="", n_sources=0, clusters=0, layers=0, matching="", noise=0.0,
            rescale="none", custom=False).items()}
        for task in TASKS:
            for seed in (0, 1):
                for epoch in range(3):
                    rows.append(dict(init=cond["init"], **full, label=design.label(cond),
                                     task=task, seed=seed, pair=f"{task}/{seed}", epoch=epoch,
                                     accuracy=float(rng.uniform(40, 90))))
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
    random = res.final(curves[curves.label == "random"]).groupby("task").accuracy.mean()
    for ax in fig.axes[:len(cfg.distances)]:  # random init's curve beside the sweep's, as the
        assert [t.get_text() for t in ax.get_legend().get_texts()] == [  # original drew it
            "random", *(f"{key}={v}" for v in values)]
        assert ax.lines[0].get_ydata()[-1] == pytest.approx(random.mean())  # over task means
    assert [t.get_text() for t in fig.axes[-2].get_xticklabels()] == [str(v) for v in values]
    level = [line for line in fig.axes[-2].lines if line.get_label() == "random"]
    assert level and level[0].get_ydata()[0] == pytest.approx(random.mean())
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


def test_figure_8_shows_the_first_layer_only_inits_against_random(smoke):
    cfg, curves = smoke
    fig = figures.first_layer_inits(curves, cfg)
    names = [t.get_text() for t in fig.axes[1].get_xticklabels()]
    assert names == ["random", "Gabor L=1", "euclidean N=3 K=2 L=1", "fourier_abs N=3 K=2 L=1"]
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == names
    # the report's numbers: random, Gabor L=1 and Euclidean L=1 (it ran no fourier_abs)
    assert fig.axes[2].collections[0].get_offsets().tolist() == [
        [0.0, 60.16], [1.0, 62.42], [2.0, 60.99]]


def test_curve_bands_are_t_intervals_over_tasks_and_absent_below_three(smoke):
    cfg, curves = smoke
    fig = figures.best_vs_baselines(curves, ["random"], cfg.dataset)
    band = fig.axes[0].collections[0].get_paths()[0].vertices[:, 1]
    last = res.final(curves[curves.label == "random"]).groupby("task").accuracy.mean()
    _, low, high, _ = tables.t_interval(last)
    assert band.min() <= low + 1e-9 and high - 1e-9 <= band.max()
    two = curves[curves.task != TASKS[2]]
    fig = figures.best_vs_baselines(two, ["random"], cfg.dataset)
    assert not fig.axes[0].collections  # two tasks: no band


def test_first_layer_filter_grid_has_a_row_per_condition():
    examples = {"random": np.ones((4, 3, 3)), "Gabor L=1": -np.ones((4, 3, 3))}
    fig = figures.first_layer_filters(examples)
    assert len(fig.axes) == 8
    assert fig.axes[0].get_ylabel() == "random" and fig.axes[4].get_ylabel() == "Gabor L=1"
    plt.close(fig)
