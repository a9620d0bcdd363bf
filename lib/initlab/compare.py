"""`initlab compare`: every initializer across the studies that have run, on one page.

Each study that compares inits writes `init_scores.csv` beside its tables: one row per score
(columns study, dataset, init, unit, value, metric, baseline; accuracies in %), where `unit` is
what the study pairs on (a seed, or a task). This module reads every one under
`figures/<output>/` and, per study, data set and metric (a panel), gives each init its mean
over units with a 95% t-interval, its paired difference to Kaiming normal over the units both
ran (the study's own `baseline` where Kaiming normal did not run), and its rank by mean
(1 = highest). It writes `compare.md`, `compare.csv` and `compare.png` (and `.pdf`), from
files only, like the report page that links it.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from initlab import paths, plots, tables

SCORES = "init_scores.csv"
COLUMNS = ("study", "dataset", "init", "unit", "value", "metric", "baseline")
PANEL = ["study", "dataset", "metric"]
REFERENCE = "kaiming_normal"
NAME = "compare"
COLUMN_INCHES, ROW_INCHES, INIT_INCHES = 3.9, 1.3, 0.26  # about 1,750 px wide at 150 dpi
WRAP = 34  # characters of a panel's title or axis label per line: neighbours never overlap
DIGITS = {"rank": 0, "mean": 1, "sd": 1, "ci95_low": 1, "ci95_high": 1, "difference": 1,
          "difference_low": 1, "difference_high": 1, "pairs": 0, "p_value": 3, "p_holm": 3}


class NoScores(LookupError):
    """No study has written `init_scores.csv` under this output folder yet."""


def score_files(output: str) -> list[Path]:
    return sorted(paths.figures_dir(output).glob(f"*/{SCORES}"))


def load_scores(output: str) -> pd.DataFrame:
    """Every study's `init_scores.csv` under `figures/<output>/`, in one frame."""
    files = score_files(output)
    if not files:
        profile, _, variant = output.partition("+")
        raise NoScores(f"no study has written {SCORES} under {paths.figures_dir(output)} yet: "
                       f"run a study that compares inits first, e.g. `initlab run "
                       f"03_agop_nfm_init --profile {profile}`"
                       + (" with the same -p values" if variant else ""))
    frames = []
    for file in files:
        frame = pd.read_csv(file)
        missing = [c for c in COLUMNS if c not in frame.columns]
        if missing:
            raise ValueError(f"{file} lacks the columns {', '.join(missing)}")
        frames.append(frame[list(COLUMNS)])
    return pd.concat(frames, ignore_index=True)


def reference_of(panel: pd.DataFrame) -> str | None:
    """What a panel's inits are paired against: Kaiming normal if it ran there, else the
    study's baseline if that ran, else nothing (a run that diverged everywhere did not)."""
    inits = set(panel.dropna(subset=["value"])["init"])
    if REFERENCE in inits:
        return REFERENCE
    baselines = panel["baseline"].dropna()
    baseline = baselines.mode().iloc[0] if len(baselines) else None
    return baseline if baseline in inits else None


def summarize(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per (study, dataset, metric, init): rank, mean, sd, n, interval, the paired
    difference to the panel's reference with its interval, pairs, p and Holm's p."""
    rows = [_panel_table(panel) for _, panel in scores.groupby(PANEL, sort=True)]
    return pd.concat(rows, ignore_index=True)


def _panel_table(panel: pd.DataFrame) -> pd.DataFrame:
    stats = tables.describe(panel, ["init"], "value", unit="unit")
    reference = reference_of(panel)
    stats["reference"] = reference or ""
    if reference is not None and panel["init"].nunique() > 1:
        diffs = tables.paired_tests(panel, "init", "unit", reference, "value")
        diffs = diffs.rename(columns={"ci95_low": "difference_low", "ci95_high":
                                      "difference_high", "n": "pairs"})
        stats = stats.merge(diffs, on="init", how="left")
    for column in ("difference", "difference_low", "difference_high", "pairs", "p_value",
                   "p_holm"):
        if column not in stats:
            stats[column] = np.nan
    ranks = stats["mean"].rank(ascending=False, method="min")  # none for a mean of no value
    stats["rank"] = ranks.astype(int) if ranks.notna().all() else ranks
    for column, value in zip(PANEL, panel[PANEL].iloc[0]):
        stats[column] = value
    order = [*PANEL, "rank", "init", "n", "mean", "sd", "ci95_low", "ci95_high", "reference",
             "difference", "difference_low", "difference_high", "pairs", "p_value", "p_holm"]
    return stats[order].sort_values(["rank", "init"], ignore_index=True)


def figure(scores: pd.DataFrame, table: pd.DataFrame) -> Figure:
    """One panel per study, data set and metric: each unit's score as a dot, the mean with its
    95% interval (where n >= 3) as a black diamond, the reference's mean as a dashed line.
    A row of panels is as tall as its longest list of inits, so short panels stay short."""
    plots.use_style()
    panels = list(table.groupby(PANEL, sort=True))
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    counts = [len(stats) for _, stats in panels] + [0] * (rows * columns - len(panels))
    heights = [ROW_INCHES + INIT_INCHES * max(counts[r * columns:(r + 1) * columns])
               for r in range(rows)]  # each row as tall as its longest panel needs
    fig = Figure(figsize=(COLUMN_INCHES * columns, sum(heights) + 0.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False,
                                      gridspec_kw=dict(height_ratios=heights))).ravel()
    rng = np.random.default_rng(0)  # the dots' jitter: the same figure on every run
    for ax, (key, stats) in zip(axes, panels):
        study, dataset, metric = key
        inits = list(stats["init"])
        units = scores[(scores[PANEL] == list(key)).all(axis=1)]
        units = units.groupby(["init", "unit"], as_index=False)["value"].mean()
        y = units["init"].map({name: i for i, name in enumerate(inits)})
        ax.scatter(units["value"], y + rng.uniform(-0.18, 0.18, len(units)), s=14, alpha=0.45)
        width = (stats["ci95_high"] - stats["mean"], stats["mean"] - stats["ci95_low"])
        ax.errorbar(stats["mean"], range(len(inits)), xerr=np.vstack(width[::-1]).clip(0),
                    fmt="D", color="k", capsize=3, markersize=5)
        reference = stats["reference"].iloc[0]
        if reference:
            ax.axvline(stats.loc[stats["init"] == reference, "mean"].iloc[0], color="0.4",
                       linestyle="--", linewidth=1)
        ax.set_yticks(range(len(inits)), inits)
        ax.set_ylim(len(inits) - 0.5, -0.5)
        ax.set_title(textwrap.fill(f"{study} · {dataset}", WRAP), fontsize=10)
        ax.set_xlabel(textwrap.fill(metric, WRAP), fontsize=9)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    fig.suptitle(f"Dots: units; {plots.interval_caption(table['n'])}; dashed: the "
                 "reference's mean", fontsize=11)
    return fig


def page(table: pd.DataFrame, output: str, sources: list[Path]) -> str:
    """compare.md: what the numbers are, the figure, one table per panel, the ranks."""
    base = paths.figures_dir(output)
    links = ", ".join(f"[{p.parent.name}]({p.relative_to(base).as_posix()})" for p in sources)
    lines = [f"# Initializers compared: `{output}`", "",
             "Every init a study ran in this output folder, per study, data set and metric. "
             "`mean` is over the study's independent units (seeds, or tasks where a study "
             "pairs on tasks; `n` counts them), with its 95% t-interval (none where n < 3). "
             "`difference` is the init minus the reference, paired on the units both ran "
             "(`pairs`), with its 95% interval and p-value, Holm-adjusted over the panel's "
             "inits (`p_holm`). The reference is Kaiming normal; where it did not run, the "
             "study's own baseline (named above each table). `rank` orders inits by mean "
             "(1 = highest; ties share a rank). Within a study every init had the same seeds, "
             f"data and training recipe. Read from each study's `{SCORES}`: {links}.", "",
             f"![{NAME}]({NAME}.png)", "", f"[CSV]({NAME}.csv) · [PDF]({NAME}.pdf)", ""]
    shown = ["rank", "init", "n", "mean", "sd", "ci95_low", "ci95_high", "difference",
             "difference_low", "difference_high", "pairs", "p_value", "p_holm"]
    for (study, dataset, metric), stats in table.groupby(PANEL, sort=True):
        reference = stats["reference"].iloc[0]
        lines += [f"## {study}, {dataset}: {metric}", "", _reference_line(reference), "",
                  tables.to_markdown(stats[shown], DIGITS)]
    lines += ["## Ranks across studies", "",
              "Rank of each init's mean within each study and data set (blank: not run "
              "there).", "", tables.to_markdown(_rank_table(table), 0)]
    return "\n".join(lines)


def _reference_line(reference: str) -> str:
    if reference == REFERENCE:
        return f"Differences are paired against `{REFERENCE}`."
    if reference:
        return (f"`{REFERENCE}` has no score here: differences are paired against the "
                f"study's baseline `{reference}`.")
    return (f"Neither `{REFERENCE}` nor the study's baseline has a score here: no paired "
            "differences.")


def _rank_table(table: pd.DataFrame) -> pd.DataFrame:
    """init x panel -> rank (a panel's metric is named only where its study and data set
    report more than one)."""
    several = table.groupby(["study", "dataset"])["metric"].transform("nunique") > 1
    panel = table["study"] + " / " + table["dataset"] + np.where(
        several, " (" + table["metric"] + ")", "")
    wide = table.assign(panel=panel).pivot_table(index="init", columns="panel", values="rank",
                                                 aggfunc="first")
    return wide.astype(float).reset_index().rename_axis(columns=None)


def write(output: str = "smoke") -> Path:
    """Write compare.md, .csv, .png and .pdf under `figures/<output>/`; return the page."""
    scores = load_scores(output)
    table = summarize(scores)
    base = paths.figures_dir(output)
    table.to_csv(base / f"{NAME}.csv", index=False)
    plots.save(figure(scores, table), NAME, base)
    target = base / f"{NAME}.md"
    target.write_text(page(table, output, score_files(output)) + "\n")
    return target


def has_scores(output: str) -> bool:
    return bool(score_files(output))
