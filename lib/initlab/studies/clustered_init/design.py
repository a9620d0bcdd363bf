"""Study 02's design: which source models, conditions, target tasks and seeds the settings ask
for, as lists of run specs (`specs.SourceRun` / `specs.TargetRun`), and a readable label for
each condition, and the study's batches of runs (`batches`: their functions named, not
imported, so `initlab plan` lists them without torch). Nothing here trains or reads the store.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from initlab import catalog, data, store
from initlab.inits import InitSpec
from initlab.seeds import derive_seed
from initlab.studies.clustered_init import tasks
from initlab.studies.clustered_init.settings import ClusteredInitSettings
from initlab.studies.clustered_init.specs import (
    SOURCE_DEFAULTS,
    STUDY,
    SourceRun,
    TargetRun,
    Training,
    sources_of,
)

Condition = dict[str, Any]  # init settings of one condition, e.g. {"init": "gabor", "layers": 1}


def label(c: Mapping[str, Any] | TargetRun | Any) -> str:
    """A readable name for a condition (a dict, a frame row or a TargetRun)."""
    get = c.get if hasattr(c, "get") else lambda k, d=None: getattr(c, k, d)
    init = get("init")
    if init == "random":
        return "random (custom)" if get("custom", False) else "random"
    if init == "gabor":
        return f"Gabor L={get('layers')}"
    if init == "aligned":
        return f"aligned {get('matching')} L={get('layers')}"
    if init == "clustered":
        text = f"{get('distance')} N={get('n_sources')} K={get('clusters')} L={get('layers')}"
        if get("noise", 0.0):
            text += f" noise={get('noise')}"
        if get("rescale", "none") not in ("none", "", None):
            text += f" {get('rescale')}"
        return text
    return str(init)


def training_fields(cfg: ClusteredInitSettings) -> dict[str, Any]:
    """The settings every run shares (all `Training` fields but the task and architecture)."""
    names = {f.name for f in dataclasses.fields(Training)} - {"task", "custom"}
    return {name: getattr(cfg, name) for name in names}


def template(cfg: ClusteredInitSettings, custom: bool = False) -> TargetRun:
    """A target run with the study's training and source settings (task and init unset)."""
    return TargetRun(**training_fields(cfg), custom=custom, epochs=cfg.target_epochs,
                     lr_factor=cfg.target_lr_factor, source_epochs=cfg.source_epochs,
                     source_lr_factor=cfg.source_lr_factor, source_seed=cfg.seed)


def source_runs(cfg: ClusteredInitSettings) -> list[SourceRun]:
    """Every source model the design needs: standard ones, then the custom ones to align."""
    standard = sources_of(template(cfg), cfg.source_models)
    custom = sources_of(template(cfg, custom=True), cfg.align_sources)
    return standard + (custom if cfg.align_layers else [])


def conditions(cfg: ClusteredInitSettings) -> list[Condition]:
    """Experiments 1-8 as init settings, each once (the sweeps share their centre point).

    Figure 8's first-layer-only inits (Gabor L = 1 and clustered L = 1 at N = n_sources,
    K = clusters, the original's by-L sweep point) are always in, even where the settings'
    sweeps leave L = 1 out."""
    out = [dict(init="random"), dict(init="pretrained", n_sources=cfg.source_models)]
    out += [gabor(cfg, n) for n in dict.fromkeys((*cfg.gabor_layers, 1))]
    out += user_conditions(cfg)
    points = [(n, cfg.clusters, cfg.layers) for n in cfg.sweep_sources]
    points += [(cfg.n_sources, k, cfg.layers) for k in cfg.sweep_clusters]
    points += [(cfg.n_sources, cfg.clusters, n) for n in (*cfg.sweep_layers, 1)]
    for distance in cfg.distances:
        out += [clustered(cfg, distance, n, k, n_l) for n, k, n_l in dict.fromkeys(points)]
    out.append(dict(init="random", custom=True))
    out += [aligned(cfg, n, m) for n in cfg.align_layers for m in cfg.align_matchings]
    return out


def gabor(cfg: ClusteredInitSettings, layers: int) -> Condition:
    """Gabor init of the first `layers` layers on the settings' grid and draw."""
    return dict(init="gabor", layers=layers, gabor_grid=cfg.gabor_grid, gabor_draw=cfg.gabor_draw)


def aligned(cfg: ClusteredInitSettings, layers: int, matching: str) -> Condition:
    """The aligned mean of the custom source models' first `layers` layers; the greedy walk's
    order names greedy runs only (an optimal assignment has none)."""
    cond = dict(init="aligned", custom=True, n_sources=cfg.align_sources, layers=layers,
                matching=matching, align_mean=cfg.align_mean)
    return {**cond, "align_order": cfg.align_order} if matching == "greedy" else cond


def user_conditions(cfg: ClusteredInitSettings) -> list[Condition]:
    """The user's own inits (`cfg.inits`), each with its options and source hash."""
    return [dict(init=name, user_init=InitSpec.of(name, cfg.init_options.get(name)))
            for name in cfg.inits]


def clustered(cfg: ClusteredInitSettings, distance: str, n_sources: int, clusters: int,
              layers: int) -> Condition:
    """One clustered condition with the settings' noise, rescale and k-means sample."""
    return dict(init="clustered", distance=distance, n_sources=n_sources, clusters=clusters,
                layers=layers, noise=cfg.noise, rescale=cfg.rescale,
                kmeans_sample=cfg.kmeans_sample)


def first_layer_conditions(cfg: ClusteredInitSettings) -> list[Condition]:
    """Figure 8 (as the original's): random and the inits that set the stem alone: Gabor
    L = 1 and clustered L = 1 for every distance (N = n_sources, K = clusters)."""
    return [dict(init="random"), gabor(cfg, 1),
            *(clustered(cfg, d, cfg.n_sources, cfg.clusters, 1) for d in cfg.distances)]


def target_pairs(cfg: ClusteredInitSettings) -> list[tuple[int, int]]:
    """The target tasks: `cfg.targets` pairs of target groups, a fixed seeded draw."""
    return tasks.draw_target_pairs(cfg.dataset, cfg.targets, derive_seed(cfg.seed, "targets"))


def target_runs(cfg: ClusteredInitSettings, conds: list[Condition]) -> list[TargetRun]:
    """Each condition on every target task under every seed (condition-major, then seed-major
    order: a seed's clusterings, cached per process, serve its tasks one after another)."""
    runs = []
    for cond in conds:
        base = template(cfg, cond.get("custom", False))
        if cond["init"] in ("random", "gabor") or "user_init" in cond:  # no sources: keep
            # their settings out of the name
            base = dataclasses.replace(base, **SOURCE_DEFAULTS)
        for r in range(cfg.runs):
            for pair in target_pairs(cfg):
                runs.append(dataclasses.replace(base, task=pair, seed=cfg.seed + r, **cond))
    return runs


def tiny_runs(cfg: ClusteredInitSettings) -> list[TargetRun]:
    """Experiments 9-11 on all 200 Tiny ImageNet classes: random, a CIFAR-100 source model with
    a new 200-way fc, and clustered (Fourier, N = 6, K = 3, L = 17). No augmentation: the
    original's Tiny ImageNet pipeline had none (only tensor conversion and normalization)."""
    base = dataclasses.replace(
        template(cfg), dataset="tiny_imagenet", task=(), image_size=0, augment=False,
        train_size=cfg.tiny_train_size, test_size=cfg.tiny_test_size, epochs=cfg.tiny_epochs,
        source_dataset=cfg.dataset, source_image_size=cfg.image_size,
        source_train_size=cfg.train_size, source_test_size=cfg.test_size)
    conds = [dict(init="random"), dict(init="pretrained", n_sources=cfg.source_models),
             dict(init="clustered", distance=cfg.tiny_distance, n_sources=cfg.tiny_sources,
                  clusters=cfg.tiny_clusters, layers=17, kmeans_sample=cfg.kmeans_sample)]
    return [dataclasses.replace(base, seed=cfg.seed + r, **c)
            for c in conds for r in range(cfg.tiny_runs)]


def tiny_imagenet_status(cfg: ClusteredInitSettings) -> tuple[bool, str]:
    """(run it?, why not). `on` with the data missing raises DataUnavailableError."""
    if cfg.tiny_imagenet == "off":
        return False, "tiny_imagenet='off' in these settings"
    if cfg.tiny_imagenet not in ("on", "if_available"):
        raise ValueError(f"tiny_imagenet must be on, if_available or off: {cfg.tiny_imagenet!r}")
    if not data.available("tiny_imagenet"):
        if cfg.tiny_imagenet == "on":
            data.load("tiny_imagenet", "train")  # raises with the missing files and the fix
        return False, ("Tiny ImageNet is not on this machine (`initlab data download "
                       "tiny_imagenet` fetches it); experiments 9-11 were not run")
    if tasks.full_set(cfg.dataset, "train", cfg.image_size).in_channels != 3:
        return False, (f"the source models were trained on {cfg.dataset} (1 channel); a "
                       "pretrained start on 3-channel Tiny ImageNet needs RGB source models")
    return True, ""


def tiny_imagenet_planned(cfg: ClusteredInitSettings) -> bool:
    """Whether experiments 9-11 run, decided without loading any data: `tiny_imagenet` "on",
    or "if_available" with its files here and RGB source models (by the catalog), as
    `tiny_imagenet_status` decides from the data."""
    rgb = catalog.shape(cfg.dataset).channels == 3
    return cfg.tiny_imagenet == "on" or (cfg.tiny_imagenet == "if_available" and rgb
                                         and data.available("tiny_imagenet"))


def batches(cfg: ClusteredInitSettings, tiny: bool | None = None) -> list[store.Batch]:
    """Every run the study needs, in dependency order: the source models, experiments 1-8,
    then experiments 9-11 where `tiny` says so (None: `tiny_imagenet_planned`)."""
    def fn(name: str) -> store.LazyFn:
        return store.LazyFn(f"{__package__}.runs:{name}")

    found = [store.Batch(STUDY, fn("run_source"), tuple(source_runs(cfg))),
             store.Batch(STUDY, fn("run_target"), tuple(target_runs(cfg, conditions(cfg))))]
    if tiny is None:
        tiny = tiny_imagenet_planned(cfg)
    if tiny:
        found.append(store.Batch(STUDY, fn("run_target"), tuple(tiny_runs(cfg))))
    return found


def filter_conditions(cfg: ClusteredInitSettings) -> list[Condition]:
    """The extra filter pictures: Figure 8's first-layer inits, then a pretrained stem (what
    trained filters look like)."""
    return [*first_layer_conditions(cfg), dict(init="pretrained", n_sources=cfg.source_models)]


def describe(cfg: ClusteredInitSettings, profile: str, out: Path) -> str:
    """The notebook's one-paragraph summary of the data set, pools, tasks and scale."""
    source_pool, target_pool = tasks.pools(cfg.dataset)
    return (f"**Data set: `{cfg.dataset}`** (profile `{profile}`). Groups {source_pool} form "
            f"the source pool, {target_pool} the target pool; target tasks "
            f"{target_pairs(cfg)}; {cfg.runs} seeds each, {cfg.target_epochs} epochs; "
            f"ResNet-18 at width {cfg.width}. Outputs in `{out}`.")
