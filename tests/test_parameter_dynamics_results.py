"""Study 05's tables and figures on two hand-made runs (LeNet-5 on digits, Kaiming uniform and
pretrained, SGD): four scalar "parameters" in two tensors, a few features, one sign flip; and
its statistics (paired tests, scores for the comparison page) on small hand-made frames.
Every expected number is worked out by hand (or with numpy) from the values below."""

from __future__ import annotations

import dataclasses
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

from initlab import profiles, store
from initlab.studies.parameter_dynamics import figures, reported, scores, sources
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
                         optimizers="sgd", perturbations="sign_flip", seeds=1)


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
    # +1e-6 moves every float32 value of the end snapshot, none of its bf16-rounded values
    assert (row.distortion_float32, row.distortion_bf16) == (100.0, 0.0)
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
    shown = scores.perturbation_table(table)
    assert "distance_over_2norm" in shown.columns and "run" not in shown.columns
    assert scores.perturbation_table(table.iloc[:0]).empty
    empty = res.perturbations(grid[0][1:], grid[1][1:])
    assert empty.empty and "perturbation" in empty.columns


def test_within_matrix_and_the_matrices_the_heatmaps_show(grid, cfg):
    runs, results = grid
    matrix = res.within_matrix(results[0]).numpy()
    expected = np.corrcoef(FEATURES[:, :2].numpy(), rowvar=False)
    assert np.allclose(matrix, expected, atol=1e-3)
    shown = res.shown_matrices(runs, results, cfg)
    assert set(shown) == {("within", "lenet5", "sgd"),
                          ("across", "lenet5", "kaiming_uniform vs pretrained"),
                          ("across", "lenet5", "trained vs retrained (sign_flip)")}
    assert torch.allclose(shown[("within", "lenet5", "sgd")], res.within_matrix(results[0]))
    other_seed = [dataclasses.replace(r, seed=1) for r in runs]
    assert res.shown_matrices(other_seed, results, cfg) == {}  # only the first seed is shown


def test_collect_reads_group_by_group_and_never_trains(grid, cfg, monkeypatch):
    runs, results = grid
    by_name = {store.run_name(s): r for s, r in zip(runs, results)}
    read = []

    def reader(settings):
        read.append(settings.inits[0])
        return by_name[store.run_name(settings)]

    monkeypatch.setattr(sources, "source_info", lambda spec: pd.Series(dict(test_accuracy=0.3)))
    measures = res.collect(cfg, runs, read=reader)
    assert read == ["kaiming_uniform", "pretrained"]
    pd.testing.assert_frame_equal(measures.summary, res.summary(runs, results, cfg))
    pd.testing.assert_frame_equal(measures.perturbed, res.perturbations(runs, results))
    assert len(measures.pairs) == 1 and len(measures.sources) == 1
    assert measures.sources.source_test_accuracy.iloc[0] == pytest.approx(30.0)
    assert len(measures.heatmaps) == 3
    monkeypatch.setattr(study, "fit", lambda *a, **k: pytest.fail("rendering trained"))
    with pytest.raises(store.MissingRunError, match="initlab run 05_parameter_dynamics"):
        res.collect(cfg)  # an empty store: the default reader refuses, never trains


def test_sources_read_the_store_and_never_train(grid, tmp_path, monkeypatch):
    monkeypatch.setenv("INITLAB_STORE", str(tmp_path))
    runs, results = grid
    spec = sources.source_spec(runs[1], "lenet5", "digits")
    monkeypatch.setattr(sources, "train_source", lambda *a: pytest.fail("rendering trained"))
    with pytest.raises(store.MissingRunError, match="pretrained cells"):
        res.sources(runs, results)
    info = pd.DataFrame([dict(arch="lenet5", dataset="digits", test_loss=2.0, test_accuracy=0.3,
                              train_accuracy=0.4)])
    weights = {"model/w": torch.ones(3)}
    store.run(sources.SOURCES, spec, lambda settings, runtime: dict(info=info, **weights))
    monkeypatch.setattr(store, "read", lambda *a: pytest.fail("loaded the checkpoint's weights"))
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
    assert scores.pretrained_loaded(summary) == (
        "Pretrained runs loaded: `lenet5`: checkpoint (digits)")
    assert scores.pretrained_loaded(summary[summary.init != "pretrained"]) == (
        "no pretrained runs in this grid")
    header = scores.header(cfg, "smoke", tmp_path)
    assert "`digits`" in header and "2 runs" in header and "on 128 training images" in header
    assert "1 seed(s)" in header
    assert "100.0-100.0% of the float32" in scores.distortion_text(summary, cfg)
    assert "only 0.0-0.0% of their bf16" in scores.distortion_text(summary, cfg)
    assert "**float32** on `cpu`" in scores.precision_text(cfg, torch.device("cpu"))
    assert "**float32** on `cuda`" in scores.precision_text(cfg, torch.device("cuda"))
    auto = dataclasses.replace(cfg, precision="auto")  # an explicit choice: bf16 on CUDA
    assert "**bf16** on `cuda`" in scores.precision_text(auto, torch.device("cuda"))
    assert scores.differences_text(cfg) == (
        "`as_run: False`; differing from the original code: `vgg_head=small` (original "
        "`torchvision_1000`), `correlation=pearson` (original `biased_covariance`).")
    as_run = profiles.load(STUDY, "smoke", as_run=True)
    assert scores.differences(as_run).as_original.all()
    assert scores.differences_text(as_run) == (
        "`as_run: True`; every difference as the original code ran.")
    frozen = res.frozen_percent("resnet18", 1.0, "imagenet", "small")
    stored = pd.DataFrame([dict(full_width=frozen, this_width=50.0)])
    assert f"**{frozen:.1f}%**" in scores.frozen_text(stored, cfg) and round(frozen, 1) == 62.1
    table = scores.profile_table()
    assert table.loc["paper", "seeds"] >= 3 and table.loc["quick", "vgg_head"] == "small"


def _table() -> pd.DataFrame:
    return pd.DataFrame(dict(
        arch=["resnet18", "resnet18", "resnet18"], dataset=["cifar10", "digits", "digits"],
        init=["pretrained", "kaiming_uniform", "kaiming_uniform"],
        optimizer=["sgd", "adam", "adam"],
        change_rate=[10.0, 20.0, 30.0], changed_share=[40.0, 50.0, 60.0],
        frozen_share=[61.2, 61.2, 61.2]))


def test_reported_vs_ours(cfg):
    perturbed = pd.DataFrame(dict(
        perturbation=["sign_flip", "sign_flip", "distortion", "distortion"],
        arch=["resnet18"] * 4, dataset=["digits"] * 4, optimizer=["sgd"] * 4,
        init=["kaiming_normal", "kaiming_normal", "kaiming_uniform", "kaiming_uniform"],
        distance=[80.0, 90.0, 0.5, 0.7], norm_trained=[40.0, 45.0, 40.0, 45.0]))
    table = reported.reported_vs_ours(_table(), perturbed, cfg).set_index(["measure", "arch"])
    rate = table.loc["change rate (%)"]
    assert (rate.loc["resnet18"].ours.tolist(), rate.loc["resnet18"].n.tolist()) == (
        [10.0, 25.0], [1, 2])  # the report's data set where we ran it, else all of ours
    assert rate.loc["resnet18"].ours_sd.iloc[1] == pytest.approx(math.sqrt(50))
    assert rate.loc["resnet18"].ours_data.tolist() == ["cifar10", "digits"]
    assert rate.loc["resnet18"].note.tolist() == ["", "other data set"]
    assert rate.loc["resnet18"].ci95_low.isna().all()  # no interval where n < 3
    assert rate.loc["lenet5"].n == 0 and rate.loc["lenet5"].ours_data == "not run"
    share = table.loc[[m for m in table.index.levels[0] if m.startswith("changed share")][0]]
    assert share.loc["resnet18"].ours.tolist() == [40.0, 55.0]
    assert share.loc["resnet18"].reported.tolist() == [38.0, 38.0]
    unchanged = table.loc["ResNet share unchanged (%, |change| <= 0.001)", "resnet18"]
    assert unchanged.ours == pytest.approx(50.0) and unchanged.ours_sd == pytest.approx(10.0)
    assert np.isnan(unchanged.ci95_low)  # pooled over runs that share seeds: no interval
    flip = table.loc["sign_flip distance norm(theta_1 - theta_2)"]
    assert flip.loc["resnet18"].ours == pytest.approx(85.0)
    assert flip.loc["resnet18"].note == "ours: 2 norm(theta_trained) = 85.00"
    assert flip.loc["resnet18"].reported == reported.sign_flip_distance("resnet18")
    assert flip.loc["resnet18"].reported_data == "mnist" and flip.loc["vgg19"].n == 0
    distortion = table.loc["distortion distance norm(theta_1 - theta_2)"]
    assert distortion.loc["resnet18"].ours == pytest.approx(0.6)
    assert distortion.loc["resnet18"].reported == 0.27
    assert distortion.loc["lenet5"].reported_data == "mnist"
    assert len(table) == (len(reported.CHANGE_RATE) + len(reported.CHANGED_SHARE) + 2
                          + len(reported.SIGN_FLIP_DISTANCE) + len(reported.DISTORTION_DISTANCE))
    assert not table.as_run.any()  # which settings were in effect: a column of every row
    as_run = dataclasses.replace(cfg, as_run=True)
    assert reported.reported_vs_ours(_table(), perturbed, as_run).as_run.all()


# ------------------------------------------------------------------------- statistics

NOISE = [0.1, -0.1, 0.3, -0.3]


def _accuracies() -> pd.DataFrame:
    """Four seeds; Kaiming uniform beats Kaiming normal by 2 points (+ noise), pretrained loses
    5; the seed itself moves every init of a seed alike (what pairing removes)."""
    rows = []
    for optimizer in ("sgd", "adam"):
        for seed, noise in enumerate(NOISE):
            base = 50.0 + 10 * seed
            for init, accuracy in (("kaiming_normal", base), ("kaiming_uniform", base + 2 + noise),
                                   ("pretrained", base - 5 - noise)):
                rows.append(dict(arch="lenet5", dataset="digits", optimizer=optimizer,
                                 init=init, seed=seed, test_accuracy=accuracy))
    return pd.DataFrame(rows)


def test_paired_accuracy_tests_against_the_baseline_with_holm_over_the_table(cfg):
    summary = _accuracies()
    both = dataclasses.replace(cfg, inits=("kaiming_uniform", "kaiming_normal", "pretrained"))
    assert scores.baseline(both.inits) == "kaiming_normal"
    assert scores.baseline(cfg.inits) == "kaiming_uniform"  # no Kaiming normal in this grid
    table = scores.accuracy_tests(summary, both)
    assert len(table) == 4 and set(table.baseline) == {"kaiming_normal"}
    uniform = table[table.init == "kaiming_uniform"]
    assert uniform.difference.tolist() == pytest.approx([2.0, 2.0])
    assert uniform.n.tolist() == [4, 4]
    sd = np.std([2 + n for n in NOISE], ddof=1)
    half = 3.182446305284263 * sd / 2  # t(0.975, 3) * sd / sqrt(4)
    assert uniform.ci95_high.iloc[0] - 2.0 == pytest.approx(half, rel=1e-6)
    assert table.p_holm.tolist() == pytest.approx(list(
        scores.tables.holm(table.p_value.to_numpy())))
    assert (table.p_holm >= table.p_value).all() and (table.p_holm < 0.01).all()
    means = scores.accuracy_means(summary)
    row = means[(means.init == "kaiming_normal") & (means.optimizer == "sgd")].iloc[0]
    assert (row["mean"], row.n) == (65.0, 4) and row.ci95_low < 65.0 < row.ci95_high
    assert "95% t-intervals" in scores.interval_note(means)
    two = scores.accuracy_means(summary[summary.seed < 2])
    assert two.ci95_low.isna().all()
    assert "n = 2" in scores.interval_note(two) and "no interval" in scores.interval_note(two)


def test_init_scores_for_the_comparison_page(cfg):
    summary = _accuracies()
    both = dataclasses.replace(cfg, inits=("kaiming_uniform", "kaiming_normal", "pretrained"))
    frame = scores.init_scores(summary, both)
    assert list(frame.columns) == ["study", "dataset", "init", "unit", "value", "metric",
                                   "baseline"]
    assert set(frame.study) == {"05_parameter_dynamics"}
    assert set(frame.dataset) == {"digits/lenet5/sgd", "digits/lenet5/adam"}
    assert frame.unit.iloc[0] == "seed=0" and set(frame.baseline) == {"kaiming_normal"}
    assert frame.value.tolist() == summary.test_accuracy.tolist() and len(frame) == 24
    assert set(scores.init_scores(summary, cfg).baseline) == {"kaiming_uniform"}


def test_perturbation_distances_are_tested_against_the_unperturbed_control():
    rows = []
    for seed in range(3):
        for init, extra in (("kaiming_uniform", 0.05), ("kaiming_normal", 0.15)):
            control = 1.0 + 0.1 * seed
            for perturbation, distance in (("none", control),
                                           ("distortion", control + extra + 0.01 * seed),
                                           ("sign_flip", 100.0 + seed)):
                rows.append(dict(arch="lenet5", dataset="digits", optimizer="sgd", init=init,
                                 seed=seed, perturbation=perturbation, distance=distance))
    table = scores.perturbation_tests(pd.DataFrame(rows)).set_index("perturbation")
    assert table.loc["distortion", "difference"] == pytest.approx(0.11)  # inits, then seeds
    assert table.loc["distortion", "n"] == 3  # seeds, not seeds x inits
    assert table.loc["sign_flip", "difference"] == pytest.approx(99.0 + 0.9)
    assert scores.perturbation_tests(pd.DataFrame(rows[1:2])).empty  # no control: no test


# ---------------------------------------------------------------------------- figures


def _images(fig: plt.Figure) -> int:
    return sum(len(ax.images) for ax in fig.axes)


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
    heatmaps = res.shown_matrices(runs, results, cfg)
    try:
        fig = figures.norm_distances(res.distances(runs, results), cfg)
        assert len(fig.axes) == 1 and len(_lines(fig.axes[0])) == 2  # one line per init
        fig = figures.change_rate(summary, cfg)
        (ax,) = fig.axes
        assert len(_bars(ax)) == 2  # two inits x one optimizer
        assert len(ax.collections) == 0  # the report's LeNet-5 value is Adam's: not run here
        fig = figures.change_share(two_archs, dataclasses.replace(cfg, archs=("lenet5",
                                                                               "resnet18")))
        lenet, resnet = fig.axes
        assert len(_bars(lenet)) == len(_bars(resnet)) == 2
        assert (len(_lines(lenet)), len(_lines(resnet))) == (0, 1)  # the frozen-taps ceiling
        assert _lines(resnet)[0].get_ydata()[0] == pytest.approx(100 - 61.2)
        assert (len(lenet.collections), len(resnet.collections)) == (0, 1)  # pretrained SGD x
        fig = figures.change_share_per_tensor(res.change_shares(runs, results, 1e-3), cfg)
        assert len(fig.axes) == 1 and len(_bars(fig.axes[0])) == 2  # two tensors
        fig = figures.change_share_vs_tolerance(res.tolerance_sweep(runs, results, [0.1, 1]), cfg)
        assert len(fig.axes) == 1 and len(_lines(fig.axes[0])) == 2 + 1  # inits + the tolerance
        hist = res.histograms(runs, results, 4)
        two_sets = dataclasses.replace(cfg, datasets=("digits", "mnist"))
        fig = figures.weight_histograms(pd.concat([hist, hist.assign(dataset="mnist")]),
                                        two_sets)
        stairs = _bars(fig.axes[0])
        assert len(fig.axes) == 1 and len(stairs) == 2 * 2  # (start, end) per data set
        assert len({tuple(s.get_edgecolor()) for s in stairs}) == 2  # a colour per data set
        fig = figures.feature_correlation_within(heatmaps, cfg)
        assert _images(fig) == 1  # one heatmap (and its colour bar)
        fig = figures.feature_correlation_across(heatmaps, cfg)
        assert [t for t, _, _ in res.across_columns(cfg)] == [
            "kaiming_uniform vs pretrained", "trained vs retrained (sign_flip)"]
        assert _images(fig) == 2
        fig = figures.matched_correlation(res.feature_pairs(runs, results), perturbed)
        assert len(fig.axes) == 1 and len(_bars(fig.axes[0])) == 2  # the pair and the flip
        fig = figures.perturbation_distance(perturbed, cfg)
        (ax,) = fig.axes
        assert len(_bars(ax)) == 1 and len(ax.collections) == 1  # our bar, the report's x
    finally:
        plt.close("all")


def test_fresh_model_numbers_are_read_from_the_store_when_rendering():
    from initlab import store
    from initlab.studies.parameter_dynamics import fresh

    cfg = profiles.load(STUDY, "smoke")
    with pytest.raises(store.MissingRunError, match="initlab run 05_parameter_dynamics`"):
        fresh.load(cfg, train=False)  # a render never builds the full-width models itself
