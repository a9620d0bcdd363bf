"""Study 02: can conv filters be initialized by sampling from a clustering of filters learned by
other networks, and does that beat random, Gabor and pretrained starts?

Every training run is its own store run. A `SourceRun` trains one ResNet-18 on one source task
(a pair of superclasses) and stores its weights; a `TargetRun` builds a fresh model for one
target task under one seed, initializes it by one method (drawing on the stored source models)
and records its validation accuracy per epoch. Every target run starts from its own
initialization: the original trained each model on the ten target tasks one after another
without resetting it, so nine of ten of its runs started from a trained model. Within a
(target task, seed) every method shares the base draw of the layers it does not set and the
batch order, so methods are compared pairwise.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn

from initlab import data, noise, store, tasks
from initlab.clustering import Clusters, fit_clusters, layer_slices
from initlab.devices import derive_seed, pick_device
from initlab.initializers import initialize
from initlab.models import build_model
from initlab.profiles import ClusteredInitSettings
from initlab.train import evaluate, fit

STUDY = "02_clustered_init"
INITS = ("random", "pretrained", "gabor", "clustered", "aligned")


@dataclass(frozen=True)
class Training:
    """What a training run of either kind depends on (defaults: the paper protocol)."""

    dataset: str = "cifar100"
    task: tuple[int, ...] = ()  # a pair of groups; () = the whole data set (Tiny ImageNet)
    width: float = 1.0
    stem: str = "imagenet"
    custom: bool = False
    image_size: int = 0
    train_size: int = 0
    test_size: int = 0
    augment: bool = True
    batch_size: int = 128
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    lr_every: int = 6
    seed: int = 0


@dataclass(frozen=True)
class SourceRun(Training):
    """One source model: trained on one source task, its weights stored."""

    epochs: int = 25
    lr_factor: float = 0.5


@dataclass(frozen=True)
class TargetRun(Training):
    """One target task under one seed and one initialization; its curve is stored."""

    epochs: int = 15
    lr_factor: float = 0.2
    init: str = "random"  # one of INITS
    distance: str = ""
    n_sources: int = 0  # clustered/aligned: the first N sources; pretrained: one of N
    clusters: int = 0
    layers: int = 0
    matching: str = ""
    noise: float = 0.0
    rescale: str = "none"
    kmeans_sample: int = 0
    # the source models the init draws on: trained like this run unless named here
    source_dataset: str = ""
    source_image_size: int = -1
    source_train_size: int = -1
    source_test_size: int = -1
    source_epochs: int = 25
    source_lr_factor: float = 0.5
    source_seed: int = 0


SOURCE_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TargetRun)
                   if f.name.startswith("source_")}


# --------------------------------------------------------------------------- data and models


def task_name(task: tuple[int, ...]) -> str:
    return "-".join(map(str, task)) if task else "all"


def task_data(spec: Training) -> tuple[data.ImageSet, data.ImageSet]:
    """Train and validation (test split) images of the run's task, subsampled as set."""
    sets = []
    for split, size in (("train", spec.train_size), ("test", spec.test_size)):
        classes = len(tasks.task_classes(spec.dataset, spec.task)) if spec.task else \
            tasks.full_set(spec.dataset, split, spec.image_size).num_classes
        seed = derive_seed(0, "subsample", spec.dataset, split, *spec.task)
        sets.append(tasks.make_task(spec.dataset, spec.task, split, image_size=spec.image_size,
                                    per_class_limit=size // classes if size else 0, seed=seed))
    return sets[0], sets[1]


def new_model(spec: Training, reference: data.ImageSet, seed: int) -> nn.Module:
    """A fresh ResNet-18 (torchvision's Kaiming-normal fan_out init) drawn with `seed`."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model("resnet18", reference.num_classes, reference.in_channels,
                           width=spec.width, stem=spec.stem, custom=spec.custom)


def _fit(spec: SourceRun | TargetRun, model, train, val, device, name: str):
    augment = noise.compose(noise.hflip, noise.rotate) if spec.augment else None
    return fit(model, train, val, optimizer="sgd", lr=spec.lr, epochs=spec.epochs,
               batch_size=spec.batch_size, augment=augment, device=device,
               seed=derive_seed(spec.seed, "batches", *spec.task), momentum=spec.momentum,
               weight_decay=spec.weight_decay, lr_step=(spec.lr_every, spec.lr_factor),
               name=name)


def run_source(spec: SourceRun, device: str = "auto") -> dict:
    """Train one source model; its per-epoch curve and its weights (`state/<name>`)."""
    device = pick_device(device)
    train, val = task_data(spec)
    model = new_model(spec, train, derive_seed(spec.seed, "source-model", *spec.task))
    history = _fit(spec, model, train, val, device, f"source {task_name(spec.task)}")
    state = {f"state/{k}": v.detach().cpu() for k, v in model.state_dict().items()}
    return {"history": history.frame.assign(task=task_name(spec.task)), **state}


@functools.lru_cache(maxsize=64)
def source_model(spec: SourceRun, train: bool = True, device: str = "auto") -> nn.Module:
    """A stored source model rebuilt on the CPU (trained first if missing and `train`)."""
    result = store.run(STUDY, spec, functools.partial(run_source, device=device), train=train)
    state = {k.removeprefix("state/"): v for k, v in result.items() if k.startswith("state/")}
    in_channels = state["conv1.weight"].shape[1]
    model = build_model("resnet18", state["fc.weight"].shape[0], in_channels, width=spec.width,
                        stem=spec.stem, custom=spec.custom)
    model.load_state_dict(state)
    return model.eval()


def sources_of(spec: TargetRun, n: int) -> list[SourceRun]:
    """The first `n` source runs of the seeded source-task order that `spec` draws on."""
    dataset = spec.source_dataset or spec.dataset

    def own(value: int, default: int) -> int:
        return default if value == -1 else value

    common = {f.name: getattr(spec, f.name) for f in dataclasses.fields(Training)}
    common.update(dataset=dataset, image_size=own(spec.source_image_size, spec.image_size),
                  train_size=own(spec.source_train_size, spec.train_size),
                  test_size=own(spec.source_test_size, spec.test_size),
                  seed=spec.source_seed)
    order = tasks.source_order(dataset, derive_seed(spec.source_seed, "source-order"))
    if n > len(order):
        raise ValueError(f"{dataset} has {len(order)} source tasks, asked for {n} models")
    return [SourceRun(**{**common, "task": pair}, epochs=spec.source_epochs,
                      lr_factor=spec.source_lr_factor) for pair in order[:n]]


@functools.lru_cache(maxsize=48)
def fitted_layer(sources: tuple[SourceRun, ...], index: int, clusters: int, distance: str,
                 sample: int, train: bool = True) -> Clusters:
    """One layer's k-means over the sources' slices, shared by every run of a condition (the
    seed depends on the sources, layer, K and distance only)."""
    models = [source_model(s, train) for s in sources]
    seed = derive_seed(sources[0].seed, "kmeans", index, clusters, distance)
    return fit_clusters(layer_slices(models, index), clusters, distance, seed, sample)


def apply_init(spec: TargetRun, model: nn.Module, train: bool = True) -> nn.Module:
    """Initialize a fresh model in place by `spec.init`."""
    seed = derive_seed(spec.seed, "init", spec.init, *spec.task)
    sources = sources_of(spec, spec.n_sources) if spec.init not in ("random", "gabor") else []
    if spec.init == "random":
        return model
    if spec.init == "gabor":
        return initialize(model, "gabor", layers=spec.layers, seed=seed, rescale=spec.rescale)
    if spec.init == "pretrained":
        pick = sources[seed % len(sources)]
        keep_fc = spec.source_dataset in ("", spec.dataset)
        return initialize(model, "pretrained", source=source_model(pick, train), keep_fc=keep_fc)
    if spec.init == "clustered":
        key = tuple(sources)
        fitted = [fitted_layer(key, i, spec.clusters, spec.distance, spec.kmeans_sample, train)
                  for i in range(spec.layers)]
        return initialize(model, "clustered", layers=spec.layers, fitted=fitted, noise=spec.noise,
                          rescale=spec.rescale, seed=seed)
    if spec.init == "aligned":
        models = [source_model(s, train) for s in sources]
        return initialize(model, "aligned", sources=models, layers=spec.layers,
                          matching=spec.matching)
    raise ValueError(f"unknown init {spec.init!r}; choose one of {', '.join(INITS)}")


def initialized_model(spec: TargetRun, reference: data.ImageSet, train: bool = True):
    """The model a target run starts from (the same base draw for every init of a pair)."""
    model = new_model(spec, reference, derive_seed(spec.seed, "target-model", *spec.task))
    return apply_init(spec, model, train)


def run_target(spec: TargetRun, device: str = "auto") -> dict:
    """Initialize, evaluate (epoch 0), train; validation accuracy and loss per epoch."""
    device = pick_device(device)
    train, val = task_data(spec)
    model = initialized_model(spec, train)
    loss, accuracy = evaluate(model, val, device)
    history = _fit(spec, model, train, val, device, f"{spec.init} {task_name(spec.task)}")
    start = pd.DataFrame([dict(epoch=0, split="val", metric="loss", value=loss),
                          dict(epoch=0, split="val", metric="accuracy", value=accuracy)])
    curves = pd.concat([start, history.frame], ignore_index=True)
    return {"curves": curves.assign(task=task_name(spec.task))}


# --------------------------------------------------------------------------- the design


def training_fields(cfg: ClusteredInitSettings) -> dict:
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


def conditions(cfg: ClusteredInitSettings) -> list[dict]:
    """Experiments 1-8 as init settings, each once (the sweeps share their centre point)."""
    out = [dict(init="random"), dict(init="pretrained", n_sources=cfg.source_models)]
    out += [dict(init="gabor", layers=n) for n in cfg.gabor_layers]
    points = [(n, cfg.clusters, cfg.layers) for n in cfg.sweep_sources]
    points += [(cfg.n_sources, k, cfg.layers) for k in cfg.sweep_clusters]
    points += [(cfg.n_sources, cfg.clusters, n) for n in cfg.sweep_layers]
    for distance in cfg.distances:
        out += [dict(init="clustered", distance=distance, n_sources=n, clusters=k, layers=n_l,
                     noise=cfg.noise, rescale=cfg.rescale, kmeans_sample=cfg.kmeans_sample)
                for n, k, n_l in dict.fromkeys(points)]
    out.append(dict(init="random", custom=True))
    out += [dict(init="aligned", custom=True, n_sources=cfg.align_sources, layers=n, matching=m)
            for n in cfg.align_layers for m in cfg.align_matchings]
    return out


def target_pairs(cfg: ClusteredInitSettings) -> list[tuple[int, int]]:
    return tasks.draw_target_pairs(cfg.dataset, cfg.targets, derive_seed(cfg.seed, "targets"))


def target_runs(cfg: ClusteredInitSettings, conds: list[dict]) -> list[TargetRun]:
    """Each condition on every target task under every seed (condition-major order, so the
    cached source models and clusterings serve a condition's runs one after another)."""
    runs = []
    for cond in conds:
        base = template(cfg, cond.get("custom", False))
        if cond["init"] in ("random", "gabor"):  # no sources: keep their settings out of the name
            base = dataclasses.replace(base, **SOURCE_DEFAULTS)
        for pair in target_pairs(cfg):
            for r in range(cfg.runs):
                runs.append(dataclasses.replace(base, task=pair, seed=cfg.seed + r, **cond))
    return runs


def tiny_runs(cfg: ClusteredInitSettings) -> list[TargetRun]:
    """Experiments 9-11 on all 200 Tiny ImageNet classes: random, a CIFAR-100 source model with
    a new 200-way fc, and clustered (Fourier, N = 6, K = 3, L = 17)."""
    base = dataclasses.replace(
        template(cfg), dataset="tiny_imagenet", task=(), image_size=0,
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
