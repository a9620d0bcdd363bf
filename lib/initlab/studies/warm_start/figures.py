"""Study 01's figures: each function takes the runs' frames or tensors and returns a Figure,
which the notebook saves with `plots.save` under the figure's usual name."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

from initlab import plots
from initlab.studies.warm_start.results import REPORTED_ACCURACY, REPORTED_SIMILARITY_RANGE

# The ten 3x3 kernels of `tiny_cnn`: two of conv1, then conv2's (output, input) slices.
KERNEL_NAMES = ("c1.0", "c1.1", *(f"c2.{o}.{i}" for o in range(4) for i in range(2)))
METRIC_LABELS = {"cosine": "|cosine|", "pearson": "|Pearson r|", "frobenius": "Frobenius distance"}


def noise_examples(examples: np.ndarray, noises: Sequence[str]) -> plt.Figure:
    """The same images clean (top row) and under each noise: what the noisy models saw."""
    return plots.image_grid(examples, row_labels=("clean", *noises))


def filters(kernels: torch.Tensor | np.ndarray, noises: Sequence[str], label: str) -> plt.Figure:
    """Every noisy model's kernels (models x kernels x 3 x 3), one row per model; red positive,
    blue negative, scaled per model, since the models' weight scales differ."""
    kernels = kernels.numpy() if isinstance(kernels, torch.Tensor) else np.asarray(kernels)
    return plots.image_grid(kernels, row_labels=noises, col_labels=KERNEL_NAMES[:kernels.shape[1]],
                            cmap="RdBu_r", symmetric=True,
                            title=f"Filters of the {len(noises)} source models, {label}")


def similarity_per_filter(similarity: pd.DataFrame, metrics: Sequence[str]) -> plt.Figure:
    """Similarity of each kernel index across model pairs, raw vs aligned, one panel per
    metric, with the original's reported range of per-filter means shaded for scale."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.6), sharex=True,
                             squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        sns.pointplot(data=similarity[similarity.metric == metric], x="filter", y="value",
                      hue="aligned", errorbar=("ci", 95), dodge=0.3, ax=ax, seed=0)
        low, high = REPORTED_SIMILARITY_RANGE[metric]
        ax.axhspan(low, high, color="crimson", alpha=0.12, label="reported range")
        ax.set(title=metric, xlabel="filter index", ylabel=METRIC_LABELS[metric])
        ax.legend(fontsize=8)
    pairs = similarity.groupby(["model_a", "model_b"]).ngroups
    fig.suptitle(f"Similarity of filter i across the {pairs} model pairs (mean, 95% bootstrap "
                 "interval over pairs; shaded: the range reported on MNIST)")
    fig.tight_layout()
    return fig


def accuracy_per_method(test_acc: pd.DataFrame, order: Sequence[str], dataset: str) -> plt.Figure:
    """Test accuracy per method: each iteration a point, the mean with its 95% t-interval
    (from 3 iterations), and the original's reported mean (on MNIST) as a cross; the title
    says when the chart's data set is another one."""
    ax = plots.points_with_mean(test_acc, x="method", y="accuracy", order=list(order),
                                reference={k: v[0] for k, v in REPORTED_ACCURACY.items()})
    sizes = plots.group_sizes(test_acc[test_acc.method.isin(order)], "method", "accuracy")
    where = "MNIST" if dataset == "mnist" else f"MNIST, not {dataset}"
    ax.set(ylabel="test accuracy (%)", xlabel="",
           title=f"Test accuracy per method on {dataset}\n(points: iterations; "
                 f"{plots.interval_caption(sizes)}; red x: reported on {where})")
    plt.setp(ax.get_xticklabels(), ha="right", rotation_mode="anchor")
    return ax.figure
