"""Study 03's tables, from the gathered frames of stored runs (`runs.run_all`).

Pure functions of DataFrames: nothing here trains or reads the store, so the notebook can
re-render every table from stored runs (`train=False`) and the tests can check each table on a
frame built by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from initlab import tables
from initlab.studies.agop_nfm_init.settings import AgopNfmSettings

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


def header(cfg: AgopNfmSettings, profile: str, out: Path) -> str:
    """The notebook's one-paragraph summary of what ran (Markdown)."""
    source = ("torchvision's ImageNet VGG11" if cfg.pretrained == "imagenet" else
              f"a VGG11 trained here on `{cfg.pretrained}` ({cfg.pretrained_split} split)")
    return (f"**Data set(s): {', '.join(f'`{d}`' for d in cfg.datasets)}** at "
            f"{cfg.image_size}x{cfg.image_size}, VGG11 width {cfg.width}, {cfg.epochs} epochs, "
            f"{cfg.runs} run(s) per init; source: {source}; profile `{profile}`; outputs in "
            f"`{out}`")


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
    """Best validation accuracy (%) over the training epochs, per data set, init and seed."""
    val = curves.query("split == 'val' and metric == 'accuracy' and epoch >= 1")
    best = val.groupby(["dataset", "init", "seed"], sort=False).value.max(min_count=1)
    return (100 * best).rename("best_val_accuracy").reset_index()


def summary(best: pd.DataFrame) -> pd.DataFrame:
    """Mean, std, max and count of the best validation accuracy per data set and init."""
    return tables.summarize(best, ["dataset", "init"], "best_val_accuracy")


def loss_gap(curves: pd.DataFrame) -> pd.DataFrame:
    """Validation minus training loss per epoch (training loss: the running mean of the epoch,
    with dropout on, as the training loop logs it)."""
    loss = curves.query("metric == 'loss' and epoch >= 1")
    wide = loss.pivot_table(index=["dataset", "init", "seed", "epoch"], columns="split",
                            values="value", dropna=False)
    return (wide["val"] - wide["train"]).rename("gap").reset_index()


def baseline_init(inits: Sequence[str]) -> str:
    """The paired comparison's reference: Kaiming normal if it ran, else the first init."""
    return "kaiming_normal" if "kaiming_normal" in inits else inits[0]


def paired_vs(best: pd.DataFrame, datasets: Sequence[str], baseline: str) -> pd.DataFrame:
    """Each init minus `baseline` within a seed, per data set: mean, 95% CI, p-value, n."""
    return pd.concat([tables.paired_difference(best[best.dataset == d], by="init",
                                               pair_on="seed", baseline=baseline,
                                               value="best_val_accuracy").assign(dataset=d)
                      for d in datasets], ignore_index=True)


def reported_for(dataset: str) -> dict[str, float] | None:
    """The original's best validation accuracy per init on `dataset`; None if not reported."""
    if dataset not in REPORTED_DATASETS:
        return None
    return {k: v[REPORTED_DATASETS.index(dataset)] for k, v in REPORTED.items()}


def reported_vs_ours(best: pd.DataFrame, inits: Sequence[str]) -> pd.DataFrame:
    """Per init: the reported numbers per data set beside ours (mean, std, runs)."""
    reported = pd.DataFrame(REPORTED, index=[f"reported {d}" for d in REPORTED_DATASETS]).T
    ours = best.groupby(["init", "dataset"]).best_val_accuracy.agg(["mean", "std", "count"])
    ours = ours.unstack("dataset")
    ours.columns = [f"ours {d} {stat}" for stat, d in ours.columns]
    stats = ("mean", "std", "count")
    ours = ours[sorted(ours.columns, key=lambda c: (c.split()[1], stats.index(c.split()[2])))]
    order = list(inits) + [i for i in REPORTED if i not in inits]
    table = reported.join(ours, how="outer").reindex(order)
    table.index.name = "init"
    return table
