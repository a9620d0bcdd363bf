"""Study 04's tables, from the stored runs' frames (never trains: `runs.run_all` loads or
computes the runs, these functions only reshape what they stored), and the original report's
numbers to compare with.
"""

from __future__ import annotations

import pandas as pd

from initlab import tables

# The original report. Baselines: (data set, best validation accuracy (%), its epoch).
REPORTED_BASELINES = {"simple_cnn": ("mnist", 99.01, 10), "reduced_alexnet": ("cifar10", 72.0, 14)}
# Transfer (Alien vs Predator, 200 validation images): accuracy, and a linear classifier's
# accuracy on the 2-D t-SNE embedding of each variant's features.
REPORTED_TRANSFER = {"scratch": 0.72, "svm": 0.905, "head": 0.935, "head_aug": 0.95}
REPORTED_EMBEDDING = {"scratch": 0.70, "svm": 0.79, "head": 0.84, "head_aug": 0.93}
REPORTED_DATA = "alien vs predator"
VARIANT_NAMES = {"scratch": "from scratch", "svm": "frozen backbone + linear SVM",
                 "head": "fine-tuned head", "head_aug": "fine-tuned head + augmentation"}
"""The transfer variants in the order every table and figure shows them, with their names."""

BASELINE_COLUMNS = ["model", "dataset", "parameters", "train_images", "epochs",
                    "test_accuracy", "best_val_accuracy", "best_epoch"]
CONFUSED_COLUMNS = ["model", "dataset", "class_a", "class_b", "a_as_b", "b_as_a", "total"]
EMBEDDING_COLUMNS = ["model", "dataset", "layer", "dims", "accuracy"]


def baselines(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per baseline model (the gathered `summary` tables), accuracies in percent as
    the original reports them."""
    table = summary[BASELINE_COLUMNS]
    return table.assign(test_accuracy=100 * table.test_accuracy,
                        best_val_accuracy=100 * table.best_val_accuracy)


def most_confused(confused: pd.DataFrame) -> pd.DataFrame:
    """Each model's two most confused class pairs (the gathered `confused` tables)."""
    return confused[CONFUSED_COLUMNS]


def confused_pairs(table: pd.DataFrame) -> str:
    """The most confused pairs in words, one Markdown paragraph per model."""
    lines = []
    for model, rows in table.groupby("model", sort=False):
        pairs = "; ".join(f"{r.class_a} / {r.class_b} ({r.total} images)"
                          for r in rows.itertuples())
        lines.append(f"**{model}**, the two most confused pairs: {pairs}")
    return "\n\n".join(lines)


def embedding_baselines(embedding: pd.DataFrame) -> pd.DataFrame:
    """The linear probe's accuracy on each baseline's 2-D t-SNE embeddings (gathered
    `embedding` tables)."""
    return embedding[EMBEDDING_COLUMNS]


def beside_reported(frame: pd.DataFrame, reported: dict[str, float]) -> pd.DataFrame:
    """Mean, std and count over seeds of `accuracy` per variant, the original's number beside
    ours and their difference; rows named by `VARIANT_NAMES`, in its order."""
    order = list(VARIANT_NAMES)
    table = (tables.summarize(frame, ["variant"], "accuracy", ("mean", "std", "count"))
             .set_index("variant").loc[order])
    table.insert(0, "reported", [reported[v] for v in order])
    table["ours - reported"] = table["mean"] - table["reported"]
    return table.rename(index=VARIANT_NAMES)


def reported_vs_ours(baselines_table: pd.DataFrame, transfer_accuracy: pd.DataFrame,
                     transfer_embedding: pd.DataFrame, our_data: str) -> pd.DataFrame:
    """Every number of the original report beside ours: the baselines' best validation
    accuracy (from `baselines`) and the transfer tables (from `beside_reported`); `our_data`
    names the transfer task we ran on (image folder or data set)."""
    rows = []
    for row in baselines_table.itertuples():
        dataset, value, epoch = REPORTED_BASELINES[row.model]
        rows.append(dict(what=f"{row.model}: best validation accuracy (%)", reported=value,
                         reported_data=dataset, ours=row.best_val_accuracy, our_data=row.dataset,
                         our_epoch=row.best_epoch, reported_epoch=epoch))
    for table, what in ((transfer_accuracy, "transfer accuracy"),
                        (transfer_embedding, "t-SNE linear probe")):
        for name, row in table.iterrows():
            rows.append(dict(what=f"{what}: {name}", reported=row.reported,
                             reported_data=REPORTED_DATA, ours=row["mean"], our_data=our_data))
    return pd.DataFrame(rows)
