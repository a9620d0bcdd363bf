"""Study 04's tables and figures on small hand-made frames (results.py, figures.py)."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch

from initlab.studies.baselines_transfer import figures, results

matplotlib.use("Agg")

VARIANTS = list(results.VARIANT_NAMES)


def summary_frame() -> pd.DataFrame:
    """Two baselines' gathered `summary` tables, with settings columns gather adds."""
    return pd.DataFrame(dict(
        model=["simple_cnn", "reduced_alexnet"], dataset=["digits", "cifar10"],
        parameters=[51202, 100034], train_images=[1438, 500], epochs=[3, 2],
        test_accuracy=[0.9, 0.625], best_val_accuracy=[0.95, 0.75],
        best_epoch=[3, 1], width=[0.25, 0.125], run=["a", "b"]))


def per_seed(values: dict[str, list[float]]) -> pd.DataFrame:
    """A gathered accuracy/embedding table: one row per (seed, variant), seeds 0, 1, ..."""
    rows = [dict(variant=v, accuracy=a, seed=seed) for v, accs in values.items()
            for seed, a in enumerate(accs)]
    return pd.DataFrame(rows).sample(frac=1.0, random_state=0)  # order must not matter


ACCURACY = {"scratch": [0.5, 0.7], "svm": [0.8, 0.8], "head": [0.6, 0.9], "head_aug": [1.0, 0.4]}


def test_baselines_keeps_the_reported_columns_in_percent():
    table = results.baselines(summary_frame())
    assert list(table.columns) == results.BASELINE_COLUMNS
    assert table.test_accuracy.tolist() == [90.0, 62.5]
    assert table.best_val_accuracy.tolist() == [95.0, 75.0]
    assert table.best_epoch.tolist() == [3, 1] and "seconds" not in table


def test_most_confused_and_its_words():
    confused = pd.DataFrame(dict(
        class_a=["1", "1", "0"], class_b=["8", "9", "2"], a_as_b=[0, 3, 0], b_as_a=[4, 1, 17],
        total=[4, 4, 17], model=["simple_cnn", "simple_cnn", "reduced_alexnet"],
        dataset=["digits"] * 3, seed=[0, 0, 0]))
    table = results.most_confused(confused)
    assert list(table.columns) == results.CONFUSED_COLUMNS
    assert table.total.tolist() == [4, 4, 17]
    assert results.confused_pairs(table) == (
        "**simple_cnn**, the two most confused pairs: 1 / 8 (4 images); 1 / 9 (4 images)\n\n"
        "**reduced_alexnet**, the two most confused pairs: 0 / 2 (17 images)")


def test_embedding_baselines_selects_the_probe_columns():
    frame = pd.DataFrame(dict(layer=["intermediate", "output"], dims=[32, 10],
                              accuracy=[0.8, 0.9], model="simple_cnn", dataset="digits",
                              perplexity=30.0))
    table = results.embedding_baselines(frame)
    assert list(table.columns) == ["model", "dataset", "layer", "dims", "accuracy"]
    assert table.accuracy.tolist() == [0.8, 0.9]


def test_beside_reported_summarizes_seeds_in_variant_order():
    table = results.beside_reported(per_seed(ACCURACY), results.REPORTED_TRANSFER)
    assert list(table.index) == list(results.VARIANT_NAMES.values())
    assert list(table.columns) == ["reported", "mean", "std", "count", "ours - reported"]
    for variant, name in results.VARIANT_NAMES.items():
        values = np.array(ACCURACY[variant])
        row = table.loc[name]
        assert row["mean"] == pytest.approx(values.mean())
        assert row["std"] == pytest.approx(values.std(ddof=1))
        assert row["count"] == 2 and row["reported"] == results.REPORTED_TRANSFER[variant]
        assert row["ours - reported"] == pytest.approx(values.mean() - row["reported"])
    assert table.loc["fine-tuned head + augmentation", "std"] == pytest.approx(0.6 / np.sqrt(2))


def test_reported_vs_ours_lists_every_reported_number():
    baselines = results.baselines(summary_frame())
    table1 = results.beside_reported(per_seed(ACCURACY), results.REPORTED_TRANSFER)
    probes = per_seed({v: [0.5, 0.6] for v in VARIANTS})
    table2 = results.beside_reported(probes, results.REPORTED_EMBEDDING)
    table = results.reported_vs_ours(baselines, table1, table2, "digits")
    assert len(table) == 2 + 4 + 4
    first = table.iloc[0]
    assert first.what == "simple_cnn: best validation accuracy (%)"
    assert (first.reported, first.reported_data, first.ours) == (99.01, "mnist", 95.0)
    assert (first.our_epoch, first.reported_epoch, first.our_data) == (3, 10, "digits")
    assert table.iloc[1].ours == 75.0 and table.iloc[1].reported_epoch == 14
    head = table[table.what == "transfer accuracy: fine-tuned head"].iloc[0]
    assert head.reported == 0.935 and head.ours == pytest.approx(0.75)
    probe = table[table.what == "t-SNE linear probe: from scratch"].iloc[0]
    assert probe.reported == 0.70 and probe.ours == pytest.approx(0.55)
    assert (table.iloc[2:].reported_data == "alien vs predator").all()
    assert table.iloc[2:].our_epoch.isna().all()


# --------------------------------------------------------------------------- figures


def baseline_result(classes: int, points: int, seed: int) -> dict:
    gen = torch.Generator().manual_seed(seed)
    return dict(classes=pd.DataFrame(dict(name=[str(c) for c in range(classes)])),
                confusion=torch.randint(0, 9, (classes, classes), generator=gen),
                tsne_labels=torch.arange(points) % classes,
                tsne_intermediate=torch.randn(points, 2, generator=gen),
                tsne_output=torch.randn(points, 2, generator=gen))


BASELINE_RUNS = [SimpleNamespace(model="simple_cnn", dataset="digits"),
                 SimpleNamespace(model="reduced_alexnet", dataset="digits")]


def curves_frame(facet: str, levels: list[str]) -> pd.DataFrame:
    rows = [dict(epoch=e, split=s, metric=m, value=0.1 * e, **{facet: level})
            for level in levels for m in ("loss", "accuracy") for s in ("train", "val")
            for e in (1, 2, 3)]
    return pd.DataFrame(rows)


def test_learning_curves_has_a_panel_per_model_and_metric_with_both_splits():
    fig = figures.learning_curves(curves_frame("model", ["simple_cnn", "reduced_alexnet"]), "t")
    assert len(fig.axes) == 4
    assert all(len(ax.lines) >= 2 for ax in fig.axes)  # train and val
    assert fig._suptitle.get_text() == "t"


def test_confusion_draws_one_heatmap_per_model():
    results_ = [baseline_result(3, 12, 0), baseline_result(3, 12, 1)]
    fig = figures.confusion(BASELINE_RUNS, results_)
    assert len(fig.axes) == 2
    assert [ax.get_title() for ax in fig.axes] == ["simple_cnn on digits",
                                                  "reduced_alexnet on digits"]
    assert len(fig.axes[0].texts) == 9  # one annotation per cell


def test_tsne_baselines_has_two_panels_per_model_titled_by_the_probe():
    embedding = pd.DataFrame(dict(model=["simple_cnn"] * 2 + ["reduced_alexnet"] * 2,
                                  layer=["intermediate", "output"] * 2, dims=[32, 10, 64, 10],
                                  accuracy=[0.81, 0.92, 0.63, 0.54]))
    results_ = [baseline_result(3, 12, 0), baseline_result(3, 12, 1)]
    fig = figures.tsne_baselines(BASELINE_RUNS, results_, embedding)
    assert len(fig.axes) == 4
    assert fig.axes[2].get_title() == "reduced_alexnet, intermediate (64-d): linear probe 0.63"
    assert all(len(ax.collections) == 1 for ax in fig.axes)


def test_transfer_accuracy_marks_the_reported_values():
    fig = figures.transfer_accuracy(per_seed(ACCURACY), "digits")
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == list(results.VARIANT_NAMES.values())
    reported = [c for c in ax.collections if c.get_label() == "reported"]
    assert len(reported) == 1 and len(reported[0].get_offsets()) == 4
    assert ax.get_title().startswith("Transfer on digits")


def test_transfer_curves_has_a_panel_per_metric_and_trained_variant():
    fig = figures.transfer_curves(curves_frame("variant", ["scratch", "head", "head_aug"]))
    assert len(fig.axes) == 2 * 3
    assert all(len(ax.lines) >= 2 for ax in fig.axes)


def test_tsne_transfer_has_a_panel_per_variant_with_the_seeds_probe():
    gen = torch.Generator().manual_seed(0)
    result = dict(task=pd.DataFrame(dict(classes=["3, 8"])), labels=torch.arange(10) % 2,
                  **{f"tsne_{v}": torch.randn(10, 2, generator=gen) for v in VARIANTS})
    probes = per_seed({v: [0.25, 0.75] for v in VARIANTS})
    fig = figures.tsne_transfer(SimpleNamespace(seed=1), result, probes)
    assert len(fig.axes) == 4
    assert fig.axes[0].get_title() == "from scratch\nlinear probe 0.75"
    assert fig.axes[-1].get_legend() is not None and fig.axes[0].get_legend() is None
