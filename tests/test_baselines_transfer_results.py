"""Study 04's tables and figures on small hand-made frames (results.py, figures.py)."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from initlab import tables
from initlab.studies.baselines_transfer import figures, results

matplotlib.use("Agg")

VARIANTS = list(results.VARIANT_NAMES)


def summary_frame(seeds: int = 1) -> pd.DataFrame:
    """Two baselines' gathered `summary` tables under `seeds` seeds (seed s adds s points to
    both accuracies), with settings columns gather adds."""
    return pd.concat([pd.DataFrame(dict(
        model=["simple_cnn", "reduced_alexnet"], dataset=["digits", "cifar10"],
        parameters=[51202, 100034], train_images=[1438, 500], epochs=[3, 2],
        test_accuracy=[0.9 + s / 100, 0.625 + s / 100],
        best_val_accuracy=[0.95 + s / 100, 0.75 + s / 100], best_epoch=[3, 1 + s],
        width=[0.25, 0.125], run=["a", "b"], seed=s)) for s in range(seeds)],
        ignore_index=True)


def per_seed(values: dict[str, list[float]]) -> pd.DataFrame:
    """A gathered accuracy/embedding table: one row per (seed, variant), seeds 0, 1, ..."""
    rows = [dict(variant=v, accuracy=a, seed=seed) for v, accs in values.items()
            for seed, a in enumerate(accs)]
    return pd.DataFrame(rows).sample(frac=1.0, random_state=0)  # order must not matter


ACCURACY = {"scratch": [50.0, 70.0], "svm": [80.0, 80.0], "head": [60.0, 90.0],
            "head_aug": [100.0, 40.0]}
# Three seeds, paired: svm beats scratch by 20 to 22 points, head by 1 to 9, head_aug swings.
PAIRED = {"scratch": [50.0, 60.0, 70.0], "svm": [70.0, 81.0, 92.0], "head": [51.0, 65.0, 79.0],
          "head_aug": [90.0, 40.0, 75.0]}


def test_baselines_keeps_the_reported_columns_in_percent():
    table = results.baselines(summary_frame())
    assert list(table.columns) == results.BASELINE_COLUMNS
    assert table.test_accuracy.tolist() == [90.0, 62.5]
    assert table.best_val_accuracy.tolist() == [95.0, 75.0]
    assert table.best_epoch.tolist() == [3, 1] and "seconds" not in table


def test_describe_baselines_is_over_seeds_per_model_and_measure():
    table = results.describe_baselines(results.baselines(summary_frame(3)))
    assert table[["model", "measure"]].values.tolist() == [
        ["simple_cnn", "test accuracy, last epoch"], ["simple_cnn", "best validation accuracy"],
        ["reduced_alexnet", "test accuracy, last epoch"],
        ["reduced_alexnet", "best validation accuracy"]]
    assert (table.n == 3).all() and table.ci95_low.notna().all()
    np.testing.assert_allclose(table["mean"], [91.0, 96.0, 63.5, 76.0])
    np.testing.assert_allclose(table.sd, 1.0)
    two = results.describe_baselines(results.baselines(summary_frame(2)))
    assert (two.n == 2).all() and two.ci95_low.isna().all() and two.ci95_high.isna().all()


def test_describe_embedding_and_the_probe_in_percent():
    embedding = pd.DataFrame(dict(model="simple_cnn", dataset="digits", seed=[0, 0, 1, 1, 2, 2],
                                  layer=["intermediate", "output"] * 3, dims=[32, 10] * 3,
                                  accuracy=[0.8, 0.9, 0.7, 0.9, 0.9, 0.9], perplexity=30.0))
    per_seed_ = results.embedding_baselines(embedding)
    assert list(per_seed_.columns) == results.EMBEDDING_COLUMNS
    np.testing.assert_allclose(per_seed_.accuracy, [80.0, 90.0, 70.0, 90.0, 90.0, 90.0])
    table = results.describe_embedding(per_seed_)
    assert table.layer.tolist() == ["intermediate", "output"] and table.n.tolist() == [3, 3]
    np.testing.assert_allclose(table["mean"], [80.0, 90.0])


def test_most_confused_and_its_words():
    confused = pd.DataFrame(dict(
        class_a=["1", "1", "0"], class_b=["8", "9", "2"], a_as_b=[0, 3, 0], b_as_a=[4, 1, 17],
        total=[4, 4, 17], model=["simple_cnn", "simple_cnn", "reduced_alexnet"],
        dataset=["digits"] * 3, seed=[0, 0, 1]))
    table = results.most_confused(confused)
    assert list(table.columns) == results.CONFUSED_COLUMNS
    assert table.total.tolist() == [4, 4, 17]
    assert results.confused_pairs(table) == (
        "**simple_cnn** (seed 0), the two most confused pairs: 1 / 8 (4 images); 1 / 9 "
        "(4 images)\n\n**reduced_alexnet** (seed 1), the two most confused pairs: 0 / 2 "
        "(17 images)")


def test_percent_scales_only_the_named_column():
    frame = pd.DataFrame(dict(accuracy=[0.5, 0.125], seed=[0, 1]))
    assert results.percent(frame).accuracy.tolist() == [50.0, 12.5]
    assert results.percent(frame).seed.tolist() == [0, 1] and frame.accuracy.tolist()[0] == 0.5


def test_beside_reported_describes_seeds_in_variant_order():
    table = results.beside_reported(per_seed(ACCURACY), results.REPORTED_TRANSFER)
    assert list(table.index) == list(results.VARIANT_NAMES.values())
    assert list(table.columns) == ["reported", "mean", "sd", "n", "ci95_low", "ci95_high",
                                   "ours - reported"]
    for variant, name in results.VARIANT_NAMES.items():
        values = np.array(ACCURACY[variant])
        row = table.loc[name]
        assert row["mean"] == pytest.approx(values.mean())
        assert row["sd"] == pytest.approx(values.std(ddof=1))
        assert row["n"] == 2 and row["reported"] == results.REPORTED_TRANSFER[variant]
        assert row["ours - reported"] == pytest.approx(values.mean() - row["reported"])
        assert np.isnan(row.ci95_low) and np.isnan(row.ci95_high)  # no interval for n < 3
    assert table.loc["fine-tuned head + augmentation", "sd"] == pytest.approx(60 / np.sqrt(2))
    assert results.REPORTED_TRANSFER["head"] == 93.5  # the original's 0.935, in percent
    printed = tables.to_markdown(table, results.DIGITS)
    assert "| from scratch | 72.0 | 60.0 | 14.1 | 2 |  |  | -12.0 |" in printed


def test_paired_vs_baseline_tests_each_variant_against_scratch_with_holm():
    paired = results.paired_vs_baseline(per_seed(PAIRED))
    assert results.BASELINE_VARIANT == "scratch"
    assert paired.variant.tolist() == [results.VARIANT_NAMES[v] for v in ("svm", "head",
                                                                          "head_aug")]
    for row, variant in zip(paired.itertuples(), ("svm", "head", "head_aug")):
        diffs = np.array(PAIRED[variant]) - np.array(PAIRED["scratch"])
        assert row.difference == pytest.approx(diffs.mean()) and row.n == 3
        assert row.p_value == pytest.approx(stats.ttest_1samp(diffs, 0.0).pvalue)
    np.testing.assert_allclose(paired.p_holm, tables.holm(paired.p_value))
    assert paired.p_holm.iloc[0] == pytest.approx(3 * paired.p_value.iloc[0])


def test_paired_in_words_uses_the_tables_numbers():
    paired = results.paired_vs_baseline(per_seed(PAIRED))
    words = results.paired_in_words(paired).splitlines()
    p = paired.p_holm.iloc[0]
    assert words[0] == (f"- frozen backbone + linear SVM: +21.0 points against from scratch "
                        f"(n = 3 seeds, Holm-adjusted p = {p:.3f}, significant at 0.05)")
    assert words[2].endswith("not significant at 0.05)")
    few = results.paired_in_words(results.paired_vs_baseline(per_seed(ACCURACY)))
    assert few.splitlines()[0] == ("- frozen backbone + linear SVM: +20.0 points against from "
                                   "scratch (n = 2 seeds, too few to test)")


def test_reported_vs_ours_lists_every_reported_number():
    baselines = results.baselines(summary_frame(2))
    table1 = results.beside_reported(per_seed(ACCURACY), results.REPORTED_TRANSFER)
    probes = per_seed({v: [50.0, 60.0] for v in VARIANTS})
    table2 = results.beside_reported(probes, results.REPORTED_EMBEDDING)
    table = results.reported_vs_ours(baselines, table1, table2, "digits")
    assert len(table) == 2 + 4 + 4 and (table.n == 2).all()
    first = table.iloc[0]
    assert first.what == "simple_cnn: best validation accuracy"
    assert (first.reported, first.reported_data, first.ours) == (99.01, "mnist", 95.5)
    assert (first.our_epochs, first.reported_epoch, first.our_data) == ("3, 3", "10", "digits")
    assert table.iloc[1].ours == pytest.approx(75.5) and table.iloc[1].our_epochs == "1, 2"
    head = table[table.what == "transfer accuracy: fine-tuned head"].iloc[0]
    assert head.reported == 93.5 and head.ours == pytest.approx(75.0)
    probe = table[table.what == "t-SNE linear probe: from scratch"].iloc[0]
    assert probe.reported == 70.0 and probe.ours == pytest.approx(55.0)
    assert (table.iloc[2:].reported_data == "alien vs predator").all()
    assert (table.iloc[2:].our_epochs == "").all()
    assert not table.as_run.any() and set(table["original's behaviour in effect"]) == {"none"}
    assert set(table.interval) == {"seeds (t)"} and table.ours_low.isna().all()  # n = 2
    as_run = results.reported_vs_ours(baselines, table1, table2, "digits", True,
                                      "alexnet_dropout2=0.0")
    assert as_run.as_run.all() and list(as_run.columns[:3]) == [
        "what", "as_run", "original's behaviour in effect"]
    three = results.reported_vs_ours(results.baselines(summary_frame(3)), table1, table2, "d")
    values = 100 * (0.95 + np.arange(3) / 100)
    half = stats.t.ppf(0.975, 2) * values.std(ddof=1) / np.sqrt(3)
    assert three.iloc[0].ours_low == pytest.approx(values.mean() - half)


# --------------------------------------------------------------------------- figures


def baseline_result(classes: int, points: int, seed: int) -> dict:
    gen = torch.Generator().manual_seed(seed)
    return dict(classes=pd.DataFrame(dict(name=[str(c) for c in range(classes)])),
                confusion=torch.randint(0, 9, (classes, classes), generator=gen),
                tsne_labels=torch.arange(points) % classes,
                tsne_intermediate=torch.randn(points, 2, generator=gen),
                tsne_output=torch.randn(points, 2, generator=gen))


BASELINE_RUNS = [SimpleNamespace(model="simple_cnn", dataset="digits", seed=0),
                 SimpleNamespace(model="reduced_alexnet", dataset="digits", seed=0)]


def curves_frame(facet: str, levels: list[str]) -> pd.DataFrame:
    rows = [dict(epoch=e, split=s, metric=m, value=0.1 * e + seed, seed=seed, **{facet: level})
            for level in levels for m in ("loss", "accuracy") for s in ("train", "val")
            for e in (1, 2, 3) for seed in (0, 1)]
    return pd.DataFrame(rows)


def test_learning_curves_draw_every_seed_of_each_split_in_its_panel():
    fig = figures.learning_curves(curves_frame("model", ["simple_cnn", "reduced_alexnet"]), "t")
    assert len(fig.axes) == 4
    for ax in fig.axes:
        drawn = [line for line in ax.lines if len(line.get_xdata()) == 3]
        assert len(drawn) == 4  # train and val, two seeds each: lines, not a mean
        scale = 100 if "accuracy" in ax.get_title() else 1  # accuracy is drawn in %
        assert sorted(line.get_ydata()[0] for line in drawn) == pytest.approx(
            [0.1 * scale, 0.1 * scale, 1.1 * scale, 1.1 * scale])
    assert fig._suptitle.get_text() == "t"


def test_baseline_seeds_has_a_panel_per_model_with_every_seed():
    accuracy = results.baseline_accuracy(results.baselines(summary_frame(3).assign(
        dataset=["mnist", "cifar100"] * 3)))
    fig = figures.baseline_seeds(accuracy)
    assert [ax.get_title() for ax in fig.axes] == ["simple_cnn on mnist (3 seeds)",
                                                  "reduced_alexnet on cifar100 (3 seeds)"]
    ax = fig.axes[0]
    seeds = [c.get_offsets()[:, 1] for c in ax.collections if len(c.get_offsets()) == 3]
    np.testing.assert_allclose(sorted(np.concatenate(seeds)), [90, 91, 92, 95, 96, 97])
    reported = [c for c in ax.collections if c.get_label() == "reported"]
    assert len(reported) == 1 and reported[0].get_offsets()[0].tolist() == [1, 99.01]
    assert not [c for c in fig.axes[1].collections if c.get_label() == "reported"]
    bars = [c for c in ax.collections if type(c).__name__ == "LineCollection"]
    low, high = bars[0].get_segments()[0][:, 1]  # the first measure's 95% t-interval
    half = stats.t.ppf(0.975, 2) / np.sqrt(3)  # sd 1 over 3 seeds
    assert (low, high) == (pytest.approx(91 - half), pytest.approx(91 + half))


def test_baseline_seeds_draws_no_interval_below_three_seeds():
    fig = figures.baseline_seeds(results.baseline_accuracy(results.baselines(summary_frame(2))))
    for ax in fig.axes:
        assert not [c for c in ax.collections if type(c).__name__ == "LineCollection"]
        reported = ax is fig.axes[1]  # AlexNet on cifar10, the original's data set
        assert sum(len(c.get_offsets()) for c in ax.collections) == 2 * 2 + reported


def test_confusion_draws_one_heatmap_per_model():
    results_ = [baseline_result(3, 12, 0), baseline_result(3, 12, 1)]
    fig = figures.confusion(BASELINE_RUNS, results_)
    assert len(fig.axes) == 2
    assert [ax.get_title() for ax in fig.axes] == ["simple_cnn on digits",
                                                  "reduced_alexnet on digits"]
    assert len(fig.axes[0].texts) == 9  # one annotation per cell


def test_tsne_baselines_has_two_panels_per_model_titled_by_the_probe_of_its_seed():
    embedding = pd.DataFrame(dict(model=["simple_cnn"] * 2 + ["reduced_alexnet"] * 2,
                                  layer=["intermediate", "output"] * 2, dims=[32, 10, 64, 10],
                                  accuracy=[81.0, 92.0, 63.0, 54.0], seed=0))
    other_seed = embedding.assign(seed=1, accuracy=0.0)
    results_ = [baseline_result(3, 12, 0), baseline_result(3, 12, 1)]
    fig = figures.tsne_baselines(BASELINE_RUNS, results_, pd.concat([other_seed, embedding]))
    assert len(fig.axes) == 4
    assert fig.axes[2].get_title() == "reduced_alexnet, intermediate (64-d): linear probe 63.0%"
    assert all(len(ax.collections) == 1 for ax in fig.axes)


def test_transfer_accuracy_marks_the_reported_values():
    fig = figures.transfer_accuracy(per_seed(ACCURACY), "digits")
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == list(results.VARIANT_NAMES.values())
    reported = [c for c in ax.collections if c.get_label() == "reported"]
    assert len(reported) == 1 and len(reported[0].get_offsets()) == 4
    assert reported[0].get_offsets()[:, 1].tolist() == [72.0, 90.5, 93.5, 95.0]  # percent
    assert ax.get_title().startswith("Transfer on digits") and "%" in ax.get_ylabel()


def test_transfer_curves_has_a_panel_per_metric_and_trained_variant():
    fig = figures.transfer_curves(curves_frame("variant", ["scratch", "head", "head_aug"]))
    assert len(fig.axes) == 2 * 3
    assert all(len(ax.lines) >= 2 for ax in fig.axes)


def test_tsne_transfer_has_a_panel_per_variant_with_the_seeds_probe():
    gen = torch.Generator().manual_seed(0)
    result = dict(task=pd.DataFrame(dict(classes=["3, 8"])), labels=torch.arange(10) % 2,
                  **{f"tsne_{v}": torch.randn(10, 2, generator=gen) for v in VARIANTS})
    probes = per_seed({v: [25.0, 75.0] for v in VARIANTS})
    probes["features"] = probes.variant.map(lambda v: "svm" if v.startswith("head") else v)
    fig = figures.tsne_transfer(SimpleNamespace(seed=1), result, probes)
    assert len(fig.axes) == 4
    assert fig.axes[0].get_title() == "from scratch\nlinear probe 75.0%"
    assert fig.axes[2].get_title() == "fine-tuned head\nlinear probe 75.0% (the svm features)"
    assert fig.axes[-1].get_legend() is not None and fig.axes[0].get_legend() is None


def test_paired_in_words_never_prints_a_p_value_of_zero():
    paired = pd.DataFrame(dict(variant=["fine-tuned head"], difference=[-11.25], n=[5],
                               p_holm=[0.00004]))
    assert results.paired_in_words(paired) == (
        "- fine-tuned head: -11.2 points against from scratch (n = 5 seeds, Holm-adjusted "
        "p < 0.001, significant at 0.05)")
