"""Study 02: can conv filters be initialized by sampling from a clustering of filters learned by
other networks, and does that beat random, Gabor and pretrained starts?

Every training run is its own store run. A `SourceRun` trains one ResNet-18 on one source task
(a pair of superclasses) and stores its weights; a `TargetRun` builds a fresh model for one
target task under one seed, initializes it by one method (drawing on the stored source models)
and records its validation accuracy per epoch. Every target run starts from its own
initialization: the original trained each model on the ten target tasks one after another
without resetting it, so nine of ten of its runs started from a trained model. Within a
(target task, seed) every method shares the base draw of the layers it does not set and the
batch order, so methods are compared pairwise. `run_all` is the notebook's one entry point.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd
import torch
from torch import nn

from initlab import data, paths, store
from initlab.data import augment, noise
from initlab.inits import initialize
from initlab.inits.clustered import Clusters, fit_clusters, main_convs
from initlab.models import build_model
from initlab.seeds import derive_seed
from initlab.studies.clustered_init import design, tasks
from initlab.studies.clustered_init.settings import ClusteredInitSettings
from initlab.studies.clustered_init.specs import (
    INITS,
    STUDY,
    SourceRun,
    TargetRun,
    Training,
    recipe,
    sources_of,
    task_name,
)
from initlab.training.fit import fit
from initlab.training.loop import History, evaluate
from initlab.training.runtime import Runtime

# --------------------------------------------------------------------------- data and models


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
    return build_model("resnet18", reference.num_classes, reference.in_channels,
                       width=spec.width, seed=seed, stem=spec.stem, custom=spec.custom)


def _fit(spec: SourceRun | TargetRun, model: nn.Module, train: data.ImageSet,
         val: data.ImageSet, runtime: Runtime, name: str) -> History:
    """The protocol's training: the run's SGD recipe, flips and rotations up to 15 degrees."""
    flip_rotate = augment.compose(augment.hflip, noise.rotate) if spec.augment else None
    return fit(model, train, val, recipe=recipe(spec), runtime=runtime,
               seed=derive_seed(spec.seed, "batches", *spec.task), augment=flip_rotate,
               name=name)


def run_source(spec: SourceRun, runtime: Runtime) -> store.Result:
    """Train one source model; its per-epoch curve and its weights (`store.model_tensors`)."""
    train, val = task_data(spec)
    model = new_model(spec, train, derive_seed(spec.seed, "source-model", *spec.task))
    history = _fit(spec, model, train, val, runtime, f"source {task_name(spec.task)}")
    return {"history": history.frame.assign(task=task_name(spec.task)),
            **store.model_tensors(model)}


# --------------------------------------------------------------------------- source models


def ensure_source(spec: SourceRun, runtime: Runtime | None = None, train: bool = True) -> None:
    """Train a source model now if it is not stored (with `train`; else MissingRunError)."""
    if not store.is_done(STUDY, spec):
        store.run(STUDY, spec, run_source, runtime=runtime, train=train)


def source_state(spec: SourceRun, runtime: Runtime | None = None,
                 train: bool = True) -> Mapping[str, torch.Tensor]:
    """A stored source model's weights (trained first if missing and `train`): read-only,
    shared by every caller; load them into a model or copy them before changing anything."""
    ensure_source(spec, runtime, train)
    return _stored_state(spec, paths.store_dir())


@functools.lru_cache(maxsize=64)
def _stored_state(spec: SourceRun, root: Path) -> Mapping[str, torch.Tensor]:
    """Read once per process and store: a target run draws on up to 20 source models, and
    every run of a condition on the same ones. Only the tensors are cached, never a model,
    so no caller can change what the next one gets (the tensors are not written to here:
    `source_model` and `pretrained` copy them into their own models)."""
    result = store.run(STUDY, spec, run_source, train=False, root=root)
    return MappingProxyType(store.model_state(result))


def source_model(spec: SourceRun, runtime: Runtime | None = None,
                 train: bool = True) -> nn.Module:
    """A fresh CPU model holding a stored source model's weights: the caller's own copy."""
    state = source_state(spec, runtime, train)
    # seed=0: the draw is overwritten at once; a seed keeps the global RNG untouched
    model = build_model("resnet18", state["fc.weight"].shape[0], state["conv1.weight"].shape[1],
                        width=spec.width, seed=0, stem=spec.stem, custom=spec.custom)
    model.load_state_dict(state)
    return model.eval()


def kmeans_seed(run_seed: int, index: int, clusters: int, distance: str) -> int:
    """The k-means seed of one layer's clustering for the target runs of seed `run_seed`:
    each seed draws its own clustering (as the original re-ran k-means for each of its
    models), so the spread over seeds includes the clustering's own variability."""
    return derive_seed(run_seed, "kmeans", index, clusters, distance)


@functools.lru_cache(maxsize=48)
def fitted_layer(sources: tuple[SourceRun, ...], index: int, clusters: int, distance: str,
                 sample: int, seed: int = 0) -> Clusters:
    """One layer's k-means over the stored sources' slices for the target runs of seed `seed`
    (the sources must be stored already).

    Cached per process: k-means is the slow step of a clustered init and every target task of
    one seed uses the same clustering (`design.target_runs` lists a seed's tasks one after
    another). The `Clusters` tensors are only read by the init (each draw copies centres).
    Slices are read from the cached state dicts: k-means needs only the conv weights, so one
    model is built, for the layer's name.
    """
    name, _ = main_convs(source_model(sources[0], train=False))[index]
    weights = [source_state(s, train=False)[f"{name}.weight"] for s in sources]
    slices = torch.cat([w.reshape(-1, *w.shape[-2:]) for w in weights])
    return fit_clusters(slices, clusters, distance, kmeans_seed(seed, index, clusters, distance),
                        sample)


# --------------------------------------------------------------------------- target runs


def apply_init(spec: TargetRun, model: nn.Module, runtime: Runtime | None = None,
               train: bool = True, images: data.ImageSet | None = None) -> nn.Module:
    """Initialize a fresh model in place by `spec.init` (training missing sources if `train`);
    a user's init that asks for data (LSUV) gets a seeded batch of `images`, the task's
    training images."""
    seed = derive_seed(spec.seed, "init", spec.init, *spec.task)
    if spec.init == "random":
        return model
    if spec.user_init is not None:
        return spec.user_init.apply(model, seed, images=images,
                                    batch_seed=derive_seed(spec.seed, "init-batch", *spec.task))
    if spec.init == "gabor":
        return initialize(model, "gabor", layers=spec.layers, seed=seed, rescale=spec.rescale,
                          grid=spec.gabor_grid, draw=spec.gabor_draw)
    sources = sources_of(spec, spec.n_sources)
    if spec.init == "pretrained":
        pick = sources[seed % len(sources)]
        keep_head = spec.source_dataset in ("", spec.dataset)
        return initialize(model, "pretrained", source=source_state(pick, runtime, train),
                          keep_head=keep_head)
    if spec.init == "clustered":
        for source in sources:
            ensure_source(source, runtime, train)
        fitted = [fitted_layer(tuple(sources), i, spec.clusters, spec.distance,
                               spec.kmeans_sample, spec.seed) for i in range(spec.layers)]
        return initialize(model, "clustered", layers=spec.layers, fitted=fitted, noise=spec.noise,
                          rescale=spec.rescale, seed=seed)
    if spec.init == "aligned":
        models = [source_model(s, runtime, train) for s in sources]
        return initialize(model, "aligned", sources=models, layers=spec.layers,
                          matching=spec.matching, order=spec.align_order, mean=spec.align_mean)
    raise ValueError(f"unknown init {spec.init!r}; choose one of {', '.join(INITS)}")


def initialized_model(spec: TargetRun, reference: data.ImageSet, runtime: Runtime | None = None,
                      train: bool = True) -> nn.Module:
    """The model a target run starts from (the same base draw for every init of a pair)."""
    model = new_model(spec, reference, derive_seed(spec.seed, "target-model", *spec.task))
    return apply_init(spec, model, runtime, train, reference)


def run_target(spec: TargetRun, runtime: Runtime) -> store.Result:
    """Initialize, evaluate (epoch 0), train; validation accuracy and loss per epoch."""
    train, val = task_data(spec)
    model = initialized_model(spec, train, runtime).to(runtime.torch_device)
    loss, accuracy = evaluate(model, val, runtime, recipe(spec).precision)
    history = _fit(spec, model, train, val, runtime, f"{spec.init} {task_name(spec.task)}")
    start = pd.DataFrame([dict(epoch=0, split="val", metric="loss", value=loss),
                          dict(epoch=0, split="val", metric="accuracy", value=accuracy)])
    curves = pd.concat([start, history.frame], ignore_index=True)
    return {"curves": curves.assign(task=task_name(spec.task))}


# --------------------------------------------------------------------------- the whole study


@dataclass
class StudyRuns:
    """Every run of the design and its stored result, in the design's order."""

    sources: list[SourceRun]
    source_results: list[store.Result]
    targets: list[TargetRun]  # experiments 1-8
    target_results: list[store.Result]
    tiny: list[TargetRun] = field(default_factory=list)  # experiments 9-11; empty if not run
    tiny_results: list[store.Result] = field(default_factory=list)
    tiny_skipped: str = ""  # why experiments 9-11 were not run


def run_all(cfg: ClusteredInitSettings, runtime: Runtime, train: bool = True) -> StudyRuns:
    """Train (with `train`) or load every run: source models, then experiments 1-8, then 9-11.

    Keep this order: scikit-learn's k-means shares torch's OpenMP runtime, so a clustering
    depends on the CPU thread count when it runs, and the first CPU `fit` of a process sets
    that count (one thread for these small models). Sources first means every k-means runs
    after a fit, as it did when the stored numbers were made.
    """
    sources, targets, *tiny = batches(cfg)
    done = StudyRuns(list(sources.settings), sources.run(runtime, train),
                     list(targets.settings), targets.run(runtime, train))
    done.tiny_skipped = design.tiny_imagenet_status(cfg)[1]
    if tiny:
        done.tiny, done.tiny_results = list(tiny[0].settings), tiny[0].run(runtime, train)
    return done


def batches(cfg: ClusteredInitSettings) -> list[store.Batch]:
    """Every run the study needs (`design.batches`), experiments 9-11 when Tiny ImageNet is
    there or required and the source models are RGB (`design.tiny_imagenet_status`)."""
    return design.batches(cfg, design.tiny_imagenet_status(cfg)[0])


def first_layer_filters(cfg: ClusteredInitSettings, conds: list[design.Condition],
                        count: int = 12, runtime: Runtime | None = None,
                        train: bool = False) -> dict[str, np.ndarray]:
    """label -> (count, k, k): the first input channel of the first `count` stem filters each
    condition starts from (first target task, first seed; no training: after `run_all` the
    source models it draws on are stored)."""
    out = {}
    for cond in conds:
        spec = design.target_runs(cfg, [cond])[0]
        reference, _ = task_data(spec)
        model = initialized_model(spec, reference, runtime, train)
        out[design.label(cond)] = model.conv1.weight.detach()[:count, 0].clone().numpy()
    return out
