"""Study 01's tables, from stored runs only: pure functions of the runs' DataFrames.

Nothing here trains or reads the store; the notebook gets the runs from `runs.run_all` and
hands their frames in. The reported numbers of the original (docs/01_warm_start.md) live here
too, beside the table that compares them with ours.
"""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from initlab import store, tables

# The original report (Table 2, 10 iterations, MNIST test accuracy in %): mean, std, max.
REPORTED_ACCURACY: dict[str, tuple[float, float, float]] = {
    "cosine": (91.143, 5.329, 94.98),
    "frobenius": (92.843, 3.113, 95.44),
    "pearson": (94.09, 7.624, 94.83),
    "random": (94.62, 1.865, 95.9),
}
# The original Table 1: range over the 10 filters of the mean similarity per metric.
REPORTED_SIMILARITY_RANGE: dict[str, tuple[float, float]] = {
    "cosine": (0.315, 0.392), "pearson": (0.290, 0.378), "frobenius": (1.16, 1.76)}


def gather(settings_list: list, results: list[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    """The runs' three tables across iterations (`accuracy`, `similarity`, `noisy_models`),
    each row tagged with its run's settings (the seed pairs methods within an iteration)."""
    return {table: store.gather(settings_list, results, table)
            for table in ("accuracy", "similarity", "noisy_models")}


def noisy_accuracy(noisy: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy (%) of the six noisy models per noise: mean, std, max, count."""
    return tables.summarize(noisy.assign(test_accuracy=100 * noisy.test_accuracy), ["noise"],
                            "test_accuracy")


def final_test_accuracy(accuracy: pd.DataFrame) -> pd.DataFrame:
    """The final test-accuracy rows of the warm-started runs, with `accuracy` in %."""
    return (accuracy.query("split == 'test' and metric == 'accuracy'")
            .assign(accuracy=lambda d: 100 * d.value))


def table1_similarity(similarity: pd.DataFrame) -> pd.DataFrame:
    """Table 1: 'mean (std)' similarity per filter index (rows) and metric, raw then aligned
    (columns), over every model pair and iteration, the layout of the original table."""
    table = tables.mean_std(similarity, ["filter", "metric", "aligned"]).unstack(
        ["metric", "aligned"])
    table.columns = [f"{m}{' (aligned)' if a else ''}" for m, a in table.columns]
    return table


def table2_accuracy(test_acc: pd.DataFrame, order: Sequence[str]) -> pd.DataFrame:
    """Table 2: test accuracy (%) per method in `order`: mean, std, max and count over
    iterations."""
    return tables.summarize(test_acc, ["method"], "accuracy").set_index("method").loc[list(order)]


def paired_vs_random(test_acc: pd.DataFrame) -> pd.DataFrame:
    """Each method minus random init within the same iteration (paired on the seed): the
    iterations share the subset split and batches, so pairing removes their common spread."""
    return tables.paired_difference(test_acc, by="method", pair_on="seed", baseline="random",
                                    value="accuracy")


def reported_vs_ours(table2: pd.DataFrame, order: Sequence[str], dataset: str) -> pd.DataFrame:
    """The original Table 2 beside ours (methods in `order`), with ours minus reported mean.

    The original ran on MNIST; `dataset` is named in every row, as ours may differ."""
    reported = pd.DataFrame(REPORTED_ACCURACY,
                            index=["reported mean", "reported std", "reported max"]).T
    ours = table2[["mean", "std", "max", "count"]].rename(columns=lambda c: f"ours {c}")
    rows = [m for m in order if m in reported.index or m in table2.index]
    comparison = reported.join(ours, how="outer").loc[rows]
    comparison["ours - reported (mean)"] = comparison["ours mean"] - comparison["reported mean"]
    comparison.insert(0, "data set", f"{dataset} (ours) / mnist (reported)")
    return comparison.rename_axis("method")
