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
ACCURACY_DIGITS = 1
"""Accuracies and their differences are printed in % to one decimal (p-values to three)."""
PAIRED_DIGITS = {"difference": 1, "ci95_low": 1, "ci95_high": 1, "p_value": 3, "p_holm": 3}


def gather(settings_list: list, results: list[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    """The runs' tables across iterations (`accuracy`, `similarity`, `noisy_models`,
    `selection`), each row tagged with its run's settings (the seed pairs methods within an
    iteration)."""
    return {table: store.gather(settings_list, results, table)
            for table in ("accuracy", "similarity", "noisy_models", "selection")}


def original_in_effect(cfg: Any) -> str:
    """The settings of `cfg` that hold the original code's value (its class's `AS_RUN`), in
    words: what a reported-vs-ours row was computed under."""
    same = [f"{k}={getattr(cfg, k)}" for k, v in type(cfg).AS_RUN.items()
            if getattr(cfg, k) == v]
    return ", ".join(same) or "none"


def selection_summary(selection: pd.DataFrame) -> pd.DataFrame:
    """Per warm-start method: kernels chosen over all iterations, and the share (%) copied
    from a model of the chosen pair (the original's `select_filters` often copied from
    another model; initlab's default always copies from the pair)."""
    grouped = selection.groupby("method", sort=False)
    return pd.DataFrame(dict(kernels=grouped.size(),
                             from_the_pair=100 * grouped.member.mean())).reset_index()


def noisy_accuracy(noisy: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy (%) of the noisy models per noise: mean, sd, n (iterations), interval."""
    return tables.describe(noisy.assign(test_accuracy=100 * noisy.test_accuracy), ["noise"],
                           "test_accuracy")


def final_test_accuracy(accuracy: pd.DataFrame) -> pd.DataFrame:
    """The final test-accuracy rows of the warm-started runs, with `accuracy` in %."""
    return (accuracy.query("split == 'test' and metric == 'accuracy'")
            .assign(accuracy=lambda d: 100 * d.value))


def similarity_summary(similarity: pd.DataFrame) -> pd.DataFrame:
    """Per metric, aligned or not, and filter index: mean, sd, n and interval over iterations.

    The 15 pairs of one iteration share their six models, so they are not independent: each
    iteration's pairs are averaged first (`unit="seed"`) and n counts iterations."""
    return tables.describe(similarity, ["metric", "aligned", "filter"], "value", unit="seed")


def table1_similarity(summary: pd.DataFrame) -> pd.DataFrame:
    """Table 1 in the original's layout: one row per filter index, the mean and sd of each
    metric, raw then aligned (from `similarity_summary`), and n (iterations) per row."""
    label = summary.metric + summary.aligned.map({False: "", True: " aligned"})
    wide = summary.assign(label=label).set_index(["filter", "label"])[["mean", "sd"]].unstack()
    labels = list(dict.fromkeys(label))
    table = pd.DataFrame(index=wide.index)
    for name in labels:
        table[name], table[f"{name} sd"] = wide[("mean", name)], wide[("sd", name)]
    table["n"] = summary.groupby("filter").n.min()
    return table


def table2_accuracy(test_acc: pd.DataFrame, order: Sequence[str]) -> pd.DataFrame:
    """Table 2: test accuracy (%) per method in `order`: mean, sd, n (iterations), 95%
    interval (none where n < 3) and the best iteration (the original reports the max)."""
    table = tables.describe(test_acc, ["method"], "accuracy").set_index("method")
    table["max"] = test_acc.groupby("method").accuracy.max()
    return table.loc[list(order)]


def paired_vs_random(test_acc: pd.DataFrame, order: Sequence[str]) -> pd.DataFrame:
    """Each method minus random init within the same iteration (paired on the seed), with
    Holm's correction over every method tested: the iterations share the subset split and the
    batches, so pairing removes their common spread. Rows in `order` (random left out)."""
    paired = tables.paired_tests(test_acc, by="method", pair_on="seed", baseline="random",
                                 value="accuracy")
    return paired.set_index("method").loc[[m for m in order if m != "random"]].reset_index()


def paired_in_words(paired: pd.DataFrame, table2: pd.DataFrame, alpha: float = 0.05) -> str:
    """The paired comparison in one Markdown paragraph, every number from the tables."""
    random = table2.loc["random"]
    words = [f"Random init reached {random['mean']:.1f}% (n = {int(random.n)} iterations)."]
    if paired.p_holm.isna().all():
        return " ".join(words + ["With fewer than 3 iterations no difference is tested."])
    better = paired[(paired.p_holm < alpha) & (paired.difference > 0)]
    worse = paired[(paired.p_holm < alpha) & (paired.difference < 0)]
    for rows, how in ((better, "above"), (worse, "below")):
        listed = "; ".join(f"`{r.method}` {r.difference:+.1f} points (Holm p {_p(r.p_holm)})"
                           for r in rows.itertuples())
        words.append(f"Significantly {how} random (Holm-adjusted p < {alpha}): "
                     f"{listed or 'none'}.")
    return " ".join(words)


def _p(p: float) -> str:
    """A p-value for prose: "= 0.012", or "< 0.001" where three decimals would print 0."""
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def reported_vs_ours(table2: pd.DataFrame, order: Sequence[str], dataset: str,
                     as_run: bool = False, in_effect: str = "") -> pd.DataFrame:
    """The original Table 2 beside ours (methods in `order`), with ours minus reported mean.

    The original ran on MNIST; `dataset` is named in every row, as ours may differ. Every row
    also says under which settings ours were computed: `as_run` (the original code's
    behaviour throughout: the like-for-like row) and the settings holding the original's
    value (`original_in_effect`)."""
    reported = pd.DataFrame(REPORTED_ACCURACY,
                            index=["reported mean", "reported std", "reported max"]).T
    ours = table2[["mean", "sd", "max", "n"]].rename(columns=lambda c: f"ours {c}")
    rows = [m for m in order if m in reported.index or m in table2.index]
    comparison = reported.join(ours, how="outer").loc[rows]
    comparison["ours - reported (mean)"] = comparison["ours mean"] - comparison["reported mean"]
    comparison.insert(0, "data set", f"{dataset} (ours) / mnist (reported)")
    comparison.insert(1, "as_run", as_run)
    comparison.insert(2, "original's behaviour in effect", in_effect or "none")
    return comparison.rename_axis("method")
