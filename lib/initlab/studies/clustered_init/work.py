"""What study 02 trains (for `initlab plan`): one ResNet-18 per source run and per target run
(docs/02_clustered_init.md).

A target run trains its missing source models inside it (`runs.ensure_source`); they are the
study's first batch, so each is counted once, there.
"""

from __future__ import annotations

from initlab import catalog
from initlab.studies.clustered_init import tasks
from initlab.studies.clustered_init.specs import SourceRun, TargetRun
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
