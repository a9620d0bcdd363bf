"""Study 05's figures, one function each, from the tidy frames of `results` (or, for the
correlation heatmaps, from the stored results themselves). Each returns a matplotlib Figure;
the notebook shows it and saves it with `plots.save` under the name it has always had.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from initlab.studies.parameter_dynamics import results as res
from initlab.studies.parameter_dynamics.settings import ParameterDynamicsSettings

Settings = ParameterDynamicsSettings
HEATMAP = dict(cmap="RdBu_r", vmin=-1, vmax=1, xticklabels=False, yticklabels=False,
               square=True, rasterized=True)


def _reported_crosses(ax: plt.Axes, xs: list[float], ys: list[float]) -> None:
    """The original report's values as red crosses over our bars."""
    if xs:
        ax.scatter(xs, ys, marker="x", s=70, color="crimson", zorder=5)


def norm_distances(dist: pd.DataFrame, cfg: Settings) -> plt.Figure:
    """||theta_k - theta_k-1|| per snapshot interval, one panel per architecture (log y:
    the early intervals travel orders of magnitude further than the late ones)."""
    g = sns.relplot(data=dist, x="interval", y="distance", hue="init", style="optimizer",
                    col="arch", kind="line", marker="o", facet_kws=dict(sharey=False),
                    height=3.4, aspect=1.2, errorbar=None)
    g.set(yscale="log", xlabel="snapshot interval (epochs)")
    g.set_ylabels("||theta_k - theta_k-1||")
    for ax in g.axes.flat[1:]:
        ax.set_ylabel("")
    for ax in g.axes.flat:
        ax.yaxis.set_minor_formatter(plt.NullFormatter())
    g.figure.suptitle("Norm distance between consecutive snapshots "
                      f"({', '.join(cfg.datasets)})", y=1.03)
    return g.figure


def change_rate(summary: pd.DataFrame, cfg: Settings) -> plt.Figure:
    """Change rate per cell (bars), with the report's values for the same arch/init/optimizer
    as red crosses (on the report's data set, which may not be ours)."""
    g = sns.catplot(data=summary, x="init", y="change_rate", hue="optimizer", col="arch",
                    kind="bar", height=3.4, aspect=1.1, errorbar="sd", order=list(cfg.inits))
    for ax, arch in zip(g.axes.flat, g.col_names):
        shown = [(list(cfg.inits).index(init) + (-0.2 if opt == cfg.optimizers[0] else 0.2),
                  value) for r_arch, _, init, opt, value in res.REPORTED_CHANGE_RATE
                 if r_arch == arch and init in cfg.inits]
        _reported_crosses(ax, [x for x, _ in shown], [y for _, y in shown])
        ax.tick_params(axis="x", rotation=20)
    g.set(ylabel="change rate (%)", xlabel="")
    g.figure.suptitle("Change rate ||theta_end - theta_0|| / ||theta_end||  (red x: reported, "
                      "on the report's data set)", y=1.03)
    return g.figure


def change_share(summary: pd.DataFrame, cfg: Settings) -> plt.Figure:
    """Overall share of parameters changed by more than the tolerance, with the ceiling that
    padding-only kernel taps (which never move) put on it."""
    g = sns.catplot(data=summary, x="init", y="changed_share", hue="optimizer", col="arch",
                    kind="bar", height=3.4, aspect=1.1, errorbar="sd", order=list(cfg.inits))
    g.set(ylabel=f"changed by > {cfg.tolerance:g} (%)", xlabel="", ylim=(0, 100))
    frozen = summary.groupby("arch").frozen_share.first()
    for ax, arch in zip(g.axes.flat, g.col_names):
        ax.tick_params(axis="x", rotation=20)
        if frozen[arch] > 0:
            ax.axhline(100 - frozen[arch], color="crimson", ls="--", lw=1)
            ax.text(-0.45, 100 - frozen[arch] + 1.5, "ceiling: padding-only taps frozen",
                    color="crimson", fontsize=8)
    g.figure.suptitle(f"Share of parameters whose |change| exceeds {cfg.tolerance:g}", y=1.03)
    return g.figure


def change_share_per_tensor(per_tensor: pd.DataFrame, cfg: Settings) -> plt.Figure:
    """Share of each tensor changed, for the grid's first init, one row per architecture:
    shows which layers (ResNet's layer4) keep most of their weights."""
    shown = per_tensor[per_tensor.init == cfg.inits[0]]
    fig, axes = plt.subplots(len(cfg.archs), 1, figsize=(11, 3.0 * len(cfg.archs)),
                             squeeze=False)
    for ax, arch in zip(axes[:, 0], cfg.archs):
        part = shown[shown.arch == arch]
        sns.barplot(data=part, x="position", y="share", hue="optimizer", ax=ax, errorbar=None)
        names = part.drop_duplicates("position").sort_values("position").name
        ax.set_xticks(range(len(names)), names, rotation=90,
                      fontsize=6 if len(names) > 20 else 8)
        ax.set(title=f"{arch} ({cfg.inits[0]}): share of each tensor changed by > "
               f"{cfg.tolerance:g}", xlabel="", ylabel="share", ylim=(0, 1.05))
        ax.legend(title="optimizer", loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.tight_layout()
    return fig


def change_share_vs_tolerance(sweep: pd.DataFrame, cfg: Settings) -> plt.Figure:
    """Changed share against the tolerance (the report states none), the chosen one dotted."""
    g = sns.relplot(data=sweep, x="tolerance", y="share", hue="init", style="optimizer",
                    col="arch", kind="line", marker="o", height=3.4, aspect=1.1, errorbar=None)
    g.set(xscale="log", ylabel="changed (%)", ylim=(0, 100))
    for ax in g.axes.flat:
        ax.axvline(cfg.tolerance, color="grey", ls=":", lw=1)
    g.figure.suptitle("Share of parameters changed, as a function of the tolerance", y=1.03)
    return g.figure


def weight_histograms(hist: pd.DataFrame, cfg: Settings) -> plt.Figure:
    """Conv and linear weights at epoch 0 and at the end (first init and seed), arch x
    optimizer panels, log counts (+1 so empty bins stay drawable)."""
    shown = hist[(hist.init == cfg.inits[0]) & (hist.seed == cfg.seed)]
    fig, axes = plt.subplots(len(cfg.archs), len(cfg.optimizers), squeeze=False,
                             figsize=(4.4 * len(cfg.optimizers), 2.9 * len(cfg.archs)))
    for i, arch in enumerate(cfg.archs):
        for j, opt in enumerate(cfg.optimizers):
            ax = axes[i, j]
            for when, colour in (("start", "tab:blue"), ("end", "tab:orange")):
                part = shown[(shown.arch == arch) & (shown.optimizer == opt)
                             & (shown.when == when)]
                edges = np.r_[part.left.to_numpy(), part.right.to_numpy()[-1:]]
                ax.stairs(part["count"].to_numpy() + 1, edges, color=colour, lw=1.4,
                          label="epoch 0" if when == "start" else f"epoch {cfg.epochs}")
            ax.set(yscale="log", title=f"{arch}, {opt}", xlabel="weight value",
                   ylabel="count + 1")
            ax.legend(fontsize=8)
    fig.suptitle(f"Weights before and after training ({cfg.inits[0]}, {cfg.datasets[0]})")
    fig.tight_layout()
    return fig


def feature_correlation_within(runs: list, results: list, cfg: Settings) -> plt.Figure:
    """Correlation matrix of one model's live penultimate features (first init and seed),
    arch x optimizer panels."""
    fig, axes = plt.subplots(len(cfg.archs), len(cfg.optimizers), squeeze=False,
                             figsize=(3.8 * len(cfg.optimizers), 3.4 * len(cfg.archs)))
    for i, arch in enumerate(cfg.archs):
        for j, opt in enumerate(cfg.optimizers):
            found = res.find(runs, results, arch=arch, init=cfg.inits[0], optimizer=opt,
                             seed=cfg.seed)
            sns.heatmap(res.within_matrix(found).numpy(), ax=axes[i, j],
                        cbar=j == len(cfg.optimizers) - 1, **HEATMAP)
            axes[i, j].set(title=f"{arch}, {cfg.inits[0]}, {opt}")
    fig.suptitle("Feature correlation within a model")
    fig.tight_layout()
    return fig


def across_columns(cfg: Settings) -> list[tuple[str, dict, str]]:
    """The comparisons of `feature_correlation_across`: (title, the other model's cell, its
    feature tensor): first vs second init, then trained vs each retrained copy."""
    columns = ([(f"{cfg.inits[0]} vs {cfg.inits[1]}", dict(init=cfg.inits[1]), "features")]
               if len(cfg.inits) > 1 else [])
    if cfg.inits[0] in cfg.perturb_inits:
        columns += [(f"trained vs retrained ({p})", dict(init=cfg.inits[0]), f"features_{p}")
                    for p in cfg.perturbations]
    return columns


def feature_correlation_across(runs: list, results: list, cfg: Settings) -> plt.Figure:
    """Cross-correlation of two models' features after greedy matching (matched pairs on the
    diagonal), for the first optimizer and seed: one row per arch, one column per comparison."""
    columns, opt = across_columns(cfg), cfg.optimizers[0]
    fig, axes = plt.subplots(len(cfg.archs), len(columns), squeeze=False,
                             figsize=(3.6 * len(columns), 3.4 * len(cfg.archs)))
    for i, arch in enumerate(cfg.archs):
        a = res.find(runs, results, arch=arch, init=cfg.inits[0], optimizer=opt, seed=cfg.seed)
        for j, (title, other, name) in enumerate(columns):
            b = res.find(runs, results, arch=arch, optimizer=opt, seed=cfg.seed, **other)
            sns.heatmap(res.pair_matrix(a, b, name).numpy(), ax=axes[i, j],
                        cbar=j == len(columns) - 1, **HEATMAP)
            axes[i, j].set_title(f"{arch}: {title}", fontsize=9)
    fig.suptitle(f"Cross-model feature correlation after greedy matching ({opt})")
    fig.tight_layout()
    return fig


def matched_correlation(pairs: pd.DataFrame, perturbed: pd.DataFrame) -> plt.Figure:
    """Mean |r| of matched feature pairs: between inits, and trained vs retrained."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    both = pd.concat([pairs.assign(comparison=pairs.pair),
                      perturbed.assign(comparison="trained vs retrained: "
                                       + perturbed.perturbation)])
    sns.barplot(data=both, y="comparison", x="matched_mean", hue="arch", ax=ax, errorbar="sd")
    ax.set(xlabel="mean |r| of greedily matched feature pairs", ylabel="", xlim=(0, 1))
    ax.set_title("How alike are two models' features? "
                 "(bars: mean over optimizers and seeds, lines: sd)")
    return fig


def perturbation_distance(perturbed: pd.DataFrame, cfg: Settings) -> plt.Figure:
    """||theta_trained - theta_retrained|| per perturbation, with the report's sign-flip
    distances as red crosses."""
    g = sns.catplot(data=perturbed, x="perturbation", y="distance", hue="optimizer", col="arch",
                    kind="bar", height=3.4, aspect=1.0, errorbar="sd",
                    order=list(cfg.perturbations))
    for ax, arch in zip(g.axes.flat, g.col_names):
        if "sign_flip" in cfg.perturbations and arch in res.REPORTED_SIGN_FLIP_DISTANCE:
            _reported_crosses(ax, [list(cfg.perturbations).index("sign_flip")],
                              [res.REPORTED_SIGN_FLIP_DISTANCE[arch]])
    g.set(yscale="log", ylabel="||theta_trained - theta_retrained||")
    g.figure.suptitle(f"Trained vs retrained model after {cfg.retrain_epochs} more epoch(s)  "
                      "(red x: reported sign flip)", y=1.03)
    return g.figure
