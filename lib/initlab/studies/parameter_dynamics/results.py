"""Study 05's measures, computed from what the runs stored (snapshots, layouts, features):
distances, change rates and shares, histograms, feature correlations, perturbations
(docs/05_parameter_dynamics.md). Tidy frames only; no plotting here, and no training.

`collect` reads the stored runs a few at a time (the inits of one arch, data set, optimizer
and seed), keeps each run's rows and the few correlation matrices the figures show, and lets
the rest go: a paper run of torchvision's VGG19 holds 2.8 GB of snapshots. The per-frame
functions take (settings, results) lists, as `collect` hands them one group at a time.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd
import torch

from initlab import store
from initlab.metrics import dynamics
from initlab.studies.parameter_dynamics import sources as material
from initlab.studies.parameter_dynamics.runs import cell, cells, run
from initlab.studies.parameter_dynamics.settings import ParameterDynamicsSettings

Result = dict[str, Any]
Settings = ParameterDynamicsSettings
KEYS = ["arch", "dataset", "init", "optimizer", "seed"]


@dataclass
class Measures:
    """Every table the notebook shows, and the correlation matrices of its heatmaps (keyed
    ("within", arch, optimizer) and ("across", arch, column title))."""
    summary: pd.DataFrame
    distances: pd.DataFrame
    per_tensor: pd.DataFrame
    sweep: pd.DataFrame
    histograms: pd.DataFrame
    pairs: pd.DataFrame
    perturbed: pd.DataFrame
    sources: pd.DataFrame
    heatmaps: dict[tuple, torch.Tensor] = field(default_factory=dict)


def load(settings: Settings) -> Result:
    """One stored run (a `store.MissingRunError` if it is not stored: this never trains)."""
    return store.run(material.STUDY, settings, run, train=False)


def collect(cfg: Settings, grid: list[Settings] | None = None,
            read: Callable[[Settings], Result] = load) -> Measures:
    """Every measure of the grid's runs, reading them with `read` one group at a time."""
    grid = cells(cfg) if grid is None else grid
    parts: dict[str, list[pd.DataFrame]] = {k: [] for k in (
        "summary", "distances", "per_tensor", "sweep", "histograms", "pairs", "perturbed")}
    heatmaps: dict[tuple, torch.Tensor] = {}
    pretrained: list[tuple[Settings, Result]] = []
    groups: dict[tuple, list[Settings]] = {}
    for settings in grid:
        groups.setdefault(_group(settings), []).append(settings)
    for settings in groups.values():
        results = [read(s) for s in settings]
        for name, frame in _frames(settings, results, cfg).items():
            parts[name].append(frame)
        heatmaps.update(shown_matrices(settings, results, cfg))
        pretrained += [(s, dict(info=r["info"])) for s, r in zip(settings, results)
                       if cell(s)[2] == "pretrained"]
    frames = {k: pd.concat(v, ignore_index=True) if v else pd.DataFrame() for k, v in parts.items()}
    frames["perturbed"] = _percent(frames["perturbed"])
    return Measures(**frames, sources=sources(*zip(*pretrained)) if pretrained
                    else pd.DataFrame(), heatmaps=heatmaps)


def _group(settings: Settings) -> tuple:
    arch, dataset, _, optimizer = cell(settings)
    return arch, dataset, optimizer, settings.seed


def _frames(runs: list, results: list, cfg: Settings) -> dict[str, pd.DataFrame]:
    """The rows of one group of runs for each table."""
    return dict(summary=summary(runs, results, cfg), distances=distances(runs, results),
                per_tensor=change_shares(runs, results, cfg.tolerance),
                sweep=tolerance_sweep(runs, results, cfg.tolerance_sweep),
                histograms=histograms(runs, results, cfg.histogram_bins),
                pairs=feature_pairs(runs, results, cfg.correlation),
                perturbed=_perturbation_rows(runs, results, cfg.correlation))


def shown_matrices(runs: list, results: list, cfg: Settings) -> dict[tuple, torch.Tensor]:
    """The heatmaps' matrices from one group: the grid's first data set and seed only."""
    arch, dataset, optimizer, seed = _group(runs[0])
    if dataset != cfg.datasets[0] or seed != cfg.seed:
        return {}
    by_init = {cell(s)[2]: r for s, r in zip(runs, results)}
    first = by_init.get(cfg.inits[0])
    if first is None:
        return {}
    out = {("within", arch, optimizer): within_matrix(first, cfg.correlation)}
    if optimizer == cfg.optimizers[0]:
        for title, init, name in across_columns(cfg):
            if init in by_init and name in by_init[init]:
                out[("across", arch, title)] = pair_matrix(first, by_init[init], name,
                                                           cfg.correlation)
    return out


def across_columns(cfg: Settings) -> list[tuple[str, str, str]]:
    """The comparisons of the cross-model heatmaps: (title, the other model's init, its
    feature tensor): first vs second init, then trained vs each retrained copy."""
    columns = ([(f"{cfg.inits[0]} vs {cfg.inits[1]}", cfg.inits[1], "features")]
               if len(cfg.inits) > 1 else [])
    if cfg.perturbs(cfg.inits[0]):
        columns += [(f"trained vs retrained ({p})", cfg.inits[0], f"features_{p}")
                    for p in cfg.perturbations]
    return columns


# ------------------------------------------------------------------------- per-run measures


def _key(settings: Settings, result: Result) -> dict:
    info = result["info"].iloc[0]
    return dict(arch=info.arch, dataset=info.dataset, init=info.init, optimizer=info.optimizer,
                seed=settings.seed, run=store.run_name(settings))


def _ends(result: Result) -> tuple[torch.Tensor, torch.Tensor]:
    return result["snapshots"][0], result["snapshots"][-1]


def frozen_share(settings: Settings) -> float:
    """% of the cell's parameters that can never move on 32x32 inputs: conv kernel taps that
    only ever see zero padding (see `dynamics.padding_only_taps`)."""
    arch, *_ = cell(settings)
    return frozen_percent(arch, settings.width, settings.resnet_stem, settings.vgg_head)


@functools.lru_cache(maxsize=None)
def frozen_percent(arch: str, width: float, stem: str, head: str) -> float:
    """`frozen_share` of a model built with these options (cached: VGG19 takes seconds)."""
    model = material.build(arch, 10, width, stem, head, seed=0)
    return 100 * float(dynamics.padding_only_taps(model, torch.zeros(1, 3, 32, 32)).float().mean())


def summary(runs: list, results: list, cfg: Settings) -> pd.DataFrame:
    """One row per run: accuracy, norms, distance travelled, change rate and the share of
    parameters changed by more than `cfg.tolerance`, the share that structurally cannot change
    (kernel taps that only see padding on 32x32 inputs), feature redundancy, and the share of
    the trained weights whose value a +`cfg.distortion` shift changes in float32 and in bf16."""
    rows = []
    for settings, result in zip(runs, results):
        info = result["info"].iloc[0]
        start, end = _ends(result)
        within = dynamics.within_summary(result["features"].float(), cfg.correlation)
        rows.append(dict(
            _key(settings, result), pretrained_from=info.pretrained_from,
            parameters=int(info.parameters), test_accuracy=100 * info.test_accuracy,
            norm_start=float(start.norm()), norm_end=float(end.norm()),
            distance=float((end - start).norm()),
            change_rate=100 * dynamics.change_rate(start, end),
            changed_share=100 * dynamics.overall_share(start, end, cfg.tolerance),
            frozen_share=frozen_share(settings),
            dead_features=within["dead"], features=within["features"],
            feature_redundancy=within["mean_abs_offdiagonal"],
            distortion_float32=100 * dynamics.visible_shift(end, cfg.distortion, torch.float32),
            distortion_bf16=100 * dynamics.visible_shift(end, cfg.distortion, torch.bfloat16)))
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
    """Overall changed share (%) per run at every tolerance of the sweep."""
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


def feature_pairs(runs: list, results: list, kind: str = "pearson") -> pd.DataFrame:
    """Matched cross-correlation between the final features of two inits of the same cell
    (arch, data set, optimizer, seed): every pair of inits (`kind`: the settings'
    `correlation`)."""
    by_cell: dict[tuple, list] = {}
    for settings, result in zip(runs, results):
        key = _key(settings, result)
        by_cell.setdefault((key["arch"], key["dataset"], key["optimizer"], key["seed"]),
                           []).append((key["init"], result))
    rows = []
    for (arch, dataset, optimizer, seed), members in by_cell.items():
        for i, (init_a, a) in enumerate(members):
            for init_b, b in members[i + 1:]:
                matched = dynamics.matched_correlation(_features(a), _features(b), kind=kind)
                rows.append(dict(arch=arch, dataset=dataset, optimizer=optimizer, seed=seed,
                                 pair=f"{init_a} vs {init_b}", init_a=init_a, init_b=init_b,
                                 **dynamics.matched_summary(matched["values"])))
    return pd.DataFrame(rows)


def perturbations(runs: list, results: list, kind: str = "pearson") -> pd.DataFrame:
    """The perturbation rows of every perturbed run (accuracies in %), with the matched
    feature correlation between the trained and the retrained model."""
    return _percent(_perturbation_rows(runs, results, kind))


def _perturbation_rows(runs: list, results: list, kind: str = "pearson") -> pd.DataFrame:
    frames = []
    for settings, result in zip(runs, results):
        if "perturbation" not in result or result["perturbation"].empty:
            continue
        frame = result["perturbation"].copy()
        stats = [dynamics.matched_summary(dynamics.matched_correlation(
            _features(result), _features(result, f"features_{p}"), kind=kind)["values"])
            for p in frame.perturbation]
        frame = pd.concat([frame, pd.DataFrame(stats)], axis=1)
        frames.append(frame.assign(seed=settings.seed, run=store.run_name(settings)))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _percent(frame: pd.DataFrame) -> pd.DataFrame:
    """Accuracies in %, and the distance over 2 ||theta_trained|| (1: stayed at -theta)."""
    if frame.empty:
        return pd.DataFrame(columns=["perturbation", *KEYS])
    frame = frame.copy()
    frame["distance_over_2norm"] = frame.distance / (2 * frame.norm_trained)
    for column in ("accuracy_perturbed", "test_accuracy_retrained"):
        frame[column] = 100 * frame[column]
    return frame


def within_matrix(result: Result, kind: str = "pearson") -> torch.Tensor:
    """Correlation matrix of one model's live features (dead units dropped)."""
    features = _features(result)
    return dynamics.correlation(features[:, dynamics.live(features)], kind)


def pair_matrix(result_a: Result, result_b: Result, name_b: str = "features",
                kind: str = "pearson") -> torch.Tensor:
    """Cross-correlation of two models' live features, matched pairs on the diagonal."""
    return dynamics.matched_correlation(_features(result_a), _features(result_b, name_b),
                                        kind=kind)["matrix"]


def sources(runs: Iterable[Settings], results: Iterable[Result]) -> pd.DataFrame:
    """The weights each pretrained cell loaded (one row per checkpoint or ImageNet source):
    source data set, and the checkpoint's test accuracy read from the store.

    Never trains, and reads only the checkpoint's `info` table (not its weights); a cell that
    loaded ImageNet weights has no checkpoint to read.
    """
    rows: dict[Any, dict] = {}
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
        row = dict(arch=arch, target=dataset, source="imagenet", seed=spec.seed, epochs=np.nan,
                   optimizer="", source_test_accuracy=np.nan, imagenet_tried=tried,
                   checkpoint="")
        if not imagenet:
            info = material.source_info(spec)
            row.update(source=spec.dataset, epochs=spec.recipe.epochs,
                       optimizer=spec.recipe.optimizer,
                       source_test_accuracy=100 * info.test_accuracy,
                       checkpoint=store.run_name(spec))
        rows[key] = row
    return pd.DataFrame(rows.values())

