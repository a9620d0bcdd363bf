"""Study 02's numbers: per-epoch curves, per-condition summaries, the best clustered settings
(a description), the paired tests of every condition against random init, the runs' scores for
the cross-study comparison, the original report's numbers and the comparison with ours. Pure
functions of stored results and frames: nothing here trains, reads the store or plots.

The runs are target tasks x seeds: a task's seeds share its data, so every interval and test
takes the task as its unit (seeds averaged within a task first), and pairs match on
(task, seed). Intervals and p-values are left empty where fewer than 3 tasks were run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from initlab import store, tables
from initlab.studies.clustered_init import original
from initlab.studies.clustered_init.design import label
from initlab.studies.clustered_init.settings import ClusteredInitSettings
from initlab.studies.clustered_init.specs import INITS, STUDY, SourceRun, TargetRun, task_name

__all__ = ["label"]  # re-exported: the notebook and figures name conditions with it

# The original report: mean validation top-1 (%) at epoch 15 over 50 runs (Fourier = the
# original code's real-part FFT, our `fourier_real`).
REPORTED_BASELINES = {"random": 60.16, "pretrained": 60.08}
REPORTED_GABOR = {1: 62.42, 2: 61.81, 6: 59.28, 10: 50.97, 17: 39.62}
REPORTED_BY_CLUSTERS = {  # N = 10, L = 17 (K = 2 is the report's best setting, Figure 2)
    "euclidean": {1: 59.49, 2: 64.99, 3: 64.58, 10: 63.09, 30: 62.49, 50: 62.55},
    "fourier_real": {1: 59.95, 2: 65.16, 3: 64.45, 10: 64.72, 30: 64.08, 50: 64.36},
}
REPORTED_BY_LAYERS = {  # N = 10, K = 10
    "euclidean": {1: 60.99, 2: 60.45, 6: 61.54, 10: 63.24, 17: 63.57},
    "fourier_real": {1: 60.05, 2: 60.56, 6: 61.30, 10: 64.01, 17: 64.26},
}
REPORTED_BY_SOURCES = {  # K = 10, L = 17
    "euclidean": {2: 63.42, 4: 63.42, 6: 63.72, 10: 63.64, 20: 63.50},
    "fourier_real": {2: 63.60, 4: 63.94, 6: 64.35, 10: 63.97, 20: 63.88},
}
REPORTED_CUSTOM = {"random": 58.84, 1: 58.85, 2: 58.57, 4: 58.74}  # aligned: greedy (original)
REPORTED_TINY = {"random": (28.246, 30.924), "pretrained": (28.338, 30.268),
                 "clustered": (31.1, 35.374)}  # epoch 5, epoch 15; 5 runs
REPORTED_SOURCES = {"mean": 58.0, "min": 43.0, "max": 70.2}  # final val accuracy, 45 models
# Rounding of the saved and shown tables: accuracies in % to one decimal, p-values to three
DIGITS = {c: 1 for c in ("mean", "sd", "ci95_low", "ci95_high", "difference", "accuracy", "min",
                         "max", "value", "ours_mean", "ours_ci95", "ours_minus_reported")}
DIGITS.update(p_value=3, p_holm=3, reported=2)
CONDITION_FIELDS = ("init", "distance", "n_sources", "clusters", "layers", "matching", "noise",
                    "rescale", "custom")


def curves(runs: list[TargetRun], results: list[store.Result]) -> pd.DataFrame:
    """Validation accuracy (%) per run and epoch, with the condition fields, a label and the
    (target task, seed) pair that paired comparisons match on."""
    frame = store.gather(runs, results, "curves")
    frame = frame[(frame.split == "val") & (frame.metric == "accuracy")].copy()
    frame["accuracy"] = 100 * frame.value
    frame["label"] = [label(row) for _, row in frame.iterrows()]
    frame["pair"] = frame.task.astype(str) + "/" + frame.seed.astype(str)
    return frame.reset_index(drop=True)


def final(frame: pd.DataFrame) -> pd.DataFrame:
    """Each run's last epoch."""
    return frame[frame.epoch == frame.epoch.max()].reset_index(drop=True)


def condition_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Final accuracy per condition (design order) with its settings as columns: mean, sd, n
    and 95% t-interval over target tasks (each task's seeds averaged first: the seeds of a
    task share its data, so the task is the independent unit; no interval where n < 3)."""
    fields = [f for f in CONDITION_FIELDS if f in frame.columns]
    return tables.describe(final(frame), ["label", *fields], value="accuracy", unit="task")


def best_clustered(table: pd.DataFrame) -> pd.DataFrame:
    """Per distance, the clustered condition with the highest mean final accuracy. Picked on
    the data it is reported on (as the original did), so it is a description, never a test:
    `paired_vs_random` tests every setting with Holm's correction instead."""
    clustered = table[table.init == "clustered"]
    return clustered.loc[clustered.groupby("distance", sort=False)["mean"].idxmax()]


def best_gabor(table: pd.DataFrame) -> str:
    """The label of the Gabor setting with the highest mean final accuracy (last on ties)."""
    return table[table.init == "gabor"].sort_values("mean").label.iloc[-1]


def main_labels(table: pd.DataFrame) -> list[str]:
    """Figure 2's conditions: random, pretrained, the best Gabor and best clustered ones, and
    the user's own inits (settings `inits`)."""
    return ["random", "pretrained", best_gabor(table), *best_clustered(table).label,
            *user_labels(table)]


def user_labels(table: pd.DataFrame) -> list[str]:
    """The labels of the user's own inits (any init the study does not define)."""
    return list(dict.fromkeys(table.label[~table.init.isin(INITS)]))


def best_text(best: pd.DataFrame) -> str:
    """One Markdown line naming the best clustered setting per distance and its accuracy."""
    return ("Highest mean per distance (picked on the same validation data, so descriptive "
            "only; the tests below cover every setting): " + "; ".join(
                f"`{b.label}` {b['mean']:.1f}% (n = {b.n})" for _, b in best.iterrows()))


def interval_note(*frames: pd.DataFrame) -> str:
    """The sentence a notebook prints under its tables: where n < 3 no interval is shown."""
    rows = pd.concat([f[["n"]] for f in frames], ignore_index=True)
    few = int((rows.n < 3).sum())
    return (f"Intervals and p-values need n >= 3 units (target tasks): {few} of {len(rows)} "
            "rows have fewer and are left empty.")


def paired_vs_random(frame: pd.DataFrame) -> pd.DataFrame:
    """Final accuracy of every condition minus random init (custom-model conditions: minus
    random custom init), paired on (target task, seed), averaged within each task and tested
    over tasks. `p_holm` is Holm's correction over every row of the table: all settings are
    tested, none is singled out after looking at the results."""
    last = final(frame)
    custom = last.custom.astype(bool)
    parts = [(last[~custom], "random"), (last[custom], "random (custom)")]
    table = pd.concat([tables.paired_tests(rows, by="label", pair_on=["task", "seed"],
                                           baseline=base, value="accuracy", unit="task")
                       .assign(baseline=base)
                       for rows, base in parts if base in set(rows.label)], ignore_index=True)
    table["p_holm"] = tables.holm(table.p_value.to_numpy())
    order = {name: i for i, name in enumerate(dict.fromkeys(last.label))}  # design order
    table = table.sort_values("label", key=lambda c: c.map(order)).reset_index(drop=True)
    return table[["label", "baseline", "difference", "ci95_low", "ci95_high", "n", "p_value",
                  "p_holm"]]


def holm_text(paired: pd.DataFrame, level: float = 0.05) -> str:
    """One sentence: how many of the tested settings differ from their baseline at Holm's
    adjusted p < `level`, and which, with their mean difference."""
    tested = paired.dropna(subset=["p_holm"])
    if tested.empty:
        return "No setting could be tested (every row has fewer than 3 target tasks)."
    hits = tested[tested.p_holm < level]
    names = "; ".join(f"`{r.label}` {r.difference:+.1f} points" for r in hits.itertuples())
    return (f"Of the {len(tested)} settings tested against their random baseline, {len(hits)} "
            f"differ at Holm-adjusted p < {level}" + (f": {names}." if names else "."))


def init_scores(frame: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """One row per run for the cross-study comparison (`initlab compare`): its final
    validation accuracy (%) and its condition's label.

    `unit` is the target task ("task=5-6"), the independent unit of this study: the comparison
    averages a unit's rows (the task's seeds) before its intervals and pairs, so n counts tasks,
    as in this study's own tables; `seed` completes the run's (task, seed) pairing key. The
    custom ResNet-18's conditions are another model, so their metric names it (a panel of
    their own) and their baseline is random init of that model."""
    last = final(frame)
    custom = last.custom.astype(bool).to_numpy()
    metric = f"validation accuracy at epoch {int(last.epoch.max())} (%)"
    return pd.DataFrame(dict(
        study=STUDY, dataset=dataset, init=last.label, unit="task=" + last.task.astype(str),
        value=last.accuracy, metric=np.where(custom, metric + ", custom ResNet-18", metric),
        baseline=np.where(custom, "random (custom)", "random"), seed=last.seed))


def source_table(specs: list[SourceRun], results: list[store.Result]) -> pd.DataFrame:
    """Final validation accuracy (%) of every source model."""
    rows = []
    for spec, result in zip(specs, results):
        h = result["history"]
        acc = h[(h.split == "val") & (h.metric == "accuracy")].sort_values("epoch").value
        rows.append(dict(task=task_name(spec.task), custom=spec.custom,
                         accuracy=100 * float(acc.iloc[-1])))
    return pd.DataFrame(rows)


def source_summary(sources: pd.DataFrame) -> pd.DataFrame:
    """Mean, min, max and number n of the source models' accuracy (standard / custom), beside
    the report's 45 standard models."""
    out = sources.groupby("custom").accuracy.agg(["mean", "min", "max", "count"])
    out = out.rename(columns={"count": "n"})
    r = REPORTED_SOURCES
    out["reported (45 standard models)"] = f"{r['mean']} ({r['min']}-{r['max']})"
    return out


def _ours(table: pd.DataFrame, **fields: object) -> tuple[str, float, float, int]:
    """(label, mean, 95% half-width, n) of the first condition with these settings."""
    rows = table
    for key, value in fields.items():
        rows = rows[rows[key] == value]
    if rows.empty:
        return "", np.nan, np.nan, 0
    row = rows.iloc[0]
    return row.label, row["mean"], row["ci95_high"] - row["mean"], int(row.n)


def _reported_rows(cfg: ClusteredInitSettings,
                   table: pd.DataFrame) -> list[tuple[str, str, float, tuple]]:
    """(experiment, setting, reported, ours) for every number of the report."""
    c = dict(init="clustered", n_sources=cfg.n_sources, clusters=cfg.clusters, layers=cfg.layers)
    rows = [("baseline", "random", REPORTED_BASELINES["random"],
             _ours(table, init="random", custom=False))]
    rows.append(("baseline", "pretrained", REPORTED_BASELINES["pretrained"],
                 _ours(table, init="pretrained")))
    rows += [("Gabor by L", f"L={n}", v, _ours(table, init="gabor", layers=n))
             for n, v in REPORTED_GABOR.items()]
    for distance in REPORTED_BY_CLUSTERS:
        for key, reported, sweep in (("clusters", REPORTED_BY_CLUSTERS, "by K"),
                                     ("layers", REPORTED_BY_LAYERS, "by L"),
                                     ("n_sources", REPORTED_BY_SOURCES, "by N")):
            for value, v in reported[distance].items():
                ours = _ours(table, **{**c, "distance": distance, key: value})
                rows.append((f"{distance} {sweep}", f"{key}={value}", v, ours))
    rows.append(("custom", "random", REPORTED_CUSTOM["random"],
                 _ours(table, init="random", custom=True)))
    rows += [("custom", f"aligned L={n}", REPORTED_CUSTOM[n],
              _ours(table, init="aligned", matching="greedy", layers=n)) for n in (1, 2, 4)]
    return rows


def reported_vs_ours(cfg: ClusteredInitSettings, table: pd.DataFrame, profile: str,
                     epoch: int) -> pd.DataFrame:
    """Every reported number beside ours for the same setting (where we ran it). `data_set`
    and `ours_epoch` (our last) say what ours are, since the report's are CIFAR-100 at epoch
    15; `as_run` whether every setting with an original value had it (`original.as_original`:
    then the rows compare like with like, up to the bugs no setting brings back)."""
    out = pd.DataFrame([dict(experiment=e, setting=s, reported=r, ours_epoch=epoch,
                             ours_label=o[0], ours_mean=o[1], ours_ci95=o[2], ours_n=o[3])
                        for e, s, r, o in _reported_rows(cfg, table)])
    out["ours_minus_reported"] = out.ours_mean - out.reported
    out.insert(0, "data_set", f"{cfg.dataset} ({profile}) vs cifar100 (reported)")
    out["as_run"] = original.as_original(cfg)
    return out


def tiny_table(frame: pd.DataFrame, epochs: tuple[int, ...] = (5, 15)) -> pd.DataFrame:
    """Table 1: Tiny ImageNet accuracy at the reported epochs (ours at the nearest one run):
    mean, sd, n and 95% interval over runs (one task, so each seed is a unit)."""
    last, parts = int(frame.epoch.max()), []
    for i, epoch in enumerate(epochs):
        ours = min(epoch, last)
        part = tables.describe(frame[frame.epoch == ours], ["init"], value="accuracy")
        part.insert(1, "reported_epoch", epoch)
        part.insert(2, "reported", [REPORTED_TINY[k][i] for k in part.init])
        part.insert(3, "ours_epoch", ours)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)
