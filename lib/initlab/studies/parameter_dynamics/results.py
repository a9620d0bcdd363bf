"""Study 05's measures, computed from what the runs stored (snapshots, layouts, features):
distances, change rates and shares, histograms, feature correlations, and the comparison
with the original report (docs/05_parameter_dynamics.md). Tidy frames only; no plotting here,
and no training: the pretrained checkpoints are read from the store as they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd
import torch

from initlab import store
from initlab.metrics import dynamics
from initlab.studies.parameter_dynamics import sources as material
from initlab.studies.parameter_dynamics.runs import cell, cells
from initlab.studies.parameter_dynamics.settings import ParameterDynamicsSettings

Result = dict[str, Any]

# The original report (norms read from its figures; docs/05_parameter_dynamics.md).
REPORTED_CHANGE_RATE = [  # (arch, data set, init, optimizer, change rate %)
    ("resnet18", "cifar10", "pretrained", "sgd", 19.28),
    ("resnet18", "fashion_mnist", "kaiming_uniform", "adam", 89.08),
    ("lenet5", "cifar10", "kaiming_uniform", "adam", 44.76),
    ("vgg19", "cifar10", "kaiming_normal", "sgd", 12.35),
]
REPORTED_RESNET_UNCHANGED = 60.0  # % of ResNet parameters "nearly unchanged" (no tolerance given)
REPORTED_SIGN_FLIP_DISTANCE = {"resnet18": 240.67, "vgg19": 347.66, "lenet5": 49.6}

KEYS = ["arch", "dataset", "init", "optimizer", "seed"]
PERTURBATION_COLUMNS = ["arch", "dataset", "init", "optimizer", "seed", "perturbation", "jump",
                        "distance", "path", "norm_trained", "distance_over_2norm",
                        "accuracy_perturbed", "test_accuracy_retrained", "matched_mean",
                        "share_above_0_9"]


def header(cfg: ParameterDynamicsSettings, profile: str, out: Path) -> str:
    """The notebook's opening line (Markdown): what this profile's grid trains, and where."""
    images = "all" if not cfg.train_size else cfg.train_size
    return (f"**Data set(s): {', '.join(f'`{d}`' for d in cfg.datasets)}** (padded to 32x32x3), "
            f"profile `{profile}`; architectures {', '.join(cfg.archs)} (ResNet-18/VGG19 width "
            f"{cfg.width}); inits {', '.join(cfg.inits)}; optimizers {', '.join(cfg.optimizers)}; "
            f"{cfg.epochs} epochs on {images} training images; {len(cells(cfg))} runs; "
            f"outputs in `{out}`")


def _key(settings: ParameterDynamicsSettings, result: Result) -> dict:
    info = result["info"].iloc[0]
    return dict(arch=info.arch, dataset=info.dataset, init=info.init, optimizer=info.optimizer,
                seed=settings.seed, run=store.run_name(settings))


def _ends(result: Result) -> tuple[torch.Tensor, torch.Tensor]:
    return result["snapshots"][0], result["snapshots"][-1]


def frozen_share(settings: ParameterDynamicsSettings) -> float:
    """% of the cell's parameters that can never move on 32x32 inputs: conv kernel taps that
    only ever see zero padding (see `dynamics.padding_only_taps`)."""
    arch, *_ = cell(settings)
    model = material.build(arch, 10, settings.width, settings.resnet_stem, settings.vgg_image_size,
                        seed=0)
    return 100 * float(dynamics.padding_only_taps(model, torch.zeros(1, 3, 32, 32)).float().mean())


def summary(runs: list, results: list, cfg: ParameterDynamicsSettings) -> pd.DataFrame:
    """One row per run: accuracy, norms, distance travelled, change rate and the share of
    parameters changed by more than `cfg.tolerance`, the share that structurally cannot change
    (kernel taps that only see padding on 32x32 inputs), plus feature redundancy."""
    rows, frozen = [], {}
    for settings, result in zip(runs, results):
        arch = cell(settings)[0]
        if arch not in frozen:
            frozen[arch] = frozen_share(settings)
        info = result["info"].iloc[0]
        start, end = _ends(result)
        within = dynamics.within_summary(result["features"].float())
        rows.append(dict(
            _key(settings, result), pretrained_from=info.pretrained_from,
            parameters=int(info.parameters), test_accuracy=100 * info.test_accuracy,
            norm_start=float(start.norm()), norm_end=float(end.norm()),
            distance=float((end - start).norm()),
            change_rate=100 * dynamics.change_rate(start, end),
            changed_share=100 * dynamics.overall_share(start, end, cfg.tolerance),
            frozen_share=frozen[arch],
            dead_features=within["dead"], features=within["features"],
            feature_redundancy=within["mean_abs_offdiagonal"]))
    return pd.DataFrame(rows)


def distances(runs: list, results: list) -> pd.DataFrame:
    """||theta_k - theta_{k-1}|| per snapshot interval (and from the start), per run."""
    frames = [dynamics.interval_distances(r["snapshot_epochs"].tolist(), r["snapshots"])
              .assign(**_key(s, r)) for s, r in zip(runs, results)]
    return pd.concat(frames, ignore_index=True)


def change_shares(runs: list, results: list, tolerance: float) -> pd.DataFrame:
    """Per run and parameter tensor: share of scalars changed by more than `tolerance`."""
    frames = [dynamics.change_share(*_ends(r), r["layout"], tolerance).assign(**_key(s, r))
              for s, r in zip(runs, results)]
    return pd.concat(frames, ignore_index=True)


def tolerance_sweep(runs: list, results: list, tolerances: Iterable[float]) -> pd.DataFrame:
    """Overall changed share per run at every tolerance of the sweep."""
    frames = [dynamics.share_by_tolerance(*_ends(r), tolerances).assign(**_key(s, r))
              for s, r in zip(runs, results)]
    frame = pd.concat(frames, ignore_index=True)
    return frame.assign(share=100 * frame.share)


def histograms(runs: list, results: list, bins: int) -> pd.DataFrame:
    """Conv and linear weights before (epoch 0) and after training, on common bins per run."""
    frames = []
    for settings, result in zip(runs, results):
        start, end = _ends(result)
        mask = dynamics.weight_mask(result["layout"], len(start))
        frames.append(dynamics.histograms(start[mask], end[mask], bins)
                      .assign(**_key(settings, result)))
    return pd.concat(frames, ignore_index=True)


def _features(result: Result, name: str = "features") -> torch.Tensor:
    return result[name].float()


def feature_pairs(runs: list, results: list) -> pd.DataFrame:
    """Matched cross-correlation between the final features of two inits of the same cell
    (arch, data set, optimizer, seed): every pair of inits."""
    by_cell: dict[tuple, list] = {}
    for settings, result in zip(runs, results):
        key = _key(settings, result)
        by_cell.setdefault((key["arch"], key["dataset"], key["optimizer"], key["seed"]),
                           []).append((key["init"], result))
    rows = []
    for (arch, dataset, optimizer, seed), members in by_cell.items():
        for i, (init_a, a) in enumerate(members):
            for init_b, b in members[i + 1:]:
                matched = dynamics.matched_correlation(_features(a), _features(b))
                rows.append(dict(arch=arch, dataset=dataset, optimizer=optimizer, seed=seed,
                                 pair=f"{init_a} vs {init_b}", init_a=init_a, init_b=init_b,
                                 **dynamics.matched_summary(matched["values"])))
    return pd.DataFrame(rows)


def perturbations(runs: list, results: list) -> pd.DataFrame:
    """The perturbation rows of every perturbed cell, with the matched feature correlation
    between the trained and the retrained model."""
    frames = []
    for settings, result in zip(runs, results):
        if "perturbation" not in result or result["perturbation"].empty:
            continue
        frame = result["perturbation"].copy()
        stats = [dynamics.matched_summary(dynamics.matched_correlation(
            _features(result), _features(result, f"features_{p}"))["values"])
            for p in frame.perturbation]
        frame = pd.concat([frame, pd.DataFrame(stats)], axis=1)
        frames.append(frame.assign(seed=settings.seed, run=store.run_name(settings)))
    if not frames:
        return pd.DataFrame(columns=["perturbation", *KEYS])
    frame = pd.concat(frames, ignore_index=True)
    frame["distance_over_2norm"] = frame.distance / (2 * frame.norm_trained)  # 1: stayed at -theta
    for column in ("accuracy_perturbed", "test_accuracy_retrained"):
        frame[column] = 100 * frame[column]
    return frame


def within_matrix(result: Result) -> torch.Tensor:
    """Correlation matrix of one model's live features (dead units dropped)."""
    features = _features(result)
    return dynamics.correlation(features[:, dynamics.live(features)])


def pair_matrix(result_a: Result, result_b: Result, name_b: str = "features") -> torch.Tensor:
    """Cross-correlation of two models' live features, matched pairs on the diagonal."""
    return dynamics.matched_correlation(_features(result_a),
                                        _features(result_b, name_b))["matrix"]


def find(runs: list, results: list, **want: Any) -> Result | None:
    """The first result whose cell matches `want` (e.g. arch="lenet5", init="pretrained")."""
    for settings, result in zip(runs, results):
        key = _key(settings, result)
        if all(key[k] == v for k, v in want.items()):
            return result
    return None


def sources(runs: list, results: list) -> pd.DataFrame:
    """The weights each pretrained cell loaded (one row per checkpoint or ImageNet source):
    source data set, and the checkpoint's test accuracy read from the store.

    Never trains: a cell that loaded a checkpoint stored it first, so it is read with
    `train=False`; a cell that loaded ImageNet weights has no checkpoint to read.
    """
    rows: dict[tuple, dict] = {}
    for settings, result in zip(runs, results):
        arch, dataset, init, _ = cell(settings)
        if init != "pretrained":
            continue
        spec = material.source_spec(settings, arch, dataset)
        imagenet = result["info"].iloc[0].pretrained_from == "imagenet"
        key = ("imagenet", arch, spec.seed) if imagenet else spec
        if key in rows:
            continue
        tried = settings.pretrained == "imagenet" and material.imagenet_fits(settings, arch)
        if imagenet:
            rows[key] = dict(arch=arch, target=dataset, source="imagenet", seed=spec.seed,
                             epochs=np.nan, optimizer="", source_test_accuracy=np.nan,
                             imagenet_tried=tried, checkpoint="")
            continue
        try:
            info = material.source_result(spec, train=False)["info"].iloc[0]
        except store.MissingRunError as error:
            raise store.MissingRunError(
                f"{error}\nThe checkpoint is trained by the {arch} pretrained cells: run "
                f"`initlab run {material.STUDY}` with the same profile.") from error
        rows[key] = dict(arch=arch, target=dataset, source=spec.dataset, seed=spec.seed,
                         epochs=spec.recipe.epochs, optimizer=spec.recipe.optimizer,
                         source_test_accuracy=100 * info.test_accuracy, imagenet_tried=tried,
                         checkpoint=store.run_name(spec))
    return pd.DataFrame(rows.values())


def pretrained_loaded(summary: pd.DataFrame) -> str:
    """One Markdown line: what the pretrained runs of each architecture actually loaded."""
    pretrained = summary[summary.init == "pretrained"]
    if pretrained.empty:
        return "no pretrained runs in this grid"
    loaded = pretrained.groupby("arch").pretrained_from.first()
    return "Pretrained runs loaded: " + ", ".join(f"`{a}`: {p}" for a, p in loaded.items())


def perturbation_table(perturbed: pd.DataFrame) -> pd.DataFrame:
    """The perturbation table's columns (an empty frame when no cell was perturbed)."""
    return perturbed[PERTURBATION_COLUMNS] if len(perturbed) else pd.DataFrame()


def reported_vs_ours(table: pd.DataFrame, perturbed: pd.DataFrame,
                     cfg: ParameterDynamicsSettings) -> pd.DataFrame:
    """The report's numbers beside ours: the same arch, init and optimizer on the data set we
    ran (named in the table; the report's own data set where we ran it too)."""
    rows = []
    for arch, dataset, init, optimizer, value in REPORTED_CHANGE_RATE:
        ours = _closest(table, arch, dataset, init, optimizer)
        rows.append(_row("change rate (%)", arch, dataset, init, optimizer, value, ours,
                         "change_rate"))
    resnet = table[table.arch == "resnet18"]
    unchanged = (100 - resnet.changed_share) if len(resnet) else pd.Series(dtype=float)
    rows.append(dict(measure=f"ResNet share unchanged (%, abs change <= {cfg.tolerance:g})",
                     arch="resnet18", reported_data="unstated", init="all", optimizer="all",
                     reported=REPORTED_RESNET_UNCHANGED, ours_data=_datasets(resnet),
                     ours=unchanged.mean() if len(resnet) else np.nan,
                     ours_std=unchanged.std() if len(resnet) > 1 else np.nan, n=len(resnet)))
    rows.append(dict(measure="ResNet share frozen by construction on 32x32 (%, padding-only taps)",
                     arch="resnet18", reported_data="unstated", init="all", optimizer="all",
                     reported=REPORTED_RESNET_UNCHANGED, ours_data="any (architecture)",
                     ours=resnet.frozen_share.iloc[0] if len(resnet) else np.nan,
                     ours_std=np.nan, n=min(len(resnet), 1)))
    flips = perturbed[perturbed.perturbation == "sign_flip"] if len(perturbed) else perturbed
    for arch, value in REPORTED_SIGN_FLIP_DISTANCE.items():
        mine = flips[flips.arch == arch] if len(flips) else flips
        rows.append(dict(measure="sign flip distance norm(theta_1 - theta_2)", arch=arch,
                         reported_data="unstated", init="unstated", optimizer="unstated",
                         reported=value, ours_data=_datasets(mine),
                         ours=mine.distance.mean() if len(mine) else np.nan,
                         ours_std=mine.distance.std() if len(mine) > 1 else np.nan,
                         n=len(mine), note=(f"ours: 2 norm(theta_trained) = "
                                            f"{2 * mine.norm_trained.mean():.2f}" if len(mine)
                                            else "")))
    return pd.DataFrame(rows)


def _closest(table: pd.DataFrame, arch: str, dataset: str, init: str,
             optimizer: str) -> pd.DataFrame:
    """Our runs of that arch/init/optimizer: on the report's data set if we ran it, else all."""
    same = table[(table.arch == arch) & (table.init == init) & (table.optimizer == optimizer)]
    exact = same[same.dataset == dataset]
    return exact if len(exact) else same


def _datasets(frame: pd.DataFrame) -> str:
    return ", ".join(sorted(frame.dataset.unique())) if len(frame) else "not run"


def _row(measure: str, arch: str, dataset: str, init: str, optimizer: str, value: float,
         ours: pd.DataFrame, column: str) -> dict:
    return dict(measure=measure, arch=arch, reported_data=dataset, init=init,
                optimizer=optimizer, reported=value, ours_data=_datasets(ours),
                ours=ours[column].mean() if len(ours) else np.nan,
                ours_std=ours[column].std() if len(ours) > 1 else np.nan, n=len(ours))
