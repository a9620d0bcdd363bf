"""The original report's numbers for study 05 and the table that sets ours beside them
(docs/05_parameter_dynamics.md, "Reported numbers").

Norms, distances and change rates are printed on the report's figures with the cell they
come from (architecture, data set, init, optimizer); the changed shares are read off its bar
charts (ResNet-18 about 62% unchanged, VGG19 about 95% changed) or stated in its text
(LeNet-5 100% changed). The report states no tolerance for "changed".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from initlab import tables
from initlab.studies.parameter_dynamics.settings import ParameterDynamicsSettings

# (arch, data set, init, optimizer, value)
CHANGE_RATE = [  # ||theta_end - theta_0|| / ||theta_end||, %
    ("resnet18", "cifar10", "pretrained", "sgd", 19.28),
    ("resnet18", "fashion_mnist", "kaiming_uniform", "adam", 89.08),
    ("lenet5", "cifar10", "kaiming_uniform", "adam", 44.76),
    ("vgg19", "cifar10", "kaiming_normal", "sgd", 12.35),
]
CHANGED_SHARE = [  # % of parameters changed (bars; LeNet-5 from the text)
    ("resnet18", "cifar10", "pretrained", "sgd", 38.0),
    ("resnet18", "fashion_mnist", "kaiming_uniform", "adam", 38.0),
    ("lenet5", "cifar10", "kaiming_uniform", "adam", 100.0),
    ("vgg19", "cifar10", "kaiming_normal", "sgd", 95.0),
]
SIGN_FLIP_DISTANCE = [  # ||theta_1 - theta_2||, trained vs sign-flipped and retrained
    ("resnet18", "mnist", "kaiming_normal", "sgd", 240.67),
    ("vgg19", "mnist", "kaiming_uniform", "sgd", 347.66),
    ("lenet5", "fashion_mnist", "kaiming_uniform", "sgd", 49.6),
]
DISTORTION_DISTANCE = [  # ||theta_1 - theta_2||, trained vs distorted (+1e-6) and retrained
    ("resnet18", "mnist", "kaiming_uniform", "sgd", 0.27),
    ("lenet5", "mnist", "kaiming_uniform", "sgd", 1.3),
    ("vgg19", "mnist", "kaiming_uniform", "sgd", 1.38),
]
RESNET_UNCHANGED = 60.0  # % of ResNet parameters "nearly unchanged", any data set/optimizer/init

COLUMNS = ["measure", "arch", "reported_data", "init", "optimizer", "reported", "ours_data",
           "ours", "ours_sd", "n", "ci95_low", "ci95_high", "note", "as_run"]


def sign_flip_distance(arch: str) -> float | None:
    """The report's sign-flip distance for `arch` (the figures' red crosses)."""
    return next((v for a, *_, v in SIGN_FLIP_DISTANCE if a == arch), None)


def reported_vs_ours(summary: pd.DataFrame, perturbed: pd.DataFrame,
                     cfg: ParameterDynamicsSettings) -> pd.DataFrame:
    """The report's numbers beside ours: the same arch, init and optimizer, on the report's
    data set where we ran it, else on every data set we ran (named in `ours_data`). `ours` is
    a mean over runs (seeds, and data sets where it says so); no interval where n < 3.
    `as_run` says whether the settings were the original code's (the like-for-like rows)."""
    rows = [_row("change rate (%)", entry, summary, "change_rate") for entry in CHANGE_RATE]
    rows += [_row(f"changed share (%, |change| > {cfg.tolerance:g}; report: threshold unstated)",
                  entry, summary, "changed_share") for entry in CHANGED_SHARE]
    resnet = summary[summary.arch == "resnet18"]
    rows.append(_summary_row(f"ResNet share unchanged (%, |change| <= {cfg.tolerance:g})",
                             resnet, 100 - resnet.changed_share if len(resnet) else None))
    rows.append(_summary_row("ResNet share frozen by construction on 32x32 (%, padding-only "
                             "taps)", resnet.iloc[:1], resnet.frozen_share.iloc[:1]))
    for name, table in (("sign_flip", SIGN_FLIP_DISTANCE), ("distortion", DISTORTION_DISTANCE)):
        mine = perturbed[perturbed.perturbation == name] if len(perturbed) else perturbed
        for entry in table:
            row = _row(f"{name} distance norm(theta_1 - theta_2)", entry, mine, "distance")
            same = _closest(mine, *entry[:4])
            row["note"] = (f"ours: 2 norm(theta_trained) = {2 * same.norm_trained.mean():.2f}"
                           if name == "sign_flip" and len(same) else row["note"])
            rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS).assign(as_run=cfg.as_run)


def _closest(table: pd.DataFrame, arch: str, dataset: str, init: str,
             optimizer: str) -> pd.DataFrame:
    """Our runs of that arch/init/optimizer: on the report's data set if we ran it, else all."""
    if table.empty:
        return table
    same = table[(table.arch == arch) & (table.init == init) & (table.optimizer == optimizer)]
    exact = same[same.dataset == dataset]
    return exact if len(exact) else same


def _datasets(frame: pd.DataFrame) -> str:
    return ", ".join(sorted(frame.dataset.unique())) if len(frame) else "not run"


def _row(measure: str, entry: tuple, table: pd.DataFrame, column: str) -> dict:
    arch, dataset, init, optimizer, value = entry
    ours = _closest(table, arch, dataset, init, optimizer)
    values = ours[column] if len(ours) else pd.Series(dtype=float)
    mean, low, high, n = tables.t_interval(values)
    return dict(measure=measure, arch=arch, reported_data=dataset, init=init,
                optimizer=optimizer, reported=value, ours_data=_datasets(ours), ours=mean,
                ours_sd=values.std() if n > 1 else np.nan, n=n, ci95_low=low, ci95_high=high,
                note="" if not n or ours.dataset.eq(dataset).all() else "other data set")


def _summary_row(measure: str, runs: pd.DataFrame, values: pd.Series | None) -> dict:
    """A row for the report's "about 60% of ResNet's parameters unchanged" (any cell): the
    mean over every ResNet run, without an interval (runs of one seed share data and batch
    order, so they are not independent)."""
    values = pd.Series(dtype=float) if values is None else values
    n = int(values.notna().sum())
    return dict(measure=measure, arch="resnet18", reported_data="all", init="all",
                optimizer="all", reported=RESNET_UNCHANGED, ours_data=_datasets(runs),
                ours=values.mean() if n else np.nan, ours_sd=values.std() if n > 1 else np.nan,
                n=n, ci95_low=np.nan, ci95_high=np.nan, note="pooled over runs" if n > 1 else "")
