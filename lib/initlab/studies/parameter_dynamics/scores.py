"""Study 05's accuracy statistics, the scores a later comparison page reads, and the
notebook's generated text (every number the prose states is computed here, never typed).

Inits are compared paired by seed: within one (arch, data set, optimizer) every init's run
of a seed sees the same training subsample and batch order, so the per-seed difference to
the baseline init removes what they share (`tables.paired_tests`, Holm over the table).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from initlab import tables
from initlab.studies.parameter_dynamics import reported
from initlab.studies.parameter_dynamics import sources as material
from initlab.studies.parameter_dynamics.runs import cells
from initlab.studies.parameter_dynamics.settings import ParameterDynamicsSettings
from initlab.training.recipe import effective_precision

Settings = ParameterDynamicsSettings
BASELINES = ("kaiming_normal", "kaiming_uniform")  # the first the grid has is the baseline
GROUP = ["arch", "dataset", "optimizer"]
STATS = ["baseline", "difference", "ci95_low", "ci95_high", "n", "p_value", "p_holm"]
DIGITS = dict(mean=1, sd=1, ci95_low=1, ci95_high=1, difference=1, p_value=3, p_holm=3)


def baseline(inits: tuple[str, ...]) -> str:
    """The init others are compared with: Kaiming normal where the grid has it (the
    comparison page's common baseline), else Kaiming uniform, else the grid's first."""
    return next((b for b in BASELINES if b in inits), inits[0])


def accuracy_means(summary: pd.DataFrame) -> pd.DataFrame:
    """Final test accuracy (%) per cell: mean, sd, n seeds, 95% t-interval (none if n < 3)."""
    return tables.describe(summary, [*GROUP, "init"], value="test_accuracy")


def accuracy_tests(summary: pd.DataFrame, cfg: Settings) -> pd.DataFrame:
    """Each init's final test accuracy minus the baseline's, paired by seed within each (arch,
    data set, optimizer); Holm's correction over every row of the table."""
    return _paired(summary, GROUP, "init", baseline(cfg.inits), "test_accuracy", "seed")


def perturbation_tests(perturbed: pd.DataFrame) -> pd.DataFrame:
    """||theta_retrained - theta_trained|| after each perturbation minus after the unperturbed
    control, paired on (init, seed) within (arch, data set, optimizer); differences are
    averaged within a seed first (the inits of a seed share data), so n counts seeds."""
    if perturbed.empty or "none" not in set(perturbed.perturbation):
        return pd.DataFrame(columns=[*GROUP, "perturbation", *STATS])
    return _paired(perturbed, GROUP, "perturbation", "none", "distance", ["init", "seed"],
                   unit="seed")


def _paired(frame: pd.DataFrame, group: list[str], by: str, base: str, value: str,
            pair_on: str | list[str], unit: str | None = None) -> pd.DataFrame:
    parts = []
    for key, part in frame.groupby(group, sort=False):
        if base in set(part[by]) and part[by].nunique() > 1:
            test = tables.paired_tests(part, by, pair_on, base, value, unit=unit)
            parts.append(test.assign(**dict(zip(group, key)), baseline=base))
    if not parts:
        return pd.DataFrame(columns=[*group, by, *STATS])
    table = pd.concat(parts, ignore_index=True)
    table["p_holm"] = tables.holm(table.p_value.to_numpy())
    return table[[*group, by, *STATS]]


def init_scores(summary: pd.DataFrame, cfg: Settings) -> pd.DataFrame:
    """One row per run, in the long format every study writes for the comparison page:
    the data set with arch and optimizer folded in, the init, the pairing unit (the seed),
    the final test accuracy in % and the baseline init."""
    return pd.DataFrame(dict(
        study=material.STUDY,
        dataset=summary.dataset + "/" + summary.arch + "/" + summary.optimizer,
        init=summary.init, unit="seed=" + summary.seed.astype(str),
        value=summary.test_accuracy, metric="final test accuracy (%)",
        baseline=baseline(cfg.inits)))


def perturbation_table(perturbed: pd.DataFrame) -> pd.DataFrame:
    """The perturbation rows the notebook prints (an empty frame when nothing was perturbed)."""
    columns = ["arch", "dataset", "init", "optimizer", "seed", "perturbation", "jump",
               "distance", "path", "norm_trained", "distance_over_2norm", "accuracy_perturbed",
               "test_accuracy_retrained", "matched_mean", "share_above_0_9"]
    return perturbed[columns] if len(perturbed) else pd.DataFrame()


# ------------------------------------------------------------------------ generated text


def header(cfg: Settings, profile: str, out: Path) -> str:
    """The notebook's opening line (Markdown): what this profile's grid trains, and where."""
    images = "all" if not cfg.train_size else cfg.train_size
    return (f"**Data set(s): {', '.join(f'`{d}`' for d in cfg.datasets)}** (padded to 32x32x3), "
            f"profile `{profile}`; architectures {', '.join(cfg.archs)} (ResNet-18/VGG19 width "
            f"{cfg.width}, VGG19 head `{cfg.vgg_head}`); inits {', '.join(cfg.inits)}; "
            f"optimizers {', '.join(cfg.optimizers)}; {cfg.epochs} epochs on {images} training "
            f"images; {cfg.seeds} seed(s); {len(cells(cfg))} runs; outputs in `{out}`")


def profile_table() -> pd.DataFrame:
    """What each profile runs (read from the settings, so the text cannot drift from them)."""
    fields = ["archs", "datasets", "inits", "optimizers", "width", "vgg_head", "epochs",
              "train_size", "perturbations", "retrain_epochs", "pretrained", "seeds"]
    rows = []
    for name, changes in Settings.PROFILES.items():
        cfg = Settings(**changes)
        rows.append(dict(profile=name, **{f: ", ".join(v) if isinstance(v, tuple) else v
                                         for f, v in ((f, getattr(cfg, f)) for f in fields)}))
    return pd.DataFrame(rows).set_index("profile")


def precision_text(cfg: Settings, device: torch.device) -> str:
    """What `precision` became on this device, and the perturbation experiment's float32."""
    return (f"Training precision: `{cfg.precision}`, i.e. "
            f"**{effective_precision(device, cfg.precision)}** on `{device}`. Retraining after "
            "each perturbation (and the unperturbed control) runs in **float32** whatever "
            "this says.")


def interval_note(means: pd.DataFrame) -> str:
    """One sentence on how many seeds each mean has, and whether intervals are printed."""
    low, high = int(means.n.min()), int(means.n.max())
    count = f"n = {low}" if low == high else f"n = {low} to {high}"
    if high < 3:
        return f"Each mean is over {count} seed(s): with n < 3 no interval is printed."
    return f"Each mean is over {count} seeds; intervals are 95% t-intervals over seeds."


def distortion_text(summary: pd.DataFrame, cfg: Settings) -> str:
    """How many trained weights +distortion changes in float32 and after bf16 rounding."""
    f32, bf16 = summary.distortion_float32, summary.distortion_bf16
    return (f"Adding {cfg.distortion:g} to every trained parameter changes "
            f"{f32.min():.1f}-{f32.max():.1f}% of the float32 values, but only "
            f"{bf16.min():.1f}-{bf16.max():.1f}% of their bf16-rounded values (the values "
            f"bf16 autocast computes with), over the {len(summary)} trained models: under bf16 "
            f"{100 - bf16.max():.1f}% or more of the weights would be untouched.")


def frozen_text(frozen: pd.DataFrame, cfg: Settings) -> str:
    """The padding-only share of ResNet-18 at full width and at this profile's width (the
    `frozen` table of `fresh.load`)."""
    full, here = float(frozen.full_width.iloc[0]), float(frozen.this_width.iloc[0])
    return (f"Padding-only taps: **{full:.1f}%** of the full-width ResNet-18's parameters "
            f"({here:.1f}% at this profile's width {cfg.width:g}); the report: about "
            f"{reported.RESNET_UNCHANGED:.0f}% nearly unchanged.")


def differences(cfg: Settings) -> pd.DataFrame:
    """Each setting that differs from the original code (`Settings.AS_RUN`): its value in
    this run, the original's, and whether they agree (docs/05_parameter_dynamics.md)."""
    return pd.DataFrame([dict(setting=name, this_run=getattr(cfg, name), original=value,
                              as_original=getattr(cfg, name) == value)
                         for name, value in Settings.AS_RUN.items()]).set_index("setting")


def differences_text(cfg: Settings) -> str:
    """One Markdown line: whether `as_run` is on and which settings differ from the original."""
    table = differences(cfg)
    off = [f"`{n}={v}` (original `{o}`)" for n, v, o in
           zip(table.index, table.this_run, table.original) if v != o]
    return (f"`as_run: {cfg.as_run}`; "
            + ("every difference as the original code ran." if not off else
               "differing from the original code: " + ", ".join(off) + "."))


def flip_text(norms: pd.DataFrame) -> str:
    """The sign-flip paragraph's numbers, from `fresh.load`'s `flip_norms` table."""
    parts = [f"{r.arch}{f' ({r.head} head)' if r.head else ''}: {r.two_norm_fresh:.1f} "
             f"(reported {r.reported_sign_flip:g})" for r in norms.itertuples()]
    return "2 ||theta_0|| of freshly initialized full-width models: " + "; ".join(parts) + "."


def pretrained_loaded(summary: pd.DataFrame) -> str:
    """One Markdown line: what the pretrained runs of each architecture actually loaded."""
    pretrained = summary[summary.init == "pretrained"]
    if pretrained.empty:
        return "no pretrained runs in this grid"
    loaded = pretrained.groupby("arch").pretrained_from.agg(lambda s: ", ".join(sorted(set(s))))
    return "Pretrained runs loaded: " + ", ".join(f"`{a}`: {p}" for a, p in loaded.items())
