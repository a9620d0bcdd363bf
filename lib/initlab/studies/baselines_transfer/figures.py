"""Study 04's figures: each function takes stored runs' frames or results and returns a Figure,
which the notebook saves with `plots.save` under the figure's usual name."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator

from initlab import plots, tables
from initlab.studies.baselines_transfer.results import (
    MEASURES,
    REPORTED_BASELINES,
    REPORTED_DATA,
    REPORTED_TRANSFER,
    VARIANT_NAMES,
)


def _integer_epochs(grid: sns.FacetGrid) -> None:
    """Whole epochs on every x axis (a short run would otherwise show 1.5, 2.5, ...)."""
    for ax in grid.axes.flat:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def in_percent(curves: pd.DataFrame) -> pd.DataFrame:
    """Accuracy rows (stored as fractions) in %, named `accuracy (%)`, as in every other
    figure and table; loss rows as they are."""
    accuracy = curves.metric == "accuracy"
    return curves.assign(value=curves.value.where(~accuracy, 100 * curves.value),
                         metric=curves.metric.where(~accuracy, "accuracy (%)"))


def learning_curves(curves: pd.DataFrame, title: str) -> plt.Figure:
    """Loss and accuracy (%) per epoch, train vs validation, one row per baseline model and
    one line per seed (each seed drawn, not a mean: the spread is what the seeds show)."""
    grid = sns.relplot(data=in_percent(curves), x="epoch", y="value", hue="split",
                       style="split", units="seed", estimator=None, row="model", col="metric",
                       kind="line", markers=True, height=2.8, aspect=1.4, alpha=0.8,
                       facet_kws=dict(sharey=False))
    grid.set_titles("{row_name}: {col_name}")
    grid.set_axis_labels("epoch", "")
    _integer_epochs(grid)
    grid.figure.suptitle(title, y=1.02)
    return grid.figure


def baseline_seeds(accuracy: pd.DataFrame) -> plt.Figure:
    """Each baseline's accuracies (%) over seeds (`results.baseline_accuracy`): one panel per
    model and data set, every seed a point, the mean as a diamond with its 95% t-interval
    (none where n < 3, as in the tables), and the original's best validation accuracy as a
    cross where it was measured on the same data set."""
    groups = list(accuracy.groupby(["model", "dataset"], sort=False))
    fig, axes = plt.subplots(1, len(groups), figsize=(4.6 * len(groups), 4), squeeze=False)
    for ax, ((model, dataset), rows) in zip(axes[0], groups):
        measures = list(dict.fromkeys(rows.measure))
        for x, measure in enumerate(measures):
            values = rows[rows.measure == measure].accuracy.to_numpy()
            mean, low, high, _ = tables.t_interval(values)
            ax.scatter(np.full(len(values), x - 0.12), values, s=36, alpha=0.7, color="C0",
                       label="seeds" if x == 0 else None)
            ax.errorbar(x + 0.12, mean, yerr=None if np.isnan(low) else [[mean - low],
                        [high - mean]], fmt="D", color="k", capsize=5,
                        label="mean" if x == 0 else None)
        reported_data, value, _ = REPORTED_BASELINES[model]
        if reported_data == dataset:
            ax.scatter([measures.index(MEASURES["best_val_accuracy"])], [value], marker="x",
                       s=60, color="crimson", zorder=5, label="reported")
        ax.set(xticks=range(len(measures)), xlim=(-0.6, len(measures) - 0.4),
               xticklabels=[textwrap.fill(m, 16) for m in measures],
               title=f"{model} on {dataset} ({rows.seed.nunique()} seeds)", ylabel="accuracy (%)")
        ax.legend(fontsize=8)
    fig.suptitle("Baselines over seeds (diamonds: mean, 95% t-interval where n >= 3)")
    fig.tight_layout()
    return fig


def confusion(runs: Sequence, results: Sequence[dict]) -> plt.Figure:
    """Each baseline's confusion matrix on the whole test split (rows: true class)."""
    fig, axes = plt.subplots(1, len(runs), figsize=(6.5 * len(runs), 5.6), squeeze=False)
    for ax, run, result in zip(axes[0], runs, results):
        names = list(result["classes"]["name"])
        sns.heatmap(result["confusion"].numpy(), annot=True, fmt="d", cmap="Blues", cbar=False,
                    ax=ax, xticklabels=names, yticklabels=names, annot_kws=dict(fontsize=7))
        ax.set(title=f"{run.model} on {run.dataset}", xlabel="predicted", ylabel="true")
        ax.tick_params(axis="x", rotation=45)
        ax.tick_params(axis="y", rotation=0)
    fig.tight_layout()
    return fig


def tsne_baselines(runs: Sequence, results: Sequence[dict],
                   embedding: pd.DataFrame) -> plt.Figure:
    """t-SNE of each baseline's intermediate features and outputs, coloured by class; the
    titles give the linear probe's accuracy (%) from `embedding` (results.embedding_baselines)
    for the run's seed."""
    fig, axes = plt.subplots(len(runs), 2, figsize=(11, 4.6 * len(runs)), squeeze=False)
    for row, run, result in zip(axes, runs, results):
        names = list(result["classes"]["name"])
        labels = [names[i] for i in result["tsne_labels"].tolist()]
        for ax, layer in zip(row, ("intermediate", "output")):
            points = result[f"tsne_{layer}"].numpy()
            probe = embedding[(embedding.model == run.model) & (embedding.layer == layer)
                              & (embedding.seed == run.seed)].iloc[0]
            sns.scatterplot(x=points[:, 0], y=points[:, 1], hue=labels, hue_order=names,
                            palette="tab10", s=8, linewidth=0, ax=ax, legend=layer == "output")
            ax.set(title=f"{run.model}, {layer} ({probe.dims}-d): linear probe "
                         f"{probe.accuracy:.1f}%", xticks=[], yticks=[])
        row[1].legend(loc="center left", bbox_to_anchor=(1, 0.5), fontsize=8, markerscale=2)
    fig.tight_layout()
    return fig


def transfer_accuracy(accuracy: pd.DataFrame, task: str) -> plt.Figure:
    """Validation accuracy (%) per variant: seeds as points, the mean with its 95% t-interval
    (where n >= 3), and the original's number as a cross."""
    ax = plots.points_with_mean(
        accuracy.assign(variant=accuracy.variant.map(VARIANT_NAMES)), x="variant", y="accuracy",
        order=list(VARIANT_NAMES.values()),
        reference={VARIANT_NAMES[k]: v for k, v in REPORTED_TRANSFER.items()})
    sizes = plots.group_sizes(accuracy, "variant", "accuracy")
    ax.set(xlabel="", ylabel="validation accuracy (%)",
           title=f"Transfer on {task}\n(points: seeds; {plots.interval_caption(sizes)}; "
                 f"red x: reported on {REPORTED_DATA})")
    plt.setp(ax.get_xticklabels(), ha="right", rotation_mode="anchor")
    return ax.figure


def transfer_curves(curves: pd.DataFrame) -> plt.Figure:
    """Loss and accuracy (%) per epoch of the trained variants (one seed's `curves`)."""
    grid = sns.relplot(data=in_percent(curves), x="epoch", y="value", hue="split",
                       style="split", row="metric", col="variant", kind="line", markers=True,
                       height=2.6, aspect=1.2, facet_kws=dict(sharey="row", sharex=False))
    grid.set_titles("{col_name}: {row_name}")
    grid.set_axis_labels("epoch", "")
    _integer_epochs(grid)
    return grid.figure


def tsne_transfer(run, result: dict, probes: pd.DataFrame) -> plt.Figure:
    """t-SNE of what each variant classifies from, for one transfer run (`result`), with the
    linear probe's accuracy (%) from `probes` (the gathered `embedding` tables, in percent)
    for its seed; a variant that reads another's features (`features`) says whose."""
    order = list(VARIANT_NAMES)
    names = list(result["task"]["classes"][0].split(", "))
    labels = [names[i] for i in result["labels"].tolist()]
    fig, axes = plt.subplots(1, len(order), figsize=(4.2 * len(order), 4.2))
    for ax, variant in zip(axes, order):
        points = result[f"tsne_{variant}"].numpy()
        probe = probes[(probes.variant == variant) & (probes.seed == run.seed)].iloc[0]
        source = probe.get("features", variant)
        shared = "" if source == variant else f" (the {source} features)"
        sns.scatterplot(x=points[:, 0], y=points[:, 1], hue=labels, hue_order=names, s=14,
                        linewidth=0, ax=ax, legend=variant == order[-1])
        ax.set(title=f"{VARIANT_NAMES[variant]}\nlinear probe {probe.accuracy:.1f}%{shared}",
               xticks=[], yticks=[])
    fig.tight_layout()
    return fig
