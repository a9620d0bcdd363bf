"""Tables as DataFrames first, written as CSV (to reuse) and Markdown (to read)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

Digits = int | Mapping[str, int]


def to_markdown(frame: pd.DataFrame, digits: Digits = 3) -> str:
    """A GitHub-flavoured Markdown table (pandas' own needs the optional `tabulate`).

    `digits` is one count for every float column or a mapping column -> count (others: 3), so
    each number is rounded to what its spread supports (accuracies in % to one decimal).
    """
    def cell(value, column) -> str:
        places = digits.get(column, 3) if isinstance(digits, Mapping) else digits
        if isinstance(value, (float, np.floating)):
            return "" if np.isnan(value) else f"{value:.{places}f}"
        return str(value)

    frame = frame.reset_index() if _has_named_index(frame) else frame
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    body = ["| " + " | ".join(cell(v, c) for v, c in zip(row, frame.columns)) + " |"
            for row in frame.itertuples(index=False)]
    note = [f"\n{small_n_note(frame)}"] if blank_for_small_n(frame) else []
    return "\n".join([header, rule, *body, *note]) + "\n"


SMALL_N_NOTE = ("Blank interval cells: fewer than 3 independent units (n < 3), too few for a "
                "95% t-interval (with 2 its half-width is 12.7 standard errors).")


def small_n_note(frame: pd.DataFrame) -> str:
    """The note, naming the p-value cells too where the table has them (blank for the same
    reason: `paired_tests` gives no p under 3 pairs)."""
    if any(_named(c, lambda n: n.startswith("p_")) for c in frame.columns):
        return SMALL_N_NOTE.replace("interval cells", "interval and p-value cells", 1)
    return SMALL_N_NOTE


def _named(column: object, test) -> bool:
    return test(" ".join(map(str, column)) if isinstance(column, tuple) else str(column))


def blank_for_small_n(frame: pd.DataFrame) -> bool:
    """Whether a row leaves an interval cell blank (a column named like `ci95*`, `*_low` or
    `*_high`) while a count in the same row (`n`, `pairs`, `*_n`, `* n`) is under 3: what
    `t_interval` does, said under the table so no reader takes a blank for a lost number."""
    intervals = [c for c in frame.columns if _named(
        c, lambda n: "ci95" in n or n.endswith(("_low", "_high")))]
    counts = [c for c in frame.columns if _named(
        c, lambda n: n in ("n", "pairs") or n.endswith(("_n", " n")))]
    if not intervals or not counts:
        return False
    blank = frame[intervals].apply(pd.to_numeric, errors="coerce").isna().any(axis=1)
    small = (frame[counts].apply(pd.to_numeric, errors="coerce") < 3).any(axis=1)
    return bool((blank & small).any())


def _has_named_index(frame: pd.DataFrame) -> bool:
    return any(name is not None for name in frame.index.names)


def save(frame: pd.DataFrame, name: str, folder: Path, digits: Digits = 3) -> list[Path]:
    """Write `<folder>/<name>.csv` and `.md`; return both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    csv, md = folder / f"{name}.csv", folder / f"{name}.md"
    frame.to_csv(csv, index=_has_named_index(frame))
    md.write_text(to_markdown(frame, digits))
    return [csv, md]


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error), NaNs left out of the family.

    Sorted p_(1) <= ... <= p_(m): adjusted p_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)).
    Use it wherever a table tests several settings at once instead of picking the best one.
    """
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(p, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    m, running = len(order), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float, int]:
    """Mean, interval low and high, n: Student t over `values`; no interval when n < 3.

    With two values the t quantile is 12.7 and the interval says nothing a reader can use, so
    tables leave it empty rather than print it.
    """
    from scipy import stats

    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = len(x)
    mean = float(x.mean()) if n else np.nan
    if n < 3:
        return mean, np.nan, np.nan, n
    half = stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / np.sqrt(n)
    return mean, mean - half, mean + half, n


def describe(frame: pd.DataFrame, by: Sequence[str], value: str = "value",
             unit: str | None = None) -> pd.DataFrame:
    """Mean, sd, n and 95% t-interval of `value` per group (interval empty where n < 3).

    `unit` names the independent unit when rows are not independent (study 02: 10 tasks x 5
    seeds): rows are first averaged within each unit, so n counts units and the interval is
    over units, not over every run.
    """
    rows = []
    for key, group in frame.groupby(list(by), sort=False):
        values = group.groupby(unit, sort=False)[value].mean() if unit else group[value]
        mean, low, high, n = t_interval(values)
        key = key if isinstance(key, tuple) else (key,)
        sd = float(np.std(values, ddof=1)) if n > 1 else np.nan
        rows.append({**dict(zip(by, key)), "mean": mean, "sd": sd, "n": n,
                     "ci95_low": low, "ci95_high": high})
    return pd.DataFrame(rows)


def paired_tests(frame: pd.DataFrame, by: str, pair_on: str | Sequence[str], baseline: str,
                 value: str = "value", unit: str | None = None) -> pd.DataFrame:
    """Each condition minus `baseline`, paired on `pair_on`: mean, 95% CI, p and Holm's p.

    Pairs share seed and data, so the difference removes what both conditions share. With
    `unit` (one of the `pair_on` columns, e.g. the task), differences are averaged within each
    unit and the test runs over units (n = units). `p_holm` corrects for every condition of the
    table being tested against the same baseline. No interval or p where n < 3.
    """
    from scipy import stats

    pair_on = [pair_on] if isinstance(pair_on, str) else list(pair_on)
    wide = frame.pivot_table(index=pair_on, columns=by, values=value)
    if baseline not in wide.columns:
        raise ValueError(f"baseline {baseline!r} is not among {list(wide.columns)}")
    rows = []
    for condition in wide.columns.drop(baseline):
        diff = (wide[condition] - wide[baseline]).dropna()
        if unit is not None:
            diff = diff.groupby(level=unit, sort=False).mean()
        mean, low, high, n = t_interval(diff)
        p = stats.ttest_1samp(diff, 0.0).pvalue if n >= 3 else np.nan
        rows.append({by: condition, "difference": mean, "ci95_low": low, "ci95_high": high,
                     "n": n, "p_value": p})
    table = pd.DataFrame(rows, columns=[by, "difference", "ci95_low", "ci95_high", "n",
                                        "p_value"])
    table["p_holm"] = holm(table["p_value"].to_numpy()) if len(table) else []
    return table
