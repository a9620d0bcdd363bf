"""Study 03's tables, from the gathered frames of stored runs (`runs.run_all`).

Pure functions of DataFrames: nothing here trains or reads the store, so the notebook can
re-render every table from stored runs (`train=False`) and the tests can check each table on a
frame built by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from initlab import catalog, tables
from initlab.studies.agop_nfm_init.settings import BASELINE, AgopNfmSettings

STUDY = "03_agop_nfm_init"
MEASURE = "val_accuracy"  # the main table's column: final validation accuracy (%)
METRIC = "final validation accuracy (%)"
# rounding of the printed tables: accuracies and differences in % to 1 decimal, p to 3
DIGITS = {"mean": 1, "sd": 1, "ci95_low": 1, "ci95_high": 1, "difference": 1, "p_value": 3,
          "p_holm": 3, "best_val_accuracy": 1, MEASURE: 1}

# The original report: best validation accuracy (%), VGG11 at 224x224, 3 runs.
REPORTED_DATASETS = ("svhn", "cifar10", "cifar100", "tiny_imagenet")
REPORTED = {
    "normal": (92.35, 74.26, 40.18, 27.73),
    "xavier_normal": (92.66, 76.56, 43.09, 28.49),
    "kaiming_uniform": (93.02, 77.32, 44.76, 33.53),
    "kaiming_normal": (93.13, 77.10, 45.31, 32.38),
    "agop": (91.71, 78.61, 42.84, 29.56),
    "nfm": (92.79, 79.32, 44.09, 31.34),
    "kaiming_nfm": (93.23, 78.69, 48.33, 33.78),
}


def header(cfg: AgopNfmSettings, profile: str, out: Path, precision: str) -> str:
    """The notebook's one-paragraph summary of what ran (Markdown); `precision` is the
    effective arithmetic (`recipe.effective_precision` on the run's device)."""
    source = ("torchvision's ImageNet VGG11" if cfg.pretrained == "imagenet" else
              f"a VGG11 trained here on `{cfg.pretrained}` ({cfg.pretrained_split} split)")
    images = f"{cfg.train_size:,} training images" if cfg.train_size else "every training image"
    schedule = (f" (x{cfg.lr_factor:g} after every {cfg.lr_every} epochs)" if cfg.lr_every
                else "")
    head = f"a {cfg.head_classes}-way head" if cfg.head_classes else "a head of the data's classes"
    logits = f"its first {cfg.agop_classes} logits" if cfg.agop_classes else "every logit"
    return (f"**Data set(s): {', '.join(f'`{d}`' for d in cfg.datasets)}** at "
            f"{cfg.image_size}x{cfg.image_size} ({images}, {1 - cfg.val_fraction:.0%} to train, "
            f"{cfg.val_fraction:.0%} to validate), VGG11 width {cfg.width}, {cfg.epochs} "
            f"epochs of SGD at lr {cfg.lr:g}{schedule}, {head}, linear layers "
            f"N(0, {cfg.linear_std:g}²), {cfg.runs} run(s) per init; source: {source}; AGOP over "
            f"{cfg.agop_images} images of each run's training fold and {logits}; arithmetic: "
            f"**{precision}** (precision setting `{cfg.precision}`); **as_run: {cfg.as_run}** "
            f"(the original code's settings: {as_run_note(cfg)}); profile `{profile}`; outputs "
            f"in `{out}`")


def as_run_note(cfg: AgopNfmSettings) -> str:
    """Which of the original code's settings (`AS_RUN`) are in effect, in one phrase."""
    same = [k for k, v in cfg.AS_RUN.items() if getattr(cfg, k) == v]
    return (f"{len(same)} of {len(cfg.AS_RUN)}" + (f", {', '.join(same)}" if same else "")
            + " as the original")


def source_accuracy(source_curves: pd.DataFrame) -> pd.DataFrame:
    """A source trained here: its last epoch's train and held-out accuracy per target."""
    acc = source_curves.query("metric == 'accuracy'").pivot_table(
        index=["target", "epoch"], columns="split", values="value")
    return acc.groupby(level="target").tail(1)


def ansatz_table(ansatz: pd.DataFrame) -> pd.DataFrame:
    """Per (target, layer): corr(NFM, AGOP) and corr(NFM, AGOP^(1/2)), trained and untrained."""
    table = ansatz.pivot_table(index=["target", "layer"], columns=["network", "matrix"],
                               values="correlation")
    table.columns = [f"{n} {m}" for n, m in table.columns]
    return table


def status_note(status: pd.DataFrame) -> str:
    """Markdown: run count, images per run and every diverged run with its message."""
    diverged = status[status.diverged.fillna("").astype(str) != ""]
    lines = "".join(f"\n- {r.dataset} {r.init} seed {r.seed}: {r.diverged}"
                    for r in diverged.itertuples())
    return (f"{len(status)} runs; training / validation images per run: "
            f"{status.train_images.iloc[0]} / {status.val_images.iloc[0]}; "
            f"diverged runs: {len(diverged)}" + lines)


def best_validation(curves: pd.DataFrame) -> pd.DataFrame:
    """Best validation accuracy (%) over the training epochs, per data set, init and seed: the
    original's measure, a maximum over epochs on the validation fold itself (so it is biased
    upwards); kept to set beside the reported numbers."""
    val = curves.query("split == 'val' and metric == 'accuracy' and epoch >= 1")
    best = val.groupby(["dataset", "init", "seed"], sort=False).value.max(min_count=1)
    return (100 * best).rename("best_val_accuracy").reset_index()


def final_validation(curves: pd.DataFrame) -> pd.DataFrame:
    """Validation accuracy (%) after the last epoch, per data set, init and seed: the main
    measure. The schedule fixes the epoch, so nothing is chosen on the validation fold and it
    stays a held-out estimate (a diverged run: NaN)."""
    val = curves.query("split == 'val' and metric == 'accuracy' and epoch >= 1")
    last = val[val.epoch == val.epoch.max()]
    last = last.groupby(["dataset", "init", "seed"], sort=False).value.first()
    return (100 * last).rename(MEASURE).reset_index()


def summary(frame: pd.DataFrame, value: str = MEASURE) -> pd.DataFrame:
    """Mean, sd, n and 95% t-interval (none where n < 3) of `value` (by default the final
    validation accuracy) per data set and init."""
    return tables.describe(frame, ["dataset", "init"], value)


def loss_gap(curves: pd.DataFrame) -> pd.DataFrame:
    """Validation minus training loss per epoch (training loss: the running mean of the epoch,
    with dropout on, as the training loop logs it)."""
    loss = curves.query("metric == 'loss' and epoch >= 1")
    wide = loss.pivot_table(index=["dataset", "init", "seed", "epoch"], columns="split",
                            values="value", dropna=False)
    return (wide["val"] - wide["train"]).rename("gap").reset_index()


def baseline_init(inits: Sequence[str]) -> str:
    """The paired comparison's reference: Kaiming normal if it ran, else the first init."""
    return BASELINE if BASELINE in inits else inits[0]


def paired_vs(final: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Each init minus `baseline` within a seed (same split, batches, head and AGOP sample),
    per data set: mean difference in points, 95% interval and p (none where fewer than 3
    seeds); Holm's p over every test of the table (all data sets' inits together: the table
    is read as one family, e.g. 8 inits x 4 data sets = 32 tests in `paper`)."""
    tests = [tables.paired_tests(group, by="init", pair_on="seed", baseline=baseline,
                                 value=MEASURE).assign(dataset=dataset)
             for dataset, group in final.groupby("dataset", sort=False)]
    table = pd.concat(tests, ignore_index=True)
    table["p_holm"] = tables.holm(table["p_value"].to_numpy())
    order = {init: i for i, init in enumerate(final.init.unique())}  # the runs' order
    table = table.sort_values("init", key=lambda c: c.map(order), kind="stable")
    table = table.sort_values("dataset", key=lambda c: c.map(
        {d: i for i, d in enumerate(final.dataset.unique())}), kind="stable")
    return table[["dataset"] + [c for c in table.columns if c != "dataset"]].reset_index(
        drop=True)


def seed_ranks(final: pd.DataFrame) -> pd.DataFrame:
    """Each init's rank (1 = most accurate) within every seed, per data set, and its mean."""
    ranks = final.assign(rank=final.groupby(["dataset", "seed"])[MEASURE].rank(
        ascending=False))
    table = ranks.pivot_table(index=["dataset", "init"], columns="seed", values="rank",
                              sort=False)
    table.columns = [f"seed {c}" for c in table.columns]
    return table.assign(mean=table.mean(axis=1)).sort_values(["dataset", "mean"])


def kendall_w(final: pd.DataFrame) -> pd.Series:
    """Kendall's W per data set: how far the seeds agree on the inits' order (1: every seed
    ranks them alike, 0: no agreement); NaN with a single seed. Ties get mean ranks and no
    correction."""
    out = {}
    for dataset, group in final.groupby("dataset", sort=False):
        wide = group.pivot_table(index="init", columns="seed", values=MEASURE).dropna()
        m, n = wide.shape[1], wide.shape[0]
        if m < 2 or n < 2:
            out[dataset] = float("nan")
            continue
        sums = wide.rank(ascending=False).sum(axis=1)
        out[dataset] = float(12 * ((sums - sums.mean()) ** 2).sum() / (m**2 * (n**3 - n)))
    return pd.Series(out, name="kendall_w")


def agreement_note(w: pd.Series) -> str:
    """Kendall's W per data set as one sentence (none with a single seed)."""
    parts = [f"{d}: {v:.2f}" if v == v else f"{d}: none (a single seed)" for d, v in w.items()]
    return "Kendall's W of the seeds' orders: " + "; ".join(parts) + "."


def signal_display(signal: pd.DataFrame) -> pd.DataFrame:
    """The signal table with its ratios as text in one format, scientific to 2 significant
    digits ("9.6e-01", "1.0e-01"): they span 1e-7 to 1e1, which no fixed number of decimals
    shows, and one format keeps a column comparable by eye (the text parses back as numbers)."""
    ratios = ["relative_rms", "relative_rms_width_1"]
    return signal.assign(**{c: signal[c].map(lambda v: "" if v != v else f"{v:.1e}")
                            for c in ratios})


def init_scores(final: pd.DataFrame, baseline: str = BASELINE) -> pd.DataFrame:
    """One row per run for `initlab compare`: the final validation accuracy (%), paired on the
    seed (`unit` "seed=N": same split, batches, head and AGOP sample across inits)."""
    return pd.DataFrame(dict(study=STUDY, dataset=final.dataset, init=final.init,
                             unit="seed=" + final.seed.astype(str), value=final[MEASURE],
                             metric=METRIC, baseline=baseline))


def reported_for(dataset: str) -> dict[str, float] | None:
    """The original's best validation accuracy per init on `dataset`; None if not reported."""
    if dataset not in REPORTED_DATASETS:
        return None
    return {k: v[REPORTED_DATASETS.index(dataset)] for k, v in REPORTED.items()}


def reported_vs_ours(best: pd.DataFrame, inits: Sequence[str], as_run: bool) -> pd.DataFrame:
    """Per init: the reported best validation accuracy per data set beside ours (mean, sd, n:
    the same measure, the best epoch on the validation fold), and whether ours ran with the
    original code's settings (`as_run`: the like-for-like comparison) or initlab's."""
    reported = pd.DataFrame(REPORTED, index=[f"reported {d}" for d in REPORTED_DATASETS]).T
    ours = best.groupby(["init", "dataset"]).best_val_accuracy.agg(["mean", "std", "count"])
    ours = ours.rename(columns={"std": "sd", "count": "n"}).unstack("dataset")
    ours.columns = [f"ours {d} {stat}" for stat, d in ours.columns]
    stats = ("mean", "sd", "n")
    ours = ours[sorted(ours.columns, key=lambda c: (c.split()[1], stats.index(c.split()[2])))]
    order = list(inits) + [i for i in REPORTED if i not in inits]
    table = reported.join(ours, how="outer").reindex(order).assign(as_run=as_run)
    table.index.name = "init"
    return table


def reported_digits(table: pd.DataFrame) -> dict[str, int]:
    """Rounding of `reported_vs_ours`: accuracies to 1 decimal, run counts whole."""
    return {c: 0 if c.endswith(" n") else 1 for c in table.columns if c != "as_run"}


def chance(dataset: str) -> float:
    """Chance accuracy (%) of a balanced data set: 100 / classes (NaN: no published size)."""
    try:
        return 100.0 / catalog.shape(dataset).classes
    except ValueError:
        return float("nan")


def interval_note(summary: pd.DataFrame) -> str:
    """One sentence on the table's intervals: left empty where a mean rests on < 3 runs."""
    few = summary[summary.n < 3]
    if few.empty:
        return (f"Every mean rests on n = {int(summary.n.min())} or more runs; the interval is "
                "Student's t at 95%.")
    return (f"{len(few)} of {len(summary)} means rest on fewer than 3 runs (n = "
            f"{', '.join(sorted({str(int(n)) for n in few.n}))}): their interval is left empty, "
            "since fewer than three runs give no usable one.")


def training_note(summary: pd.DataFrame, signal: pd.DataFrame, margin: float = 5.0) -> str:
    """Which inits did not train (mean within `margin` points of chance), each with how much
    of its input scale its conv stack passed at init, beside the baseline's."""
    rows = summary.assign(chance=summary.dataset.map(chance))
    stuck = rows[rows["mean"] < rows.chance + margin]
    if stuck.empty:
        return (f"Every init ends more than {margin:.0f} points above chance "
                f"({', '.join(f'{d}: {chance(d):.1f}%' for d in rows.dataset.unique())}).")
    rms = signal.set_index(["dataset", "init"]).relative_rms
    lines = [f"- `{r.init}` on {r.dataset}: {r.mean:.1f}% (chance {r.chance:.1f}%); its conv "
             f"stack passed {rms.get((r.dataset, r.init), float('nan')):.1e} of the input's "
             f"RMS at init, {BASELINE} {rms.get((r.dataset, BASELINE), float('nan')):.1e}"
             for r in stuck.itertuples()]
    return (f"Within {margin:.0f} points of chance after training (did not train):\n"
            + "\n".join(lines))


def holm_note(paired: pd.DataFrame, baseline: str, level: float = 0.05) -> str:
    """One sentence per data set: which inits differ from `baseline` at Holm-adjusted
    p < `level` (the family: every test of the table, all data sets), and by how much."""
    family = int(paired.p_value.notna().sum())
    out = [f"Holm's family: all {family} tests of the table (every data set's inits)."
           ] if family else []
    for dataset, group in paired.groupby("dataset", sort=False):
        tested = group.dropna(subset=["p_holm"])
        if tested.empty:
            out.append(f"{dataset}: no init could be tested (fewer than 3 paired seeds).")
            continue
        hits = tested[tested.p_holm < level]
        names = "; ".join(f"`{r.init}` {r.difference:+.1f} points (p_holm {r.p_holm:.3f})"
                          for r in hits.itertuples())
        out.append(f"{dataset}: of {len(tested)} inits tested against `{baseline}`, "
                   f"{len(hits)} {'differs' if len(hits) == 1 else 'differ'} at "
                   f"Holm-adjusted p < {level}" +
                   (f": {names}." if names else "."))
    return "\n\n".join(out)
