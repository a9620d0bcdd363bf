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
                ("d", "nfm", 0): 45.0, ("d", "nfm", 1): 70.0,
                ("e", "kaiming_normal", 0): 30.0, ("e", "nfm", 0): 25.0}
    assert got.to_dict() == pytest.approx(expected)
    assert list(best.columns) == ["dataset", "init", "seed", "best_val_accuracy"]


def test_summary_gives_mean_std_max_count_per_dataset_and_init():
    summary = results.summary(results.best_validation(make_curves()))
    row = summary.set_index(["dataset", "init"]).loc[("d", "kaiming_normal")]
    assert row["mean"] == pytest.approx(55.0)
    assert row["std"] == pytest.approx(np.std([50.0, 60.0], ddof=1))
    assert row["max"] == pytest.approx(60.0) and row["count"] == 2
    assert np.isnan(summary.set_index(["dataset", "init"]).loc[("e", "nfm"), "std"])


def test_loss_gap_is_val_minus_train_per_epoch():
    gap = results.loss_gap(make_curves())
    one = gap.query("dataset == 'd' and init == 'kaiming_normal' and seed == 0")
    assert one.epoch.tolist() == [1, 2, 3]
    assert one.gap.tolist() == pytest.approx([0.5, 0.6, 0.9])
    assert len(gap.dropna()) == 6 * 3  # epoch 0 (val only) is left out
    # dropna=False keeps NaN losses (a diverged run) as rows, and so fills absent runs with NaN
    assert gap.query("dataset == 'e' and seed == 1").gap.isna().all()


def test_paired_vs_baseline_matches_a_hand_computed_t_interval():
    best = results.best_validation(make_curves())
    assert results.baseline_init(["nfm", "kaiming_normal"]) == "kaiming_normal"
    assert results.baseline_init(["nfm", "agop"]) == "nfm"
    paired = results.paired_vs(best, ["d", "e"], "kaiming_normal")
    assert paired.dataset.tolist() == ["d", "e"] and paired.init.tolist() == ["nfm", "nfm"]
    diff = np.array([45.0 - 50.0, 70.0 - 60.0])
    half = stats.t.ppf(0.975, 1) * diff.std(ddof=1) / np.sqrt(2)
    d = paired.iloc[0]
    assert d.mean_difference == pytest.approx(2.5)
    assert (d.ci95_low, d.ci95_high) == pytest.approx((2.5 - half, 2.5 + half))
    assert d.p_value == pytest.approx(stats.ttest_1samp(diff, 0.0).pvalue) and d.n == 2
    e = paired.iloc[1]
    assert e.mean_difference == pytest.approx(-5.0) and np.isnan(e.ci95_low) and e.n == 1


def test_reported_for_and_reported_vs_ours():
    assert results.reported_for("cifar100")["kaiming_nfm"] == 48.33
    assert results.reported_for("digits") is None
    best = results.best_validation(make_curves())
    table = results.reported_vs_ours(best, ("nfm", "kaiming_normal"))
    assert table.index.tolist()[:2] == ["nfm", "kaiming_normal"]
    assert set(table.index) == {"nfm", "kaiming_normal", *results.REPORTED}
    assert table.loc["nfm", "reported svhn"] == 92.79
    assert table.loc["nfm", "ours d mean"] == pytest.approx(57.5)
    assert table.loc["nfm", "ours d std"] == pytest.approx(np.std([45.0, 70.0], ddof=1))
    assert table.loc["kaiming_normal", "ours e count"] == 1
    assert np.isnan(table.loc["agop", "ours d mean"])
    assert list(table.columns[-6:]) == ["ours d mean", "ours d std", "ours d count",
                                        "ours e mean", "ours e std", "ours e count"]


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
    text = results.header(cfg, "quick", Path("out"))
    assert "a VGG11 trained here on `cifar10` (train split)" in text
    assert "**Data set(s): `digits`** at 224x224" in text and "2 run(s) per init" in text
    assert "torchvision's ImageNet VGG11" in results.header(AgopNfmSettings(), "paper", Path())


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
    best = results.best_validation(curves)
    fig = figures.best_val_accuracy(best, ["d", "e"], order)
    assert len(fig.axes) == 2
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == order
    assert figures.palette(["kaiming_nfm", "nfm"])["kaiming_nfm"] == (0, 0, 0)
    assert figures.family("kaiming_agop") == "matrix (NFM/AGOP)"
    assert figures.family("kaiming_normal") == "standard"
    matplotlib.pyplot.close("all")
