"""Study 05's tables and figures on two hand-made runs (LeNet-5 on digits, Kaiming uniform and
pretrained, SGD): four scalar "parameters" in two tensors, a few features, one sign flip.
Every expected number is worked out by hand (or with numpy) from the values below."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

from initlab import profiles, store
from initlab.studies.parameter_dynamics import figures, sources
from initlab.studies.parameter_dynamics import results as res
from initlab.studies.parameter_dynamics import runs as study

STUDY = "05_parameter_dynamics"
# start -> middle -> end: w0 stays, w1 +0.5, w2 +0.0005 (below the 1e-3 tolerance), b +2
SNAPSHOTS = torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, 1.25, 1.0, 2.0], [1.0, 1.5, 1.0005, 3.0]])
LAYOUT = pd.DataFrame(dict(name=["conv.weight", "conv.bias"], kind=["conv", "bias"],
                           shape=["3", "1"], numel=[3, 1], offset=[0, 3]))
# five images x three features: f0 and f1 vary, f2 is dead (constant)
FEATURES = torch.tensor([[1.0, 2.0, 7.0], [2.0, 1.0, 7.0], [3.0, 4.0, 7.0], [4.0, 3.0, 7.0],
                         [5.0, 6.0, 7.0]])


@pytest.fixture
def cfg():
    return profiles.load(STUDY, "smoke", archs="lenet5", inits="kaiming_uniform,pretrained",
                         optimizers="sgd", perturbations="sign_flip")


def _result(init: str, features: torch.Tensor, pretrained_from: str) -> dict:
    info = pd.DataFrame([dict(arch="lenet5", dataset="digits", init=init, optimizer="sgd",
                              pretrained_from=pretrained_from, parameters=4, test_accuracy=0.25,
)])
    return dict(info=info, layout=LAYOUT, snapshots=SNAPSHOTS.clone(),
                snapshot_epochs=torch.tensor([0, 1, 2]), features=features.half())


@pytest.fixture
def grid(cfg):
    """The two cells' settings and hand-made results; the Kaiming cell was sign-flipped."""
    runs = study.cells(cfg)
    assert [r.inits for r in runs] == [("kaiming_uniform",), ("pretrained",)]
    trained = _result("kaiming_uniform", FEATURES, "kaiming_uniform")
    trained["perturbation"] = pd.DataFrame([dict(
        perturbation="sign_flip", jump=4.0, accuracy_perturbed=0.1, distance=3.9, path=0.5,
        norm_trained=2.0, norm_retrained=2.1, test_accuracy_retrained=0.5, arch="lenet5",
        dataset="digits", init="kaiming_uniform", optimizer="sgd")])
    trained["features_sign_flip"] = -FEATURES.half()  # |r| = 1 with the trained features
    swapped = FEATURES[:, [1, 0, 2]]  # the same features, f0 and f1 swapped
    return runs, [trained, _result("pretrained", swapped, "checkpoint (digits)")]


# ----------------------------------------------------------------------------- tables


def test_summary_norms_change_rate_share_and_feature_redundancy(grid, cfg):
    runs, results = grid
    table = res.summary(runs, results, cfg)
    row = table.iloc[0]
    end_norm = math.sqrt(1 + 1.5**2 + 1.0005**2 + 3**2)
    distance = math.sqrt(0.5**2 + 0.0005**2 + 2**2)
    assert row.norm_start == pytest.approx(2.0)
    assert row.norm_end == pytest.approx(end_norm, rel=1e-6)
    assert row.distance == pytest.approx(distance, rel=1e-6)
    assert row.change_rate == pytest.approx(100 * distance / end_norm, rel=1e-6)
    assert row.changed_share == pytest.approx(50.0)  # w1 and b moved by more than 1e-3
    assert row.frozen_share == 0.0  # LeNet-5 has no padding-only taps
    r01 = np.corrcoef(FEATURES[:, 0].numpy(), FEATURES[:, 1].numpy())[0, 1]
    assert (row.dead_features, row.features) == (1, 3)
    assert row.feature_redundancy == pytest.approx(abs(r01), rel=1e-5)  # 0.8
    assert row.test_accuracy == 25.0
    assert list(table.init) == ["kaiming_uniform", "pretrained"]
    assert table.run.tolist() == [store.run_name(r) for r in runs]


def test_distances_per_interval(grid):
    dist = res.distances(*grid)
    first = dist[dist.init == "kaiming_uniform"]
    assert first.interval.tolist() == ["0-1", "1-2"]
    assert first.distance.tolist() == pytest.approx([math.sqrt(0.25**2 + 1), math.sqrt(
        0.25**2 + 0.0005**2 + 1)], rel=1e-6)
    assert first.from_start.iloc[-1] == pytest.approx(math.sqrt(0.25 + 0.0005**2 + 4), rel=1e-6)
    assert len(dist) == 4


def test_change_shares_per_tensor_and_over_tolerances(grid):
    per_tensor = res.change_shares(*grid, tolerance=1e-3)
    first = per_tensor[per_tensor.init == "kaiming_uniform"].set_index("name")
    assert first.loc["conv.weight", "changed"] == 1
    assert first.loc["conv.weight", "share"] == pytest.approx(1 / 3)
    assert first.loc["conv.bias", "share"] == 1.0
    sweep = res.tolerance_sweep(*grid, [1e-4, 1e-3, 1.0])
    first = sweep[sweep.init == "kaiming_uniform"]
    assert first.share.tolist() == pytest.approx([75.0, 50.0, 25.0])


def test_histograms_count_conv_and_linear_weights_only(grid):
    hist = res.histograms(*grid, bins=4)
    counts = hist[hist.init == "kaiming_uniform"].groupby("when")["count"].sum()
    assert counts["start"] == counts["end"] == 3  # the bias is left out
    assert len(hist) == 2 * 2 * 4  # runs x (start, end) x bins


def test_feature_pairs_match_swapped_features_perfectly(grid):
    pairs = res.feature_pairs(*grid)
    assert len(pairs) == 1
    row = pairs.iloc[0]
    assert row.pair == "kaiming_uniform vs pretrained" and row.pairs == 2  # the dead unit dropped
    assert row.matched_mean == pytest.approx(1.0, abs=1e-3)
    matrix = res.pair_matrix(grid[1][0], grid[1][1])
    assert torch.allclose(matrix.diagonal(), torch.ones(2), atol=1e-3)


def test_perturbations_in_percent_with_the_two_norm_ratio(grid):
    table = res.perturbations(*grid)
    assert len(table) == 1  # only the Kaiming cell was perturbed
    row = table.iloc[0]
    assert row.distance_over_2norm == pytest.approx(3.9 / 4.0)
    assert row.accuracy_perturbed == pytest.approx(10.0)
    assert row.test_accuracy_retrained == pytest.approx(50.0)
    assert row.matched_mean == pytest.approx(1.0, abs=1e-3)  # -theta features: |r| = 1
    assert row.seed == 0 and row.run == store.run_name(grid[0][0])
    shown = res.perturbation_table(table)
    assert list(shown.columns) == res.PERTURBATION_COLUMNS
    assert res.perturbation_table(table.iloc[:0]).empty
    empty = res.perturbations(grid[0][1:], grid[1][1:])
    assert empty.empty and "perturbation" in empty.columns


def test_within_matrix_and_find(grid):
    runs, results = grid
    matrix = res.within_matrix(results[0]).numpy()
    expected = np.corrcoef(FEATURES[:, :2].numpy(), rowvar=False)
    assert np.allclose(matrix, expected, atol=1e-3)
    assert res.find(runs, results, init="pretrained") is results[1]
    assert res.find(runs, results, arch="vgg19") is None


def test_sources_read_the_store_and_never_train(grid, tmp_path, monkeypatch):
    monkeypatch.setenv("INITLAB_STORE", str(tmp_path))
    runs, results = grid
    spec = sources.source_spec(runs[1], "lenet5", "digits")
    monkeypatch.setattr(sources, "train_source", lambda *a: pytest.fail("rendering trained"))
    with pytest.raises(store.MissingRunError):
        res.sources(runs, results)
    info = pd.DataFrame([dict(arch="lenet5", dataset="digits", test_loss=2.0, test_accuracy=0.3,
                              train_accuracy=0.4)])
    store.run(sources.SOURCES, spec, lambda settings, runtime: dict(info=info))
    table = res.sources(runs, results)
    assert table.to_dict("records") == [dict(
        arch="lenet5", target="digits", source="digits", seed=0, epochs=1, optimizer="sgd",
        source_test_accuracy=pytest.approx(30.0), imagenet_tried=False,
        checkpoint=store.run_name(spec))]


def test_sources_of_imagenet_weights_need_no_checkpoint(grid, tmp_path, monkeypatch):
    monkeypatch.setenv("INITLAB_STORE", str(tmp_path))  # empty: nothing to read
    runs, results = grid
    results[1]["info"] = results[1]["info"].assign(pretrained_from="imagenet")
    row = res.sources(runs, results).iloc[0]
    assert row.source == "imagenet" and row.checkpoint == "" and np.isnan(row.source_test_accuracy)


def test_text_lines(grid, cfg, tmp_path):
    summary = res.summary(*grid, cfg)
    assert res.pretrained_loaded(summary) == "Pretrained runs loaded: `lenet5`: checkpoint (digits)"
    assert res.pretrained_loaded(summary[summary.init != "pretrained"]) == (
        "no pretrained runs in this grid")
    header = res.header(cfg, "smoke", tmp_path)
    assert "`digits`" in header and "2 runs" in header and "on 128 training images" in header


def _table() -> pd.DataFrame:
    return pd.DataFrame(dict(
        arch=["resnet18", "resnet18", "resnet18"], dataset=["cifar10", "digits", "digits"],
        init=["pretrained", "kaiming_uniform", "kaiming_uniform"],
        optimizer=["sgd", "adam", "adam"],
        change_rate=[10.0, 20.0, 30.0], changed_share=[40.0, 50.0, 60.0],
        frozen_share=[61.2, 61.2, 61.2]))


def test_reported_vs_ours(cfg):
    perturbed = pd.DataFrame(dict(perturbation=["sign_flip", "sign_flip", "distortion"],
                                  arch=["resnet18"] * 3, dataset=["digits"] * 3,
                                  distance=[80.0, 90.0, 1.0], norm_trained=[40.0, 45.0, 40.0]))
    table = res.reported_vs_ours(_table(), perturbed, cfg).set_index(["measure", "arch"])
    rate = table.loc["change rate (%)"]
    assert (rate.loc["resnet18"].ours.tolist(), rate.loc["resnet18"].n.tolist()) == (
        [10.0, 25.0], [1, 2])  # the report's data set where we ran it, else all of ours
    assert rate.loc["resnet18"].ours_std.iloc[1] == pytest.approx(math.sqrt(50))
    assert rate.loc["resnet18"].ours_data.tolist() == ["cifar10", "digits"]
    assert rate.loc["lenet5"].n == 0 and rate.loc["lenet5"].ours_data == "not run"
    unchanged = table.loc["ResNet share unchanged (%, abs change <= 0.001)", "resnet18"]
    assert unchanged.ours == pytest.approx(50.0) and unchanged.ours_std == pytest.approx(10.0)
    flip = table.loc["sign flip distance norm(theta_1 - theta_2)"]
    assert flip.loc["resnet18"].ours == pytest.approx(85.0)
    assert flip.loc["resnet18"].note == "ours: 2 norm(theta_trained) = 85.00"
    assert flip.loc["resnet18"].reported == res.REPORTED_SIGN_FLIP_DISTANCE["resnet18"]
    assert flip.loc["vgg19"].n == 0
    assert len(table) == len(res.REPORTED_CHANGE_RATE) + 2 + len(res.REPORTED_SIGN_FLIP_DISTANCE)


# ---------------------------------------------------------------------------- figures


def _heatmaps(fig: plt.Figure) -> int:
    return sum(1 for ax in fig.axes if ax.collections and ax.get_title())


def _lines(ax: plt.Axes) -> list:
    """Lines with finite data (seaborn also adds empty legend handles, and sd error bars of
    one-run bars are NaN)."""
    return [line for line in ax.lines
            if np.isfinite(np.asarray(line.get_ydata(), dtype=float)).any()]


def _bars(ax: plt.Axes) -> list:
    """Bars and stairs with a size (legend handles have none)."""
    return [p for p in ax.patches if p.get_window_extent().width > 0]


def test_figures_from_the_tables(grid, cfg):
    runs, results = grid
    summary = res.summary(runs, results, cfg)
    two_archs = pd.concat([summary, summary.assign(arch="resnet18", frozen_share=61.2)])
    perturbed = res.perturbations(runs, results)
    try:
        fig = figures.norm_distances(res.distances(runs, results), cfg)
        assert len(fig.axes) == 1 and len(_lines(fig.axes[0])) == 2  # one line per init
        fig = figures.change_rate(summary, cfg)
        (ax,) = fig.axes
        assert len(_bars(ax)) == 2  # two inits x one optimizer
        assert len(ax.collections) == 1  # the report's LeNet-5 Kaiming (Adam) cross
        fig = figures.change_share(two_archs, cfg)
        lenet, resnet = fig.axes
        assert len(_bars(lenet)) == len(_bars(resnet)) == 2
        assert (len(_lines(lenet)), len(_lines(resnet))) == (0, 1)  # the frozen-taps ceiling
        assert _lines(resnet)[0].get_ydata()[0] == pytest.approx(100 - 61.2)
        fig = figures.change_share_per_tensor(res.change_shares(runs, results, 1e-3), cfg)
        assert len(fig.axes) == 1 and len(_bars(fig.axes[0])) == 2  # two tensors
        fig = figures.change_share_vs_tolerance(res.tolerance_sweep(runs, results, [0.1, 1]), cfg)
        assert len(fig.axes) == 1 and len(_lines(fig.axes[0])) == 2 + 1  # inits + the tolerance
        fig = figures.weight_histograms(res.histograms(runs, results, 4), cfg)
        assert len(fig.axes) == 1 and len(_bars(fig.axes[0])) == 2  # start and end stairs
        fig = figures.feature_correlation_within(runs, results, cfg)
        assert _heatmaps(fig) == 1 and len(fig.axes) == 2  # one heatmap and its colour bar
        fig = figures.feature_correlation_across(runs, results, cfg)
        assert [t for t, _, _ in figures.across_columns(cfg)] == [
            "kaiming_uniform vs pretrained", "trained vs retrained (sign_flip)"]
        assert _heatmaps(fig) == 2 and len(fig.axes) == 3
        fig = figures.matched_correlation(res.feature_pairs(runs, results), perturbed)
        assert len(fig.axes) == 1 and len(_bars(fig.axes[0])) == 2  # the pair and the flip
        fig = figures.perturbation_distance(perturbed, cfg)
        (ax,) = fig.axes
        assert len(_bars(ax)) == 1 and len(ax.collections) == 1  # our bar, the report's x
    finally:
        plt.close("all")
