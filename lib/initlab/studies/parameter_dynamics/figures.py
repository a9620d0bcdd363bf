"""Study 05's figures, one function each, from the tidy frames of `results.collect` (and its
correlation matrices). Each returns a matplotlib Figure; the notebook shows it and saves it
with `plots.save` under the name it has always had.

Bars and lines are means over seeds, one panel row per data set; error bars and bands are
the sd over seeds (no bar where a cell has one seed). Nothing here names an init beyond
using it as a label: the grid's inits come from the settings.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from matplotlib.lines import Line2D

from initlab.studies.parameter_dynamics import reported
from initlab.studies.parameter_dynamics.results import across_columns
from initlab.studies.parameter_dynamics.settings import ParameterDynamicsSettings

Settings = ParameterDynamicsSettings
HEATMAP = dict(cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
FACETS = dict(row="dataset", col="arch", height=3.2, aspect=1.15)


def _reported_crosses(g: sns.FacetGrid, entries: list[tuple], x_of) -> None:
    """The report's values as red crosses on the panels of their architecture: on the row
    of the report's data set where the grid has it, else on every row."""
    rows = list(g.row_names)
    for (row, arch), ax in g.axes_dict.items():
        shown = [(x_of(entry), entry[-1]) for entry in entries if entry[0] == arch
                 and (entry[1] == row or entry[1] not in rows)]
        shown = [(x, y) for x, y in shown if x is not None]
        if shown:
            ax.scatter(*zip(*shown), marker="x", s=70, color="crimson", zorder=5)


def _spread(cfg: Settings, mark: str = "lines") -> str:
    """What the error marks are: the sd over seeds, or nothing drawn with one seed."""
    return f"{mark}: sd over seeds" if cfg.seeds > 1 else "one seed: no spread drawn"


def _title(g: sns.FacetGrid, text: str) -> plt.Figure:
    g.set_titles(row_template="{row_name}", col_template="{col_name}")
    g.figure.suptitle(text, y=1.02)
    return g.figure


def norm_distances(dist: pd.DataFrame, cfg: Settings) -> plt.Figure:
    """||theta_k - theta_k-1|| per snapshot interval, per architecture and data set (log y:
    the early intervals travel orders of magnitude further than the late ones)."""
    g = sns.relplot(data=dist, x="interval", y="distance", hue="init", style="optimizer",
                    kind="line", marker="o", facet_kws=dict(sharey=False), errorbar="sd",
                    hue_order=list(cfg.inits), **FACETS)
    g.set(yscale="log", xlabel="snapshot interval (epochs)")
    g.set_ylabels("||theta_k - theta_k-1||")
    for ax in g.axes.flat:
        ax.yaxis.set_minor_formatter(plt.NullFormatter())
    return _title(g, f"Norm distance between consecutive snapshots ({_spread(cfg, 'band')})")


def _bars(summary: pd.DataFrame, cfg: Settings, y: str) -> sns.FacetGrid:
    g = sns.catplot(data=summary, x="init", y=y, hue="optimizer", kind="bar", errorbar="sd",
                    order=list(cfg.inits), hue_order=list(cfg.optimizers), **FACETS)
    for ax in g.axes.flat:
        ax.tick_params(axis="x", rotation=20)
    return g


def _x_of_init(cfg: Settings):
    """Where a (arch, data set, init, optimizer, value) entry's bar sits on an init axis."""
    step = 0.8 / len(cfg.optimizers)

    def x(entry: tuple) -> float | None:
        _, _, init, opt, _ = entry
        if init not in cfg.inits or opt not in cfg.optimizers:
            return None
        return cfg.inits.index(init) - 0.4 + step * (cfg.optimizers.index(opt) + 0.5)
    return x


def change_rate(summary: pd.DataFrame, cfg: Settings) -> plt.Figure:
    """Change rate per cell (bars), with the report's values for the same arch/init/optimizer
    as red crosses (on the report's data set's row where we ran it)."""
    g = _bars(summary, cfg, "change_rate")
    _reported_crosses(g, reported.CHANGE_RATE, _x_of_init(cfg))
    g.set(ylabel="change rate (%)", xlabel="")
    _marks_legend(g, ceiling=False)
    return _title(g, "Change rate ||theta_end - theta_0|| / ||theta_end||  (bars: mean over "
                     f"seeds, {_spread(cfg)})")


def _marks_legend(g: sns.FacetGrid, ceiling: bool) -> None:
    """What the crimson marks are, in a legend of their own under the panels (a label on the
    panel would sit on the bars, the crosses or the line it names)."""
    handles = [Line2D([], [], marker="x", ls="none", color="crimson", markersize=8,
                      label="reported")]
    if ceiling:
        handles.append(Line2D([], [], ls="--", lw=1, color="crimson",
                              label="ceiling: padding-only kernel taps never move"))
    g.figure.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                    ncol=len(handles), frameon=False, fontsize=9)


def change_share(summary: pd.DataFrame, cfg: Settings) -> plt.Figure:
    """Overall share of parameters changed by more than the tolerance, with the ceiling that
    padding-only kernel taps (which never move) put on it, and the report's shares."""
    g = _bars(summary, cfg, "changed_share")
    g.set(ylabel=f"changed by > {cfg.tolerance:g} (%)", xlabel="", ylim=(0, 105))
    _reported_crosses(g, reported.CHANGED_SHARE, _x_of_init(cfg))
    frozen = summary.groupby("arch").frozen_share.first()
    for (_, arch), ax in g.axes_dict.items():
        if frozen[arch] > 0:
            ax.axhline(100 - frozen[arch], color="crimson", ls="--", lw=1)
    _marks_legend(g, ceiling=bool((frozen > 0).any()))
    return _title(g, f"Share of parameters whose |change| exceeds {cfg.tolerance:g} (bars: "
                     f"mean over seeds, {_spread(cfg)})")


def _tensor_shares(part: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Per seed and optimizer, the share (%) of each conv or linear weight tensor changed, and
    of all biases and norm parameters pooled (one bar: there are dozens of small ones)."""
    weights = part[part.kind.isin(["conv", "linear"])].assign(label=lambda f: [
        f"{k} {n[:-7]}" if n[:-7].isdigit() else n[:-7] if n.endswith(".weight") else n
        for k, n in zip(f.kind, f.name)])
    keys = ["optimizer", "seed"]
    rest = part[~part.kind.isin(["conv", "linear"])].groupby(keys)[["changed", "numel"]].sum()
    rest = rest.reset_index().assign(label="biases + norms")
    both = pd.concat([weights.sort_values("position"), rest], ignore_index=True)
    both["share"] = 100 * both.changed / both.numel
    return both, list(dict.fromkeys(both.label))


def change_share_per_tensor(per_tensor: pd.DataFrame, cfg: Settings) -> plt.Figure:
    """Share of each weight tensor changed, for the grid's first init and data set (mean over
    seeds, lines: their range), one row per architecture: shows which layers (ResNet's
    layer4) keep their weights. Every tensor's own share is in the table."""
    init, dataset = cfg.inits[0], cfg.datasets[0]
    shown = per_tensor[(per_tensor.init == init) & (per_tensor.dataset == dataset)]
    fig, axes = plt.subplots(len(cfg.archs), 1, figsize=(11, 3.4 * len(cfg.archs)),
                             squeeze=False)
    for ax, arch in zip(axes[:, 0], cfg.archs):
        part, order = _tensor_shares(shown[shown.arch == arch])
        sns.barplot(data=part, x="label", y="share", hue="optimizer", order=order, ax=ax,
                    errorbar=lambda v: (v.min(), v.max()), hue_order=list(cfg.optimizers))
        ax.tick_params(axis="x", rotation=40, labelsize=8)
        plt.setp(ax.get_xticklabels(), ha="right", rotation_mode="anchor")
        ax.set(title=f"{arch} ({init}, {dataset}): share of each weight tensor changed by > "
               f"{cfg.tolerance:g}", xlabel="", ylabel="changed (%)", ylim=(0, 105))
        ax.legend(title="optimizer", loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    spread = f"mean over {cfg.seeds} seeds, lines: min to max" if cfg.seeds > 1 else "one seed"
    fig.suptitle(f"Per weight tensor, biases and norm parameters pooled (bars: {spread})")
    fig.tight_layout()
    return fig


def change_share_vs_tolerance(sweep: pd.DataFrame, cfg: Settings) -> plt.Figure:
    """Changed share against the tolerance (the report states none), the chosen one dotted."""
    g = sns.relplot(data=sweep, x="tolerance", y="share", hue="init", style="optimizer",
                    kind="line", marker="o", errorbar="sd", hue_order=list(cfg.inits), **FACETS)
    g.set(xscale="log", ylabel="changed (%)", ylim=(0, 100))
    for ax in g.axes.flat:
        ax.axvline(cfg.tolerance, color="grey", ls=":", lw=1)
    return _title(g, "Share of parameters changed, as a function of the tolerance")


def weight_histograms(hist: pd.DataFrame, cfg: Settings) -> plt.Figure:
    """Conv and linear weights at epoch 0 (dashed) and at the end (solid), first init and
    seed, arch x optimizer panels, one colour per data set; log counts (+1 so empty bins
    stay drawable)."""
    shown = hist[(hist.init == cfg.inits[0]) & (hist.seed == cfg.seed)]
    colours = dict(zip(cfg.datasets, sns.color_palette(n_colors=len(cfg.datasets))))
    fig, axes = plt.subplots(len(cfg.archs), len(cfg.optimizers), squeeze=False,
                             figsize=(4.6 * len(cfg.optimizers), 3.0 * len(cfg.archs)))
    for (i, arch), (j, opt) in ((a, o) for a in enumerate(cfg.archs)
                                for o in enumerate(cfg.optimizers)):
        ax = axes[i, j]
        for dataset in cfg.datasets:
            for when, style in (("start", "--"), ("end", "-")):
                part = shown[(shown.arch == arch) & (shown.optimizer == opt)
                             & (shown.dataset == dataset) & (shown.when == when)]
                if part.empty:
                    continue
                edges = np.r_[part.left.to_numpy(), part.right.to_numpy()[-1:]]
                label = f"{dataset}, epoch {0 if when == 'start' else cfg.epochs}"
                ax.stairs(part["count"].to_numpy() + 1, edges, color=colours[dataset],
                          ls=style, lw=1.3, label=label)
        ax.set(yscale="log", title=f"{arch}, {opt}", xlabel="weight value", ylabel="count + 1")
        ax.legend(fontsize=7)
    fig.suptitle(f"Weights before and after training ({cfg.inits[0]}, seed {cfg.seed})")
    fig.tight_layout()
    return fig


def _heatmap(ax: plt.Axes, matrix: torch.Tensor | None, title: str) -> None:
    if matrix is None:
        ax.set_axis_off()
        return
    ax.imshow(matrix.numpy(), **HEATMAP)
    ax.set(xticks=[], yticks=[])
    ax.set_title(title, fontsize=9)


def feature_correlation_within(heatmaps: dict, cfg: Settings) -> plt.Figure:
    """Correlation matrix of one model's live penultimate features (first init, data set and
    seed), arch x optimizer panels."""
    fig, axes = plt.subplots(len(cfg.archs), len(cfg.optimizers), squeeze=False,
                             figsize=(3.8 * len(cfg.optimizers), 3.4 * len(cfg.archs)))
    for i, arch in enumerate(cfg.archs):
        for j, opt in enumerate(cfg.optimizers):
            _heatmap(axes[i, j], heatmaps.get(("within", arch, opt)),
                     f"{arch}, {cfg.inits[0]}, {opt}")
    fig.colorbar(plt.cm.ScalarMappable(plt.Normalize(-1, 1), "RdBu_r"), ax=axes, shrink=0.6)
    fig.suptitle(f"Feature correlation within a model ({cfg.datasets[0]}, seed {cfg.seed})")
    return fig


def feature_correlation_across(heatmaps: dict, cfg: Settings) -> plt.Figure:
    """Cross-correlation of two models' features after greedy matching (matched pairs on the
    diagonal), first optimizer, data set and seed: one row per arch, one column per pair."""
    columns = [title for title, _, _ in across_columns(cfg)]
    fig, axes = plt.subplots(len(cfg.archs), max(1, len(columns)), squeeze=False,
                             figsize=(3.6 * max(1, len(columns)), 3.4 * len(cfg.archs)))
    for i, arch in enumerate(cfg.archs):
        for j, title in enumerate(columns):
            _heatmap(axes[i, j], heatmaps.get(("across", arch, title)), f"{arch}:\n{title}")
    fig.colorbar(plt.cm.ScalarMappable(plt.Normalize(-1, 1), "RdBu_r"), ax=axes, shrink=0.6)
    fig.suptitle(f"Cross-model feature correlation after greedy matching ({cfg.optimizers[0]}, "
                 f"{cfg.datasets[0]}, seed {cfg.seed})")
    return fig


def matched_correlation(pairs: pd.DataFrame, perturbed: pd.DataFrame) -> plt.Figure:
    """Mean |r| of matched feature pairs: between inits, and trained vs retrained."""
    both = pd.concat([pairs.assign(comparison=pairs.pair),
                      perturbed.assign(comparison="trained vs retrained: "
                                       + perturbed.perturbation)])
    g = sns.catplot(data=both, y="comparison", x="matched_mean", hue="arch", col="dataset",
                    kind="bar", errorbar="sd", height=3.6, aspect=1.4)
    g.set(xlabel="mean |r| of greedily matched feature pairs", ylabel="", xlim=(0, 1))
    g.set_titles(col_template="{col_name}")
    g.figure.suptitle("How alike are two models' features? (bars: mean over optimizers, "
                      "inits and seeds; lines: sd)", y=1.03)
    return g.figure


def perturbation_distance(perturbed: pd.DataFrame, cfg: Settings) -> plt.Figure:
    """||theta_trained - theta_retrained|| per perturbation (mean over inits within a seed,
    then over seeds; lines: sd over seeds), with the report's distances as red crosses."""
    per_seed = (perturbed.groupby(["arch", "dataset", "optimizer", "perturbation", "seed"])
                .distance.mean().reset_index())
    g = sns.catplot(data=per_seed, x="perturbation", y="distance", hue="optimizer",
                    kind="bar", errorbar="sd", order=list(cfg.perturbations),
                    hue_order=list(cfg.optimizers), **FACETS)
    step = 0.8 / len(cfg.optimizers)

    def x_of(entry: tuple, name: str) -> float | None:
        if name not in cfg.perturbations or entry[3] not in cfg.optimizers:
            return None
        return (cfg.perturbations.index(name) - 0.4
                + step * (cfg.optimizers.index(entry[3]) + 0.5))
    _reported_crosses(g, reported.SIGN_FLIP_DISTANCE, lambda e: x_of(e, "sign_flip"))
    _reported_crosses(g, reported.DISTORTION_DISTANCE, lambda e: x_of(e, "distortion"))
    g.set(yscale="log", ylabel="||theta_trained - theta_retrained||")
    return _title(g, f"Trained vs retrained model after {cfg.retrain_epochs} more epoch(s), "
                     "float32  (red x: reported)")
