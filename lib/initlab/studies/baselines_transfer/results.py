"""Study 04's tables, from the stored runs' frames (never trains: `runs.run_all` loads or
computes the runs, these functions only reshape what they stored), and the original report's
numbers to compare with. Every accuracy a table shows is in percent (printed to one decimal),
every mean has its n beside it, and intervals are left empty where n < 3 (`tables.describe`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from initlab import tables
from initlab.studies.baselines_transfer import intervals

# The original report. Baselines: (data set, best validation accuracy (%), its epoch).
REPORTED_BASELINES = {"simple_cnn": ("mnist", 99.01, 10), "reduced_alexnet": ("cifar10", 72.0, 14)}
# Transfer (Alien vs Predator, 200 validation images): accuracy (%), and a linear classifier's
# accuracy (%) on the 2-D t-SNE embedding of each variant's features.
REPORTED_TRANSFER = {"scratch": 72.0, "svm": 90.5, "head": 93.5, "head_aug": 95.0}
REPORTED_EMBEDDING = {"scratch": 70.0, "svm": 79.0, "head": 84.0, "head_aug": 93.0}
REPORTED_DATA = "alien vs predator"
VARIANT_NAMES = {"scratch": "from scratch", "svm": "frozen backbone + linear SVM",
                 "head": "fine-tuned head", "head_aug": "fine-tuned head + augmentation"}
"""The transfer variants in the order every table and figure shows them, with their names."""
BASELINE_VARIANT = "scratch"
"""What the other transfer variants are tested against: the study asks what pretraining adds."""

BASELINE_COLUMNS = ["model", "dataset", "seed", "parameters", "train_images", "epochs",
                    "test_accuracy", "best_val_accuracy", "best_epoch"]
MEASURES = {"test_accuracy": "test accuracy, last epoch",
            "best_val_accuracy": "best validation accuracy"}
CONFUSED_COLUMNS = ["model", "dataset", "seed", "class_a", "class_b", "a_as_b", "b_as_a",
                    "total"]
EMBEDDING_COLUMNS = ["model", "dataset", "seed", "layer", "dims", "accuracy"]
DIGITS = {"mean": 1, "sd": 1, "ci95_low": 1, "ci95_high": 1, "boot95_low": 1, "boot95_high": 1,
          "ours_low": 1, "ours_high": 1, "reported": 1, "ours": 1,
          "ours - reported": 1, "difference": 1, "accuracy": 1, "test_accuracy": 1,
          "best_val_accuracy": 1, "p_value": 3, "p_holm": 3}
"""How each column is printed: accuracies and their differences in % to one decimal."""


def percent(frame: pd.DataFrame, column: str = "accuracy") -> pd.DataFrame:
    """`frame` with `column` (a fraction, as the runs store it) in percent."""
    return frame.assign(**{column: 100 * frame[column]})


def baselines(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per baseline run, model and seed (the gathered `summary` tables), accuracies
    in percent as the original reports them."""
    table = summary[BASELINE_COLUMNS]
    return table.assign(test_accuracy=100 * table.test_accuracy,
                        best_val_accuracy=100 * table.best_val_accuracy)


def baseline_accuracy(table: pd.DataFrame) -> pd.DataFrame:
    """Both accuracies of each baseline (from `baselines`) in long form, one row per model,
    seed and measure: what `describe_baselines` and the figure of the seeds read."""
    return table.melt(id_vars=["model", "dataset", "seed"], value_vars=list(MEASURES),
                      var_name="measure", value_name="accuracy").assign(
        measure=lambda d: d.measure.map(MEASURES))


def describe_baselines(table: pd.DataFrame) -> pd.DataFrame:
    """Per model, data set and measure: mean over seeds, sd, n (seeds) and 95% interval."""
    accuracy = baseline_accuracy(table)
    summary = tables.describe(accuracy, ["model", "dataset", "measure"], "accuracy")
    models = {m: i for i, m in enumerate(accuracy.model.unique())}
    return summary.sort_values("model", key=lambda m: m.map(models), kind="stable",
                               ignore_index=True)


def most_confused(confused: pd.DataFrame) -> pd.DataFrame:
    """Each model's two most confused class pairs per seed (the gathered `confused` tables)."""
    return confused[CONFUSED_COLUMNS]


def confused_pairs(table: pd.DataFrame) -> str:
    """The most confused pairs in words, one Markdown paragraph per model and seed."""
    lines = []
    for (model, seed), rows in table.groupby(["model", "seed"], sort=False):
        pairs = "; ".join(f"{r.class_a} / {r.class_b} ({r.total} images)"
                          for r in rows.itertuples())
        lines.append(f"**{model}** (seed {seed}), the two most confused pairs: {pairs}")
    return "\n\n".join(lines)


def embedding_baselines(embedding: pd.DataFrame) -> pd.DataFrame:
    """The linear probe's accuracy (%) on each baseline's 2-D t-SNE embeddings, per seed
    (the gathered `embedding` tables)."""
    return percent(embedding[EMBEDDING_COLUMNS])


def describe_embedding(table: pd.DataFrame) -> pd.DataFrame:
    """The probe's accuracy (from `embedding_baselines`) per model and layer over seeds."""
    return tables.describe(table, ["model", "dataset", "layer", "dims"], "accuracy")


def beside_reported(frame: pd.DataFrame, reported: dict[str, float],
                    correct: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per variant: the original's number, our mean over seeds with sd, n and 95% t-interval
    (from a gathered table in percent), and ours minus reported; rows named by
    `VARIANT_NAMES`, in its order. With the runs' per-image `correct` tables, also the 95%
    bootstrap interval over seeds *and* validation images (`intervals.two_way`): the
    t-interval sees only the seeds (the SVM's is empty or zero: no seed changes it)."""
    order = list(VARIANT_NAMES)
    table = tables.describe(frame, ["variant"], "accuracy").set_index("variant").loc[order]
    table.insert(0, "reported", [reported[v] for v in order])
    table["ours - reported"] = table["mean"] - table["reported"]
    if correct is not None:
        boot = intervals.two_way(correct).set_index("variant").loc[order]
        table["boot95_low"], table["boot95_high"] = boot.boot_low, boot.boot_high
    return table.rename(index=VARIANT_NAMES)


def paired_bootstrap(correct: pd.DataFrame) -> pd.DataFrame:
    """Each variant minus `BASELINE_VARIANT` (points) with the 95% bootstrap interval over
    seeds and validation images, image by image (`intervals.paired`); rows in
    `VARIANT_NAMES` order."""
    table = intervals.paired(correct, BASELINE_VARIANT).set_index("variant")
    order = [v for v in VARIANT_NAMES if v != BASELINE_VARIANT]
    table = table.loc[order].rename(columns=dict(boot_low="boot95_low", boot_high="boot95_high"))
    return table.rename(index=VARIANT_NAMES).reset_index()


def paired_vs_baseline(frame: pd.DataFrame) -> pd.DataFrame:
    """Each variant minus `BASELINE_VARIANT` under the same seed (the variants share the task's
    images and the seed), with Holm's correction over the three variants tested."""
    paired = tables.paired_tests(frame, by="variant", pair_on="seed", baseline=BASELINE_VARIANT,
                                 value="accuracy")
    order = [v for v in VARIANT_NAMES if v != BASELINE_VARIANT]
    return paired.set_index("variant").loc[order].rename(index=VARIANT_NAMES).reset_index()


def paired_in_words(paired: pd.DataFrame, alpha: float = 0.05) -> str:
    """The paired comparison in one Markdown sentence per variant, every number computed."""
    base = VARIANT_NAMES[BASELINE_VARIANT]
    lines = []
    for r in paired.itertuples():
        test = ("too few to test" if pd.isna(r.p_holm) else
                f"Holm-adjusted p {_p(r.p_holm)}, "
                f"{'' if r.p_holm < alpha else 'not '}significant at {alpha}")
        lines.append(f"- {r.variant}: {r.difference:+.1f} points against {base} "
                     f"(n = {r.n} seeds, {test})")
    return "\n".join(lines)


def _p(p: float) -> str:
    """A p-value for prose: "= 0.012", or "< 0.001" where three decimals would print 0."""
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def reported_vs_ours(baselines_table: pd.DataFrame, transfer_accuracy: pd.DataFrame,
                     transfer_embedding: pd.DataFrame, our_data: str, as_run: bool = False,
                     in_effect: str = "") -> pd.DataFrame:
    """Every number of the original report beside ours, in percent with our n: the baselines'
    best validation accuracy (mean over seeds of the runs in `baselines`, with each seed's
    best epoch) and the transfer tables (from `beside_reported`); `our_data` names the
    transfer task we ran on. `ours_low`/`ours_high` is our 95% interval, of the kind
    `interval` names: over seeds and validation images (bootstrap) where the transfer table
    has one, over seeds (t) otherwise. Every row says under which settings ours were
    computed: `as_run` and the settings holding the original's behaviour (`in_effect`)."""
    rows = []
    for (model, dataset), runs in baselines_table.groupby(["model", "dataset"], sort=False):
        reported_data, value, epoch = REPORTED_BASELINES[model]
        _, low, high, _ = tables.t_interval(runs.best_val_accuracy)
        rows.append(dict(what=f"{model}: best validation accuracy", reported=value,
                         reported_data=reported_data, ours=runs.best_val_accuracy.mean(),
                         n=len(runs), ours_low=low, ours_high=high, interval="seeds (t)",
                         our_data=dataset, reported_epoch=str(epoch),
                         our_epochs=", ".join(map(str, runs.best_epoch))))
    for table, what in ((transfer_accuracy, "transfer accuracy"),
                        (transfer_embedding, "t-SNE linear probe")):
        boot = "boot95_low" in table
        for name, row in table.iterrows():
            rows.append(dict(what=f"{what}: {name}", reported=row.reported,
                             reported_data=REPORTED_DATA, ours=row["mean"], n=int(row.n),
                             ours_low=row["boot95_low" if boot else "ci95_low"],
                             ours_high=row["boot95_high" if boot else "ci95_high"],
                             interval="seeds and validation images (bootstrap)" if boot
                             else "seeds (t)", our_data=our_data, reported_epoch="",
                             our_epochs=""))
    table = pd.DataFrame(rows)
    table.insert(1, "as_run", as_run)
    table.insert(2, "original's behaviour in effect", in_effect or "none")
    return table


def original_in_effect(cfg: Any) -> str:
    """The settings of `cfg` that hold the original's value (its class's `AS_RUN`), in words."""
    same = [f"{k}={getattr(cfg, k)}" for k, v in type(cfg).AS_RUN.items()
            if getattr(cfg, k) == v]
    return ", ".join(same) or "none"
