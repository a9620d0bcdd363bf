"""Tables as DataFrames first, written as CSV (to reuse) and Markdown (to read)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd


def to_markdown(frame: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub-flavoured Markdown table (pandas' own needs the optional `tabulate`)."""
    def cell(value) -> str:
        if isinstance(value, (float, np.floating)):
            return "" if np.isnan(value) else f"{value:.{digits}f}"
        return str(value)

    frame = frame.reset_index() if _has_named_index(frame) else frame
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body]) + "\n"


def _has_named_index(frame: pd.DataFrame) -> bool:
    return any(name is not None for name in frame.index.names)


def save(frame: pd.DataFrame, name: str, folder: Path, digits: int = 3) -> list[Path]:
    """Write `<folder>/<name>.csv` and `.md`; return both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    csv, md = folder / f"{name}.csv", folder / f"{name}.md"
    frame.to_csv(csv, index=_has_named_index(frame))
    md.write_text(to_markdown(frame, digits))
    return [csv, md]


def summarize(frame: pd.DataFrame, by: Sequence[str], value: str = "value",
              stats: Sequence[str] = ("mean", "std", "max", "count")) -> pd.DataFrame:
    """Mean, spread and count of `value` per group: what every comparison reports."""
    return frame.groupby(list(by), sort=False)[value].agg(list(stats)).reset_index()


def mean_std(frame: pd.DataFrame, by: Sequence[str], value: str = "value",
             digits: int = 3) -> pd.Series:
    """'mean (std)' strings per group, the layout of the original papers' tables."""
    grouped = frame.groupby(list(by), sort=False)[value]
    mean, std = grouped.mean().round(digits), grouped.std().round(digits)
    return mean.astype(str) + " (" + std.astype(str) + ")"


def paired_difference(frame: pd.DataFrame, by: str, pair_on: str, baseline: str,
                      value: str = "value") -> pd.DataFrame:
    """Each condition minus `baseline`, paired on `pair_on` (same seed / task): mean, 95% CI, p.

    Pairing removes the seed-to-seed spread both conditions share, so small differences that a
    side-by-side mean (std) hides become visible, and large spreads do not fake a difference.
    """
    from scipy import stats

    wide = frame.pivot_table(index=pair_on, columns=by, values=value)
    rows = []
    for condition in wide.columns.drop(baseline):
        diff = (wide[condition] - wide[baseline]).dropna()
        n = len(diff)
        half = stats.t.ppf(0.975, n - 1) * diff.std(ddof=1) / np.sqrt(n) if n > 1 else np.nan
        p = stats.ttest_1samp(diff, 0.0).pvalue if n > 1 else np.nan
        rows.append({by: condition, "mean_difference": diff.mean(), "ci95_low": diff.mean() - half,
                     "ci95_high": diff.mean() + half, "p_value": p, "n": n})
    return pd.DataFrame(rows)
