"""One house style and the figure kinds the studies share.

Computing lives elsewhere; these functions take tidy frames or tensors and return figures,
and `save` writes each figure as PNG (to look at) and PDF (to print) side by side.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from initlab import tables

PALETTE = "colorblind"


def use_style() -> None:
    """The house style: seaborn's whitegrid, colour-blind palette, readable sizes."""
    sns.set_theme(style="whitegrid", context="notebook", palette=PALETTE)
    matplotlib.rcParams.update({"figure.dpi": 100, "savefig.bbox": "tight", "axes.titlesize": 11})


def save(fig: plt.Figure, name: str, folder: Path) -> list[Path]:
    """Write `fig` as `<folder>/<name>.png` and `.pdf`; return both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix, dpi in ((".png", 150), (".pdf", None)):
        path = folder / f"{name}{suffix}"
        fig.savefig(path, dpi=dpi)
        written.append(path)
    return written


def image_grid(
    images: np.ndarray, row_labels: Sequence[str] = (), col_labels: Sequence[str] = (),
    cmap: str = "gray", symmetric: bool = False, title: str = "", cell: float = 1.0,
) -> plt.Figure:
    """A rows x cols grid of single-channel images (rows, cols, H, W), no axes ticks.

    `symmetric=True` centres a diverging colour map on zero per row: right for filters,
    whose sign matters and whose scale differs between models.
    """
    images = np.asarray(images)
    rows, cols = images.shape[:2]
    fig, axes = plt.subplots(rows, cols, figsize=(cell * cols + 1, cell * rows + 0.5),
                             squeeze=False)
    for r in range(rows):
        limit = np.abs(images[r]).max() or 1.0
        for c in range(cols):
            ax = axes[r, c]
            kwargs = dict(vmin=-limit, vmax=limit) if symmetric else {}
            ax.imshow(images[r, c], cmap=cmap, **kwargs)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if c == 0 and r < len(row_labels):
                ax.set_ylabel(row_labels[r], rotation=0, ha="right", va="center")
            if r == 0 and c < len(col_labels):
                ax.set_title(col_labels[c], fontsize=9)
    if title:
        fig.suptitle(title)
    return fig


def t_band(values: Sequence[float]) -> tuple[float, float]:
    """The tables' 95% t-interval of a mean (`tables.t_interval`) as a seaborn `errorbar`;
    NaN (no bar) where n < 3, as the tables print none."""
    _, low, high, _ = tables.t_interval(values)
    return low, high


def interval_caption(counts: Iterable[int], mark: str = "diamonds") -> str:
    """What the mean marks of `points_with_mean` show, from each group's n: a title must not
    promise an interval that is not drawn (none where n < 3)."""
    counts = [int(n) for n in counts]
    if counts and min(counts) >= 3:
        return f"{mark}: mean, 95% t-interval"
    if not counts or max(counts) < 3:
        return f"{mark}: mean, no interval at n < 3"
    return f"{mark}: mean, 95% t-interval where n >= 3"


def group_sizes(frame: pd.DataFrame, by: str | Sequence[str], value: str) -> list[int]:
    """The number of non-missing `value`s per group: what `interval_caption` reads."""
    keys = [by] if isinstance(by, str) else list(by)
    return frame.groupby(keys)[value].count().tolist()


def spread_caption(n: int, mark: str = "band", unit: str = "run") -> str:
    """What a band or error line of seaborn's `errorbar="sd"` shows: the sd over the `unit`s,
    or that none is drawn with one (seaborn draws no sd of one value)."""
    return f"{mark}: sd over {unit}s" if n > 1 else f"one {unit}: no {mark}"


def points_with_mean(
    frame: pd.DataFrame, x: str, y: str, order: Sequence[str] | None = None,
    hue: str | None = None, reference: dict[str, float] | None = None, ax=None,
) -> plt.Axes:
    """Every run as a point, and the mean with its 95% t-interval beside it (the tables'
    interval; none where a group has fewer than 3 runs: `interval_caption` says which).

    `reference` draws the original report's value per x category as a crimson cross.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(max(5, 0.9 * frame[x].nunique() + 2), 4))
    state = np.random.get_state()  # seaborn jitters from numpy's global generator: seed it
    np.random.seed(0)  # here so a figure is the same on every run, and put the state back
    sns.stripplot(data=frame, x=x, y=y, hue=hue, order=order, dodge=hue is not None,
                  alpha=0.45, size=5, ax=ax, legend=hue is not None)
    np.random.set_state(state)
    sns.pointplot(data=frame, x=x, y=y, hue=hue, order=order, dodge=0.4 if hue else False,
                  errorbar=t_band, linestyle="none", marker="D", color=None if hue else "k",
                  capsize=0.15, ax=ax, legend=False, seed=0)
    if reference:
        labels = [t.get_text() for t in ax.get_xticklabels()]
        xs = [labels.index(k) for k in reference if k in labels]
        ys = [reference[k] for k in reference if k in labels]
        ax.scatter(xs, ys, marker="x", s=60, color="crimson", zorder=5, label="reported")
        ax.legend(loc="best", fontsize=8)
    ax.tick_params(axis="x", rotation=30)
    return ax
