"""Study 03's tables and figures on small frames built by hand: exact values, shapes."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from initlab.studies.agop_nfm_init import figures, results
from initlab.studies.agop_nfm_init.settings import AgopNfmSettings

matplotlib.use("Agg")

# (dataset, init, seed) -> per epoch 1..3: (train loss, val loss, val accuracy)
EPOCHS = {
    ("d", "kaiming_normal", 0): [(2.0, 2.5, 0.30), (1.0, 1.6, 0.50), (0.5, 1.4, 0.40)],
    ("d", "kaiming_normal", 1): [(2.0, 2.2, 0.20), (1.5, 1.5, 0.60), (1.0, 1.7, 0.55)],
    ("d", "nfm", 0): [(1.8, 2.0, 0.45), (1.2, 1.3, 0.40), (0.9, 1.0, 0.35)],
    ("d", "nfm", 1): [(1.9, 2.1, 0.25), (1.1, 1.2, 0.70), (0.8, 1.1, 0.65)],
    ("d", "kaiming_normal", 2): [(2.0, 2.0, 0.30), (1.0, 1.2, 0.45), (0.8, 1.0, 0.50)],
    ("d", "nfm", 2): [(2.0, 2.0, 0.35), (1.0, 1.1, 0.60), (0.7, 0.9, 0.58)],
    ("e", "kaiming_normal", 0): [(2.0, 2.0, 0.10), (1.0, 1.0, 0.20), (0.5, 0.5, 0.30)],
    ("e", "nfm", 0): [(2.0, 2.0, 0.15), (1.0, 1.0, 0.25), (0.5, 0.5, 0.10)],
}


def make_curves() -> pd.DataFrame:
    rows = []
    for (dataset, init, seed), epochs in EPOCHS.items():
        key = dict(dataset=dataset, init=init, seed=seed)
        rows.append(dict(epoch=0, split="val", metric="accuracy", value=0.99, **key))  # ignored
        rows.append(dict(epoch=0, split="val", metric="loss", value=9.0, **key))
        for epoch, (train_loss, val_loss, val_acc) in enumerate(epochs, start=1):
            rows += [dict(epoch=epoch, split="train", metric="loss", value=train_loss, **key),
                     dict(epoch=epoch, split="train", metric="accuracy", value=0.5, **key),
                     dict(epoch=epoch, split="val", metric="loss", value=val_loss, **key),
                     dict(epoch=epoch, split="val", metric="accuracy", value=val_acc, **key)]
    return pd.DataFrame(rows)


def make_ansatz() -> pd.DataFrame:
    rows = []
    for target in ("t1", "t2"):
        for layer in (1, 2):
            for network in ("trained", "untrained"):
                for k, matrix in enumerate(("AGOP", "AGOP^(1/2)")):
                    value = 0.1 * layer + 0.01 * k + (0.3 if network == "trained" else 0)
                    rows.append(dict(target=target, layer=layer, size=9, network=network,
                                     matrix=matrix, correlation=value + (target == "t2")))
    return pd.DataFrame(rows)


def test_best_validation_skips_epoch_zero_and_is_in_percent():
    best = results.best_validation(make_curves())
    got = best.set_index(["dataset", "init", "seed"]).best_val_accuracy
    expected = {("d", "kaiming_normal", 0): 50.0, ("d", "kaiming_normal", 1): 60.0,
                ("d", "nfm", 0): 45.0, ("d", "nfm", 1): 70.0, ("d", "kaiming_normal", 2): 50.0,
                ("d", "nfm", 2): 60.0, ("e", "kaiming_normal", 0): 30.0, ("e", "nfm", 0): 25.0}
    assert got.to_dict() == pytest.approx(expected)
    assert list(best.columns) == ["dataset", "init", "seed", "best_val_accuracy"]


def final_frame() -> pd.DataFrame:
    return results.final_validation(make_curves())


def test_final_validation_is_the_last_epoch_in_percent():
    final = final_frame()
    got = final.set_index(["dataset", "init", "seed"])[results.MEASURE]
    expected = {("d", "kaiming_normal", 0): 40.0, ("d", "kaiming_normal", 1): 55.0,
                ("d", "nfm", 0): 35.0, ("d", "nfm", 1): 65.0, ("d", "kaiming_normal", 2): 50.0,
                ("d", "nfm", 2): 58.0, ("e", "kaiming_normal", 0): 30.0, ("e", "nfm", 0): 10.0}
    assert got.to_dict() == pytest.approx(expected)  # not the best epoch (e nfm: 25 at 2)
    assert list(final.columns) == ["dataset", "init", "seed", results.MEASURE]


def test_summary_gives_mean_sd_n_and_an_interval_only_from_three_runs():
    summary = results.summary(final_frame()).set_index(["dataset", "init"])
    row = summary.loc[("d", "kaiming_normal")]
    values = [40.0, 55.0, 50.0]
    half = stats.t.ppf(0.975, 2) * np.std(values, ddof=1) / np.sqrt(3)
    assert row["mean"] == pytest.approx(np.mean(values)) and row["n"] == 3
    assert row["sd"] == pytest.approx(np.std(values, ddof=1))
    assert (row.ci95_low, row.ci95_high) == pytest.approx((np.mean(values) - half,
                                                          np.mean(values) + half))
    one = summary.loc[("e", "nfm")]
    assert one["n"] == 1 and np.isnan(one["sd"]) and np.isnan(one["ci95_low"])


def test_loss_gap_is_val_minus_train_per_epoch():
    gap = results.loss_gap(make_curves())
    one = gap.query("dataset == 'd' and init == 'kaiming_normal' and seed == 0")
    assert one.epoch.tolist() == [1, 2, 3]
    assert one.gap.tolist() == pytest.approx([0.5, 0.6, 0.9])
    assert len(gap.dropna()) == len(EPOCHS) * 3  # epoch 0 (val only) is left out
    # dropna=False keeps NaN losses (a diverged run) as rows, and so fills absent runs with NaN
    assert gap.query("dataset == 'e' and seed == 1").gap.isna().all()


def test_paired_vs_baseline_matches_a_hand_computed_t_test_with_holm():
    final = final_frame()
    assert results.baseline_init(["nfm", "kaiming_normal"]) == "kaiming_normal"
    assert results.baseline_init(["nfm", "agop"]) == "nfm"
    paired = results.paired_vs(final, "kaiming_normal")
    assert paired.dataset.tolist() == ["d", "e"] and paired.init.tolist() == ["nfm", "nfm"]
    diff = np.array([35.0 - 40.0, 65.0 - 55.0, 58.0 - 50.0])
    half = stats.t.ppf(0.975, 2) * diff.std(ddof=1) / np.sqrt(3)
    d = paired.iloc[0]
    assert d.difference == pytest.approx(diff.mean()) and d.n == 3
    assert (d.ci95_low, d.ci95_high) == pytest.approx((diff.mean() - half, diff.mean() + half))
    assert d.p_value == pytest.approx(stats.ttest_1samp(diff, 0.0).pvalue)
    assert d.p_holm == pytest.approx(d.p_value)  # one init tested per data set
    e = paired.iloc[1]
    assert e.difference == pytest.approx(-20.0) and e.n == 1
    assert np.isnan(e.ci95_low) and np.isnan(e.p_value) and np.isnan(e.p_holm)


def test_holm_adjusts_over_every_test_of_the_table_not_per_data_set():
    rng = np.random.default_rng(3)
    rows = [dict(dataset=d, init=i, seed=s, val_accuracy=50 + shift + rng.normal(0, 2))
            for d in ("a", "b") for s in range(4)
            for i, shift in (("kaiming_normal", 0), ("nfm", 3), ("agop", -1), ("normal", 6))]
    paired = results.paired_vs(pd.DataFrame(rows), "kaiming_normal")
    assert len(paired) == 6 and paired.p_value.notna().all()
    p = paired.p_value.to_numpy()
    # Holm by hand over all six tests: sorted p_(k) times (6 - k + 1), running maximum
    order = np.argsort(p)
    expected = np.empty(6)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (6 - rank) * p[index]))
        expected[index] = running
    assert paired.p_holm.to_numpy() == pytest.approx(expected)
    per_set = np.concatenate([results.tables.holm(paired.p_value[paired.dataset == d])
                              for d in ("a", "b")])
    assert not np.allclose(per_set, expected)  # a per-data-set family would differ
    assert results.holm_note(paired, "kaiming_normal").startswith(
        "Holm's family: all 6 tests of the table")


def test_seed_ranks_and_kendall_w_by_hand():
    final = final_frame()
    ranks = results.seed_ranks(final)
    assert ranks.loc[("d", "nfm")].tolist() == [2.0, 1.0, 1.0, pytest.approx(4 / 3)]
    assert list(ranks.columns) == ["seed 0", "seed 1", "seed 2", "mean"]
    # d: rank sums 5 (kaiming) and 4 (nfm) over m = 3 seeds, n = 2 inits:
    # W = 12 * (0.5^2 + 0.5^2) / (3^2 * (2^3 - 2)) = 1/9; e has one seed: no W
    w = results.kendall_w(final)
    assert w["d"] == pytest.approx(1 / 9) and np.isnan(w["e"])
    rows = [dict(dataset="x", init=i, seed=s, val_accuracy=v)
            for s, order in ((0, (1, 2, 3)), (1, (1, 2, 3)), (2, (3, 2, 1)))
            for i, v in zip("abc", order)]
    alike = pd.DataFrame([r for r in rows if r["seed"] < 2])
    assert results.kendall_w(alike)["x"] == pytest.approx(1.0)
    opposite = pd.DataFrame([r for r in rows if r["seed"] != 1])
    assert results.kendall_w(opposite)["x"] == pytest.approx(0.0)


def test_init_scores_are_one_row_per_run_for_compare():
    final = final_frame()
    scores = results.init_scores(final)
    assert list(scores.columns) == ["study", "dataset", "init", "unit", "value", "metric",
                                    "baseline"]
    assert len(scores) == len(final) and set(scores.study) == {"03_agop_nfm_init"}
    assert set(scores.baseline) == {"kaiming_normal"}
    row = scores[(scores.dataset == "d") & (scores.init == "nfm") & (scores.unit == "seed=2")]
    assert row.value.tolist() == [pytest.approx(58.0)]


def test_reported_for_and_reported_vs_ours():
    assert results.reported_for("cifar100")["kaiming_nfm"] == 48.33
    assert results.reported_for("digits") is None
    best = results.best_validation(make_curves())
    table = results.reported_vs_ours(best, ("nfm", "kaiming_normal"), as_run=True)
    assert table.as_run.tolist() == [True] * len(table)  # which settings ours ran with
    assert not results.reported_vs_ours(best, ("nfm",), as_run=False).as_run.any()
    table = table.drop(columns="as_run")
    assert table.index.tolist()[:2] == ["nfm", "kaiming_normal"]
    assert set(table.index) == {"nfm", "kaiming_normal", *results.REPORTED}
    assert table.loc["nfm", "reported svhn"] == 92.79
    assert table.loc["nfm", "ours d mean"] == pytest.approx(np.mean([45.0, 70.0, 60.0]))
    assert table.loc["nfm", "ours d sd"] == pytest.approx(np.std([45.0, 70.0, 60.0], ddof=1))
    assert table.loc["kaiming_normal", "ours e n"] == 1
    assert np.isnan(table.loc["agop", "ours d mean"])
    assert list(table.columns[-6:]) == ["ours d mean", "ours d sd", "ours d n",
                                        "ours e mean", "ours e sd", "ours e n"]
    digits = results.reported_digits(table)
    assert digits["ours d n"] == 0 and digits["reported svhn"] == 1


def test_ansatz_table_has_one_column_per_network_and_matrix():
    table = results.ansatz_table(make_ansatz())
    assert list(table.columns) == ["trained AGOP", "trained AGOP^(1/2)", "untrained AGOP",
                                   "untrained AGOP^(1/2)"]
    assert table.index.tolist() == [("t1", 1), ("t1", 2), ("t2", 1), ("t2", 2)]
    assert table.loc[("t2", 2), "trained AGOP^(1/2)"] == pytest.approx(1.51)
    assert table.loc[("t1", 1), "untrained AGOP"] == pytest.approx(0.1)


def test_source_accuracy_is_the_last_epoch_per_target():
    rows = [dict(target=t, epoch=e, split=s, metric=m, value=v)
            for t, base in (("a", 0.1), ("b", 0.2)) for e in (1, 2) for s in ("train", "val")
            for m, v in (("accuracy", base * e + (s == "val") * 0.01), ("loss", 5.0))]
    acc = results.source_accuracy(pd.DataFrame(rows))
    assert acc.index.tolist() == [("a", 2), ("b", 2)]
    assert acc.loc[("b", 2), "val"] == pytest.approx(0.41)
    assert acc.loc[("a", 2), "train"] == pytest.approx(0.2)


def test_status_note_lists_diverged_runs_and_header_names_the_source():
    status = pd.DataFrame([dict(dataset="d", init="nfm", seed=0, train_images=80,
                                val_images=20, diverged=np.nan),
                           dict(dataset="d", init="agop", seed=1, train_images=80,
                                val_images=20, diverged="loss is nan at epoch 2")])
    note = results.status_note(status)
    assert note.startswith("2 runs; training / validation images per run: 80 / 20;")
    assert note.endswith("diverged runs: 1\n- d agop seed 1: loss is nan at epoch 2")
    cfg = AgopNfmSettings(datasets=("digits",), pretrained="cifar10", runs=2)
    text = results.header(cfg, "quick", Path("out"), "float32")
    assert "a VGG11 trained here on `cifar10` (train split)" in text
    assert "**Data set(s): `digits`** at 224x224" in text and "2 run(s) per init" in text
    assert "arithmetic: **float32** (precision setting `float32`)" in text
    assert "a 1000-way head" in text and "**as_run: False**" in text
    assert "1 of 8, head_classes as the original" in text  # paper's head is the original's
    ran = AgopNfmSettings(datasets=("digits",), pretrained="cifar10",
                          **{**AgopNfmSettings.AS_RUN, "head_classes": 0}, as_run=True)
    text = results.header(ran, "quick", Path("out"), "float32")
    assert "**as_run: True**" in text and "7 of 8, agop_images" in text
    assert "a head of the data's classes" in text and "its first 10 logits" in text
    assert "80% to train, 20% to validate" in text
    assert "torchvision's ImageNet VGG11" in results.header(AgopNfmSettings(), "paper", Path(),
                                                            "bf16")


def test_each_figure_has_its_panels_and_lines():
    curves = make_curves()
    order = ["kaiming_normal", "nfm"]
    fig = figures.ansatz_correlation(make_ansatz(), "digits")
    assert len(fig.axes) == 2
    assert all(len([x for x in ax.lines if len(x.get_xdata())]) == 4 for ax in fig.axes)
    fig = figures.accuracy_curves(curves, order)
    assert len(fig.axes) == 2 * 2  # rows: data sets d, e; columns: train, val
    assert all(len([x for x in ax.lines if len(x.get_xdata())]) == 2 for ax in fig.axes)
    fig = figures.loss_gap(results.loss_gap(curves), order)
    assert len(fig.axes) == 2
    assert all(len([x for x in ax.lines if len(x.get_xdata()) == 3]) == 2 for ax in fig.axes)
    fig = figures.accuracy_per_init(final_frame(), results.MEASURE, ["d", "e"], order, "acc")
    assert len(fig.axes) == 2
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == order
    assert not fig.axes[0].collections[-1].get_label() == "reported"
    best = results.best_validation(curves)
    fig = figures.accuracy_per_init(best, "best_val_accuracy", ["d"], order, "best", True)
    assert len(fig.axes) == 1  # "d" is not a reported data set: no crosses either
    assert figures.palette(["kaiming_nfm", "nfm"])["kaiming_nfm"] == (0, 0, 0)
    assert figures.family("kaiming_agop") == "matrix (NFM/AGOP)"
    assert figures.family("kaiming_normal") == "standard"
    matplotlib.pyplot.close("all")


def test_notes_say_what_the_tables_show():
    summary = results.summary(final_frame())
    note = results.interval_note(summary)
    assert note.startswith("2 of 4 means rest on fewer than 3 runs (n = 1)")
    assert results.interval_note(summary[summary.n >= 3]).startswith("Every mean rests on n = 3")
    signal = pd.DataFrame([dict(dataset="e", init="nfm", relative_rms=2e-6),
                           dict(dataset="e", init="kaiming_normal", relative_rms=1.5)])
    # "e" is not a data set: no chance level, so nothing is flagged there
    assert "did not train" not in results.training_note(summary, signal)
    fake = summary.assign(dataset="digits")  # 10 classes: chance 10%
    note = results.training_note(fake, signal.assign(dataset="digits"))
    assert "- `nfm` on digits: 10.0% (chance 10.0%)" in note
    assert "passed 2.0e-06 of the input's RMS at init, kaiming_normal 1.5e+00" in note
    assert "`kaiming_normal` on digits: 30.0%" not in note  # 20 points above chance
    paired = results.paired_vs(final_frame(), "kaiming_normal")
    text = results.holm_note(paired, "kaiming_normal")
    assert "d: of 1 inits tested against `kaiming_normal`, 0 differ" in text
    assert "e: no init could be tested" in text
    assert results.agreement_note(pd.Series({"d": 1 / 9, "e": np.nan})) == (
        "Kendall's W of the seeds' orders: d: 0.11; e: none (a single seed).")
    shown = results.signal_display(pd.DataFrame(dict(relative_rms=[2.345e-6, 1.5],
                                                     relative_rms_width_1=[np.nan, 14.8])))
    assert shown.relative_rms.tolist() == ["2.3e-06", "1.5e+00"]  # one format per column
    assert shown.relative_rms_width_1.tolist() == ["", "1.5e+01"]
    smoke = results.signal_display(pd.DataFrame(dict(relative_rms=[0.96, 0.1],
                                                     relative_rms_width_1=[2.3, np.nan])))
    assert smoke.relative_rms.tolist() == ["9.6e-01", "1.0e-01"]  # was "0.96" beside "0.1"
    assert [float(v) for v in smoke.relative_rms] == [0.96, 0.1]
