"""Study 02's figures, each a function of the curves frame (`results.curves`) returning a
matplotlib Figure; the notebook saves them with `plots.save`. Curves and points are means over
target tasks (each task's seeds averaged first: the task is the independent unit, as in the
tables) with the same 95% t-interval as the tables, drawn only where there are 3 or more
tasks. The original report's numbers are drawn as crimson marks: on CIFAR-100 on the same
axis, on another data set on their own right-hand axis (compare the shape, not the level).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from initlab import plots, tables
from initlab.studies.clustered_init.design import first_layer_conditions, label
from initlab.studies.clustered_init.results import (
    REPORTED_BASELINES,
    REPORTED_BY_CLUSTERS,
    REPORTED_BY_LAYERS,
    REPORTED_BY_SOURCES,
    REPORTED_CUSTOM,
    REPORTED_GABOR,
    final,
)
from initlab.studies.clustered_init.settings import ClusteredInitSettings

Marks = list[tuple[list[tuple[float, float]], str, str]]  # [(points [(x, y)], marker, label)]
SWEEP_REPORTED = {"clusters": REPORTED_BY_CLUSTERS, "layers": REPORTED_BY_LAYERS,
                  "n_sources": REPORTED_BY_SOURCES}
SWEEP_NAMES = {"clusters": "number of clusters K", "layers": "number of layers L",
               "n_sources": "number of source models N"}
SYMBOLS = {"n_sources": "N", "clusters": "K", "layers": "L"}


def unit_means(frame: pd.DataFrame, keys: Sequence[str], unit: str) -> pd.DataFrame:
    """Accuracy averaged within each unit (a target task: its seeds are not independent)."""
    return (frame.groupby([*keys, unit, "epoch"], sort=False).accuracy.mean()
            .reset_index())


def curve_panel(frame: pd.DataFrame, hue: str, order: Sequence[str], ax: Axes,
                title: str, unit: str = "task") -> None:
    """Mean validation accuracy per epoch over units, with its 95% t-interval (n >= 3)."""
    means = unit_means(frame, [hue], unit)
    sns.lineplot(data=means, x="epoch", y="accuracy", hue=hue, hue_order=order,
                 errorbar=plots.t_band if means[unit].nunique() >= 3 else None, marker="o",
                 markersize=4, ax=ax)
    ax.set(xlabel="epoch", ylabel="validation accuracy (%)", title=title)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=7, title=None)


def mark_reported(ax: Axes, series: Marks, dataset: str) -> Axes:
    """The original's numbers as crimson marks; off CIFAR-100 on a right-hand axis of their
    own, since the levels of another data set are not comparable (its range padded, so the
    marks do not sit on our extremes by construction). Returns the axis the marks are on."""
    series = [s for s in series if s[0]]
    if not series:
        return ax
    target = ax if dataset == "cifar100" else ax.twinx()
    for points, marker, text in series:
        target.scatter(*zip(*points), marker=marker, s=70, color="crimson", zorder=5, label=text)
    if target is not ax:
        values = [y for points, _, _ in series for _, y in points]
        pad = max(2.0, 0.25 * (max(values) - min(values)))
        target.set_ylim(min(values) - pad, max(values) + pad)
        target.grid(False)
        target.set_ylabel("reported: CIFAR-100, epoch 15 (%)", color="crimson")
        target.tick_params(axis="y", colors="crimson")
    return target


def legend_below(ax: Axes, marks: Axes, rotated: bool = False) -> None:
    """One legend for a final panel (our marks and the report's), under its x axis: inside,
    it covered the random line or the points it names."""
    handles, labels = ax.get_legend_handles_labels()
    if marks is not ax:
        more = marks.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    for axis in {ax, marks}:
        if axis.get_legend():
            axis.get_legend().remove()
    if handles:
        ax.legend(handles, labels, fontsize=7, loc="upper center", ncol=2,
                  bbox_to_anchor=(0.5, -0.5 if rotated else -0.3))


def best_vs_baselines(curves: pd.DataFrame, order: Sequence[str], dataset: str) -> Figure:
    """Figure 2: the curves of `order` (random, pretrained, best Gabor, best clustered; the
    best picked on these data, so the figure describes and does not test)."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    curve_panel(curves[curves.label.isin(order)], "label", order, ax,
                f"Highest-mean clustered settings vs baselines ({dataset}, mean over tasks)")
    return fig


def sweep(curves: pd.DataFrame, cfg: ClusteredInitSettings, key: str) -> Figure:
    """Figures 3-5: curves per distance for each value of `key` (clusters, layers or
    n_sources; the other two at the centre point) beside random init's curve, as the original
    drew it; then final accuracy vs `key`, random's level and the report's numbers."""
    centre = dict(n_sources=cfg.n_sources, clusters=cfg.clusters, layers=cfg.layers)
    fixed = {k: v for k, v in centre.items() if k != key}
    fig, axes = plt.subplots(1, len(cfg.distances) + 1,
                             figsize=(4.3 * (len(cfg.distances) + 1), 3.8))
    rows = curves.query("init == 'clustered'")
    for k, v in fixed.items():
        rows = rows[rows[k] == v]
    random = curves[(curves.init == "random") & ~curves.custom.astype(bool)]
    for ax, distance in zip(axes, cfg.distances):
        part = rows[rows.distance == distance].assign(
            setting=lambda d: f"{key}=" + d[key].astype(str))
        order = ["random", *(f"{key}={v}" for v in sorted(part[key].unique()))]
        curve_panel(pd.concat([random.assign(setting="random"), part]), "setting", order, ax,
                    distance)
    _sweep_final(axes[-1], rows, random, cfg, key)
    fixed_text = ", ".join(f"{SYMBOLS[k]}={v}" for k, v in fixed.items())
    fig.suptitle(f"Clustered init by {SWEEP_NAMES[key]} ({fixed_text})")
    fig.tight_layout()
    return fig


def _sweep_final(ax: Axes, rows: pd.DataFrame, random: pd.DataFrame,
                 cfg: ClusteredInitSettings, key: str) -> None:
    """Final accuracy vs `key` per distance (mean over tasks, t-interval), random init's final
    mean as a grey line (its interval as a band), and the report's numbers."""
    last = unit_means(final(rows), ["distance", key], "task")
    sns.pointplot(data=last, x=key, y="accuracy", hue="distance", hue_order=list(cfg.distances),
                  errorbar=plots.t_band, dodge=0.3 if len(cfg.distances) > 1 else False,
                  ax=ax)  # seaborn divides the dodge by (levels - 1)
    base = final(random).groupby("task").accuracy.mean()
    mean, low, high, _ = tables.t_interval(base)
    ax.axhline(mean, color="0.4", linestyle="--", label="random")
    if not np.isnan(low):
        ax.axhspan(low, high, color="0.4", alpha=0.15, lw=0)
    values = sorted(last[key].unique())
    ax.set(xlabel=key, ylabel=f"accuracy at epoch {int(rows.epoch.max())} (%)",
           title="final, mean over tasks")
    reported = SWEEP_REPORTED[key]
    marks = mark_reported(ax, [([(i, reported[d][v]) for i, v in enumerate(values)
                                 if v in reported[d]], marker, f"reported {d}")
                               for d, marker in (("euclidean", "x"), ("fourier_real", "+"))],
                          cfg.dataset)
    legend_below(ax, marks)


def _curves_and_final(frame: pd.DataFrame, order: list[str], reported: dict[str, float],
                      title: str, dataset: str, rotate: bool = False) -> Figure:
    """Curves of the conditions in `order` (left) and their final accuracy with the report's
    numbers (right)."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    curve_panel(frame, "label", order, axes[0], title)
    last = unit_means(final(frame), ["label"], "task")
    sns.pointplot(data=last, x="label", y="accuracy", order=order, errorbar=plots.t_band,
                  linestyle="none", ax=axes[1])
    axes[1].set(xlabel="", ylabel=f"accuracy at epoch {int(frame.epoch.max())} (%)",
                title="final, mean over tasks")
    if rotate:
        axes[1].tick_params(axis="x", rotation=30)
        plt.setp(axes[1].get_xticklabels(), ha="right", rotation_mode="anchor")
    marks = [(i, reported[o]) for i, o in enumerate(order) if o in reported]
    legend_below(axes[1], mark_reported(axes[1], [(marks, "x", "reported")], dataset), rotate)
    fig.tight_layout()
    return fig


def custom_aligned(curves: pd.DataFrame, cfg: ClusteredInitSettings) -> Figure:
    """Figure 6: the custom ResNet-18, random vs the aligned mean of its source models."""
    order = ["random (custom)"] + [label(dict(init="aligned", matching=m, layers=n))
                                   for n in cfg.align_layers for m in cfg.align_matchings]
    reported = {"random (custom)": REPORTED_CUSTOM["random"],
                **{f"aligned greedy L={n}": REPORTED_CUSTOM[n] for n in (1, 2, 4)}}
    return _curves_and_final(curves[curves.custom.astype(bool)], order, reported,
                             "custom ResNet-18: validation accuracy", cfg.dataset, rotate=True)


def gabor_by_layers(curves: pd.DataFrame, cfg: ClusteredInitSettings) -> Figure:
    """Figure 7: random vs Gabor init of the first L layers, for each L run."""
    order = ["random"] + [f"Gabor L={n}" for n in cfg.gabor_layers]
    reported = {"random": REPORTED_BASELINES["random"],
                **{f"Gabor L={n}": v for n, v in REPORTED_GABOR.items()}}
    return _curves_and_final(curves[curves.label.isin(order)], order, reported,
                             "Gabor init: validation accuracy", cfg.dataset)


def first_layer_inits(curves: pd.DataFrame, cfg: ClusteredInitSettings) -> Figure:
    """Figure 8, as the original's: inits that set the first layer alone (Gabor L = 1 and
    clustered L = 1 per distance) against random init; the report's L = 1 numbers (its
    N = 10, K = 10) are marked beside ours for the same distance."""
    order = [label(c) for c in first_layer_conditions(cfg)]
    reported = {"random": REPORTED_BASELINES["random"], "Gabor L=1": REPORTED_GABOR[1]}
    for cond, text in zip(first_layer_conditions(cfg)[2:], order[2:]):
        if cond["distance"] in REPORTED_BY_LAYERS:
            reported[text] = REPORTED_BY_LAYERS[cond["distance"]][1]
    rows = curves[curves.label.isin(order) & ~curves.custom.astype(bool)]
    return _curves_and_final(rows, order, reported,
                             "Inits of the first layer only: validation accuracy", cfg.dataset,
                             rotate=True)


def first_layer_filters(examples: dict[str, np.ndarray]) -> Figure:
    """Beside Figure 8: one row of stem filters per condition (`runs.first_layer_filters`),
    colour scale per row, red positive."""
    grid = np.stack([np.asarray(v) for v in examples.values()])
    return plots.image_grid(grid, row_labels=list(examples), cmap="RdBu_r", symmetric=True,
                            cell=0.8, title="First-layer filters at initialization")


def tiny_imagenet(tiny: pd.DataFrame) -> Figure:
    """Figure 9: Tiny ImageNet curves of random, pretrained and clustered init (one task, so
    each seed is a unit)."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    curve_panel(tiny, "init", ["random", "pretrained", "clustered"], ax,
                "Tiny ImageNet (200 classes)", unit="seed")
    return fig
