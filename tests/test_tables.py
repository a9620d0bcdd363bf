"""Statistics every table uses, checked against brute force and scipy."""

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from initlab import tables


def test_holm_matches_the_step_down_definition():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.2, size=6)
    m = len(p)
    order = np.argsort(p)
    expected = np.empty(m)
    for rank, index in enumerate(order):  # brute force: max over the smaller p's of (m-j) p_j
        expected[index] = min(1.0, max((m - j) * p[order[j]] for j in range(rank + 1)))
    assert np.allclose(tables.holm(p), expected)
    assert np.allclose(tables.holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])


def test_holm_leaves_nan_out_of_the_family():
    adjusted = tables.holm([0.01, np.nan, 0.04])
    assert np.isnan(adjusted[1]) and np.allclose(adjusted[[0, 2]], [0.02, 0.04])


def test_describe_interval_is_scipys_t_interval_and_absent_below_three():
    frame = pd.DataFrame({"g": ["a"] * 5 + ["b"] * 2, "value": [1.0, 2, 4, 3, 7, 5, 6]})
    table = tables.describe(frame, ["g"]).set_index("g")
    a = frame.value[:5]
    low, high = stats.t.interval(0.95, 4, loc=a.mean(), scale=stats.sem(a))
    assert table.loc["a", "n"] == 5 and np.isclose(table.loc["a", "sd"], a.std(ddof=1))
    assert np.isclose(table.loc["a", "ci95_low"], low)
    assert np.isclose(table.loc["a", "ci95_high"], high)
    assert table.loc["b", "n"] == 2 and np.isnan(table.loc["b", "ci95_low"])


def test_describe_counts_units_not_rows():
    rows = [{"task": t, "seed": s, "value": 10 * t + s}
            for t, s in itertools.product(range(4), range(5))]
    table = tables.describe(pd.DataFrame(rows).assign(g="x"), ["g"], unit="task")
    assert table.n.item() == 4 and np.isclose(table["mean"].item(), 17.0)
    assert np.isclose(table.sd.item(), np.std([2, 12, 22, 32], ddof=1))


def test_paired_tests_match_scipy_paired_t_and_unit_averaging():
    rng = np.random.default_rng(1)
    rows = []
    for task, seed in itertools.product(range(4), range(3)):
        base = rng.normal()
        rows += [{"task": task, "seed": seed, "init": "random", "value": base},
                 {"task": task, "seed": seed, "init": "a", "value": base + 0.5 + rng.normal(0, .1)},
                 {"task": task, "seed": seed, "init": "b", "value": base + rng.normal(0, .1)}]
    frame = pd.DataFrame(rows)
    table = tables.paired_tests(frame, "init", ["task", "seed"], "random").set_index("init")
    wide = frame.pivot_table(index=["task", "seed"], columns="init", values="value")
    assert np.isclose(table.loc["a", "p_value"], stats.ttest_rel(wide.a, wide.random).pvalue)
    assert table.loc["a", "n"] == 12
    assert np.allclose(table.p_holm, tables.holm(table.p_value))
    by_task = tables.paired_tests(frame, "init", ["task", "seed"], "random", unit="task")
    per_task = (wide.a - wide.random).groupby(level="task").mean()
    assert by_task.set_index("init").loc["a", "n"] == 4
    assert np.isclose(by_task.set_index("init").loc["a", "p_value"],
                      stats.ttest_1samp(per_task, 0).pvalue)


def test_paired_tests_names_a_missing_baseline():
    frame = pd.DataFrame({"init": ["a", "b"], "seed": [0, 0], "value": [1.0, 2.0]})
    with pytest.raises(ValueError, match="baseline 'kaiming'"):
        tables.paired_tests(frame, "init", "seed", "kaiming")


def test_markdown_rounds_per_column():
    frame = pd.DataFrame({"init": ["a"], "accuracy": [61.2345], "p_value": [0.01234]})
    md = tables.to_markdown(frame, {"accuracy": 1})
    assert "| a | 61.2 | 0.012 |" in md


def test_markdown_says_why_an_interval_is_blank_only_where_n_is_under_three():
    small = pd.DataFrame({"init": ["a", "b"], "n": [2, 5], "mean": [1.0, 2.0],
                          "ci95_low": [np.nan, 1.5], "ci95_high": [np.nan, 2.5]})
    md = tables.to_markdown(small)
    assert md.splitlines()[-1] == tables.SMALL_N_NOTE
    assert md.splitlines()[-2] == ""  # its own paragraph, not a table row
    complete = small.assign(n=[3, 5], ci95_low=[0.5, 1.5], ci95_high=[1.5, 2.5])
    assert tables.SMALL_N_NOTE not in tables.to_markdown(complete)
    pooled = small.assign(n=[4, 5])  # blank for another reason (a pooled value): no note
    assert tables.SMALL_N_NOTE not in tables.to_markdown(pooled)
    paired = pd.DataFrame({"init": ["a"], "pairs": [2], "difference_low": [np.nan]})
    assert tables.SMALL_N_NOTE in tables.to_markdown(paired)
    tested = paired.assign(p_value=[np.nan])
    assert tables.to_markdown(tested).splitlines()[-1] == (
        "Blank interval and p-value cells: fewer than 3 independent units (n < 3), too few "
        "for a 95% t-interval (with 2 its half-width is 12.7 standard errors).")
    other = pd.DataFrame({"ours_ci95": [np.nan], "ours_n": [1]})  # study 02's names
    assert tables.SMALL_N_NOTE in tables.to_markdown(other)
    assert tables.SMALL_N_NOTE not in tables.to_markdown(small.drop(columns="n"))


def test_the_note_follows_a_table_described_from_two_seeds(tmp_path):
    frame = pd.DataFrame({"init": ["a"] * 2 + ["b"] * 3, "value": [1.0, 2.0, 1.0, 2.0, 3.0]})
    _, md = tables.save(tables.describe(frame, ["init"]), "t", tmp_path)
    assert md.read_text().rstrip().endswith(tables.SMALL_N_NOTE)
