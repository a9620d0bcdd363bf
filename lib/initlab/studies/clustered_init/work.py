"""What study 02 trains (for `initlab plan`): one ResNet-18 per source run and per target run
(docs/02_clustered_init.md), and the study's batches as its settings ask for them without
looking for the data (`runs.batches` checks Tiny ImageNet's files and channels, which needs
the data sets on this machine).

A target run trains its missing source models inside it (`runs.ensure_source`); they are the
study's first batch, so each is counted once, there.
"""

from __future__ import annotations

from initlab import catalog, data, store
from initlab.studies.clustered_init import design, tasks
from initlab.studies.clustered_init.runs import run_source, run_target
from initlab.studies.clustered_init.settings import ClusteredInitSettings
from initlab.studies.clustered_init.specs import STUDY, SourceRun, TargetRun
from initlab.training.work import Training


def trainings(spec: SourceRun | TargetRun) -> list[Training]:
    """The ResNet-18 a source or target run trains on its task (`runs.task_data`)."""
    shape = catalog.shape(spec.dataset)
    classes = len(tasks.task_classes(spec.dataset, spec.task)) if spec.task else shape.classes
    per_class = shape.per_class()
    if spec.train_size:
        per_class = min(per_class, spec.train_size // classes)
    return [Training("resnet18", classes, shape.channels, spec.image_size or shape.size,
                     classes * per_class, spec.epochs, spec.batch_size, width=spec.width,
                     options=(("stem", spec.stem), ("custom", spec.custom)))]


def batches(cfg: ClusteredInitSettings) -> list[store.Batch]:
    """`runs.batches` without the data: experiments 9-11 count when `tiny_imagenet` is "on",
    or "if_available" with its files here and RGB source models (as `runs.batches` decides)."""
    found = [store.Batch(STUDY, run_source, tuple(design.source_runs(cfg))),
             store.Batch(STUDY, run_target,
                         tuple(design.target_runs(cfg, design.conditions(cfg))))]
    rgb = catalog.shape(cfg.dataset).channels == 3
    if cfg.tiny_imagenet == "on" or (cfg.tiny_imagenet == "if_available" and rgb
                                     and data.available("tiny_imagenet")):
        found.append(store.Batch(STUDY, run_target, tuple(design.tiny_runs(cfg))))
    return found
