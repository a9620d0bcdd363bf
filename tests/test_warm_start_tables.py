"""Study 01's statistics: similarity averaged within an iteration before n counts iterations,
accuracy tables with n and no interval where n < 3, Holm over the methods tested against
random, prose numbers taken from the tables, and the precision setting reaching the recipe."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from initlab import profiles, store, tables
from initlab.studies.warm_start import results
from initlab.studies.warm_start.settings import WarmStartSettings

# Final test accuracy (%) per seed and method: paired on the seed, `cosine` gains 4 to 6
# points on every seed, `pearson` swings by 10 to 30 either way, `frobenius` barely moves.
ACCURACY = {"random": [50.0, 70.0, 90.0, 60.0], "cosine": [55.0, 74.0, 96.0, 65.0],
            "pearson": [40.0, 80.0, 60.0, 90.0], "frobenius": [51.0, 69.0, 91.0, 58.0]}
ORDER = ["random", "cosine", "pearson", "frobenius"]


def accuracy_table(seeds: int = 4) -> pd.DataFrame:
    """Rows as `results.final_test_accuracy` returns them, shuffled (order must not matter)."""
    rows = [dict(method=m, seed=s, accuracy=values[s]) for m, values in ACCURACY.items()
            for s in range(seeds)]
    return pd.DataFrame(rows).sample(frac=1.0, random_state=1)


def similarity(iterations: int) -> pd.DataFrame:
    """Three pairs per (iteration, metric, aligned, filter); iteration s adds 0.1 * s."""
    rows = [dict(seed=s, metric=m, aligned=a, filter=f, model_a=0, model_b=p + 1,
                 value=0.1 * s + 0.01 * p + (1.0 if m == "frobenius" else 0.0) + 0.02 * f)
            for s in range(iterations) for m in ("cosine", "frobenius") for a in (False, True)
            for f in range(2) for p in range(3)]
    return pd.DataFrame(rows)


def test_similarity_summary_averages_the_pairs_of_an_iteration_first():
    summary = results.similarity_summary(similarity(4))
    row = summary[(summary.metric == "cosine") & ~summary.aligned & (summary["filter"] == 1)]
    per_iteration = 0.1 * np.arange(4) + 0.01 + 0.02  # the mean of pairs 0, 1, 2 is pair 1
    assert row.n.item() == 4  # iterations, not 4 x 3 pair rows
    assert row["mean"].item() == pytest.approx(per_iteration.mean())
    assert row.sd.item() == pytest.approx(per_iteration.std(ddof=1))
    half = stats.t.ppf(0.975, 3) * per_iteration.std(ddof=1) / 2
    assert row.ci95_high.item() == pytest.approx(per_iteration.mean() + half)


def test_table1_is_one_row_per_filter_raw_then_aligned_with_n():
    table = results.table1_similarity(results.similarity_summary(similarity(2)))
    assert table.columns.tolist() == [
        "cosine", "cosine sd", "cosine aligned", "cosine aligned sd", "frobenius",
        "frobenius sd", "frobenius aligned", "frobenius aligned sd", "n"]
    assert table.index.tolist() == [0, 1] and table.n.tolist() == [2, 2]
    assert table.loc[0, "frobenius"] == pytest.approx(1.0 + 0.05 + 0.01)
    assert table.loc[1, "cosine sd"] == pytest.approx(np.std([0.03, 0.13], ddof=1))


def test_table2_has_n_max_and_no_interval_below_three_iterations():
    three = results.table2_accuracy(accuracy_table(3), ORDER)
    assert three.index.tolist() == ORDER
    assert three.columns.tolist() == ["mean", "sd", "n", "ci95_low", "ci95_high", "max"]
    assert three.loc["random"].tolist()[:3] == [70.0, 20.0, 3]
    assert three.loc["pearson", "max"] == 80.0 and three.ci95_low.notna().all()
    two = results.table2_accuracy(accuracy_table(2), ORDER[::-1])
    assert two.index.tolist() == ORDER[::-1] and (two.n == 2).all()
    assert two.ci95_low.isna().all() and two.ci95_high.isna().all()
    printed = tables.to_markdown(two, results.ACCURACY_DIGITS)
    assert "| random | 60.0 | 14.1 | 2 |  |  | 70.0 |" in printed  # one decimal, blank CI


def test_paired_vs_random_is_holm_corrected_over_every_method():
    paired = results.paired_vs_random(accuracy_table(), ORDER)
    assert paired.method.tolist() == ["cosine", "pearson", "frobenius"]
    for row, method in zip(paired.itertuples(), paired.method):
        diffs = np.array(ACCURACY[method]) - np.array(ACCURACY["random"])
        half = stats.t.ppf(0.975, 3) * diffs.std(ddof=1) / 2
        assert row.difference == pytest.approx(diffs.mean()) and row.n == 4
        assert row.ci95_low == pytest.approx(diffs.mean() - half)
        assert row.p_value == pytest.approx(stats.ttest_1samp(diffs, 0.0).pvalue)
    np.testing.assert_allclose(paired.p_holm, tables.holm(paired.p_value))
    assert paired.p_holm.iloc[0] == pytest.approx(3 * paired.p_value.iloc[0])  # smallest of 3


def test_paired_in_words_prints_the_tables_numbers():
    table2 = results.table2_accuracy(accuracy_table(), ORDER)
    paired = results.paired_vs_random(accuracy_table(), ORDER)
    words = results.paired_in_words(paired, table2)
    p = paired.p_holm.iloc[0]
    assert words.startswith("Random init reached 67.5% (n = 4 iterations).")
    assert f"above random (Holm-adjusted p < 0.05): `cosine` +5.0 points (Holm p = {p:.3f})." \
        in words and p < 0.05
    assert "below random (Holm-adjusted p < 0.05): none." in words
    few = results.paired_vs_random(accuracy_table(2), ORDER)
    assert "no difference is tested" in results.paired_in_words(
        few, results.table2_accuracy(accuracy_table(2), ORDER))


def test_reported_vs_ours_carries_n():
    table2 = results.table2_accuracy(accuracy_table(), ORDER)
    table = results.reported_vs_ours(table2, ORDER, "fashion_mnist", True, "corrupt=False")
    assert table["as_run"].all() and set(table["original's behaviour in effect"]) == {
        "corrupt=False"}
    assert table.columns.tolist() == [
        "data set", "as_run", "original's behaviour in effect", "reported mean",
        "reported std", "reported max", "ours mean", "ours sd",
        "ours max", "ours n", "ours - reported (mean)"]
    assert table["ours n"].tolist() == [4, 4, 4, 4]  # random, cosine, pearson, frobenius
    assert table.loc["random", "ours - reported (mean)"] == pytest.approx(67.5 - 94.62)


def test_precision_is_a_checked_setting_that_reaches_the_recipe_and_names_a_run():
    cfg = profiles.load("01_warm_start", "smoke")
    assert cfg.precision == "float32" and cfg.recipe().precision == "float32"
    assert cfg.recipe(cfg.source_epochs).precision == "float32"
    bf16 = dataclasses.replace(cfg, precision="bf16")
    assert bf16.recipe().precision == "bf16"
    assert store.run_name(bf16) != store.run_name(cfg)
    assert store.run_name(dataclasses.replace(bf16, precision="float32")) == store.run_name(cfg)
    with pytest.raises(ValueError, match="precision"):
        WarmStartSettings(precision="fp8")
    assert profiles.load("01_warm_start", "smoke", precision="auto").precision == "auto"
    assert {p: profiles.load("01_warm_start", p).precision for p in profiles.PROFILES} == {
        "smoke": "float32", "quick": "float32", "paper": "float32"}


def test_paired_in_words_never_prints_a_p_value_of_zero():
    paired = pd.DataFrame(dict(method=["cosine"], difference=[-2.0], n=[10], p_holm=[2e-5]))
    table2 = results.table2_accuracy(accuracy_table(), ORDER)
    assert "below random (Holm-adjusted p < 0.05): `cosine` -2.0 points (Holm p < 0.001)." in (
        results.paired_in_words(paired, table2))
