"""Study 03's figures: each function takes the gathered frames (or a `results` table) and
returns a matplotlib Figure; the notebook saves it with `plots.save`.

Every init keeps one colour across figures (the matrix inits in dark tones, Kaiming NFM black),
and line style marks the family (standard vs NFM/AGOP), so a figure reads without its legend's
colours alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator

from initlab import plots
from initlab.inits.matrix import MATRIX_METHODS
from initlab.studies.agop_nfm_init import results
from initlab.studies.agop_nfm_init.settings import STUDY_INITS

FAMILIES = ["standard", "matrix (NFM/AGOP)", "yours"]


def family(init: str) -> str:
    """'matrix (NFM/AGOP)' for the inits drawn from a source's matrices, 'yours' for an init
    the study does not define (settings `inits`), else 'standard'."""
    if init not in STUDY_INITS:
        return FAMILIES[2]
    return FAMILIES[1] if init in MATRIX_METHODS else FAMILIES[0]


def palette(order: Sequence[str]) -> dict[str, tuple]:
    """A fixed colour per init (colour-blind palette), whatever subset of inits ran; the
    user's own inits take colours of their own, in the order given."""
    colors = sns.color_palette("colorblind", 10)
    fixed = dict(zip(STUDY_INITS, colors[:5] + [colors[9], colors[8], colors[7], (0, 0, 0),
                                                 colors[6]]))
    yours = [i for i in order if i not in fixed]
    fixed.update(zip(yours, [colors[5], *sns.color_palette("dark", max(len(yours), 1))]))
    return {i: fixed[i] for i in order}


def _integer_epochs(grid: sns.FacetGrid) -> None:
    """Whole epochs on the x axis (a few-epoch smoke run would otherwise show 0.25 steps)."""
    for ax in grid.axes.flat:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def ansatz_correlation(ansatz: pd.DataFrame, pretrained: str) -> plt.Figure:
    """corr(NFM, AGOP) and corr(NFM, AGOP^(1/2)) per conv layer, one panel per target data
    set; solid: the source network, dashed: an untrained VGG of the same shape."""
    g = sns.relplot(data=ansatz, x="layer", y="correlation", hue="matrix", style="network",
                    col="target", kind="line", markers=True,
                    dashes={"trained": "", "untrained": (3, 2)}, height=3.6, aspect=1.3)
    g.set(ylim=(min(0, ansatz.correlation.min() - 0.05), 1.02),
          xticks=sorted(ansatz.layer.unique()), xlabel="conv layer")
    g.set_titles("AGOP images: {col_name}")
    g.figure.suptitle("Neural feature ansatz: corr(NFM, AGOP) per layer "
                      f"(source: {pretrained})", y=1.04)
    return g.figure


def _families(inits: Sequence[str]) -> list[str]:
    """The line-style families of the inits shown, in the fixed order (no 'yours' entry in a
    legend where no init of the user's ran)."""
    present = {family(i) for i in inits}
    return [f for f in FAMILIES if f in present]


def _runs(frame: pd.DataFrame, keys: Sequence[str]) -> int:
    """The most seeds behind one point of a curve: a band is drawn only from two."""
    return int(frame.groupby(list(keys)).seed.nunique().max()) if len(frame) else 0


def accuracy_curves(curves: pd.DataFrame, order: Sequence[str]) -> plt.Figure:
    """Training and validation accuracy (%) per epoch and init, mean over runs (band: sd,
    where there are two runs or more); rows: data sets, columns: train / val."""
    acc = curves.query("metric == 'accuracy'").assign(
        family=lambda f: f.init.map(family), **{"accuracy %": lambda f: 100 * f.value})
    g = sns.relplot(data=acc, x="epoch", y="accuracy %", hue="init", hue_order=order,
                    palette=palette(order), style="family", style_order=_families(order),
                    col="split", col_order=["train", "val"], row="dataset", kind="line",
                    errorbar="sd", height=3.4, aspect=1.25, facet_kws=dict(sharey=True))
    g.set_titles("{row_name}: {col_name}")
    _integer_epochs(g)
    band = plots.spread_caption(_runs(acc, ["dataset", "init", "split", "epoch"]))
    g.figure.suptitle(f"Accuracy per init (mean over runs, {band})", y=1.02)
    return g.figure


def loss_gap(gap: pd.DataFrame, order: Sequence[str]) -> plt.Figure:
    """Validation minus training loss per epoch and init (`results.loss_gap`), one panel per
    data set, with the zero line."""
    gap = gap.assign(family=lambda f: f.init.map(family))
    g = sns.relplot(data=gap, x="epoch", y="gap", hue="init", hue_order=order,
                    palette=palette(order), style="family", style_order=_families(order),
                    col="dataset", kind="line", errorbar="sd", height=3.4, aspect=1.3)
    g.refline(y=0, color="0.4", lw=0.8)
    g.set(ylabel="validation - training loss")
    _integer_epochs(g)
    g.set_titles("{col_name}")
    band = plots.spread_caption(_runs(gap.dropna(subset=["gap"]), ["dataset", "init", "epoch"]))
    g.figure.suptitle(f"Generalization gap per init (mean over runs, {band})", y=1.04)
    return g.figure


def accuracy_per_init(frame: pd.DataFrame, value: str, datasets: Sequence[str],
                      order: Sequence[str], label: str, reported: bool = False) -> plt.Figure:
    """`value` (an accuracy in %) per run as points, mean with its 95% t-interval (the
    tables'; none where n < 3) as diamonds, one panel per data set; with `reported`, the
    original's number as crosses (only for its own measure, the best validation accuracy)."""
    width = max(6, 0.9 * len(order) + 2) * len(datasets)
    fig, axes = plt.subplots(1, len(datasets), figsize=(width, 4.2), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        plots.points_with_mean(frame[frame.dataset == dataset], x="init", y=value,
                               order=list(order), ax=ax,
                               reference=results.reported_for(dataset) if reported else None)
        part = frame[(frame.dataset == dataset) & frame.init.isin(order)]
        ax.set(title=f"{dataset}: {label}\n(points: runs; "
                     f"{plots.interval_caption(plots.group_sizes(part, 'init', value))})",
               ylabel=f"{label} (%)", xlabel="")
    fig.tight_layout()
    return fig
