"""What study 04 trains (for `initlab plan`, docs/04_baselines_transfer.md): a baseline run
trains its model on the data set; the fallback source run trains the backbone on the data
set without the task's classes; a transfer run trains the backbone with a new head from
scratch, and twice a new head on the frozen pretrained backbone (`head`, `head_aug`: a
forward pass of the backbone per image). The `svm` variant trains no network.
"""

from __future__ import annotations

from initlab import catalog
from initlab.studies.baselines_transfer.settings import BaselineRun, SourceRun, TransferRun
from initlab.training.work import Training


def trainings(run: BaselineRun | SourceRun | TransferRun) -> list[Training]:
    """The networks one run of any of the three kinds trains."""
    if isinstance(run, BaselineRun):
        return _baseline(run)
    if isinstance(run, SourceRun):
        shape = catalog.shape(run.dataset)
        classes = shape.classes - len(run.exclude)
        images = run.train_size or classes * shape.per_class()
        return [Training(run.backbone, classes, 3, run.image_size, images, run.epochs,
                         run.batch_size, width=run.width)]
    classes = len(run.classes) or 2  # an image folder: the original's two classes
    plan = run.plan()
    common = dict(arch=run.backbone, classes=classes, channels=3, size=run.image_size,
                  images=run.train_size, width=run.width)
    return [Training(epochs=plan.scratch.epochs, batch_size=plan.scratch.batch_size, **common),
            *(Training(epochs=plan.fine_tune.epochs, batch_size=plan.fine_tune.batch_size,
                       frozen=True, **common) for _ in ("head", "head_aug"))]


def _baseline(run: BaselineRun) -> list[Training]:
    """SimpleCNN at the data set's shape; AlexNet at 3 x 32 x 32 (`runs.baseline_data`)."""
    shape = catalog.shape(run.dataset)
    channels, size = (3, 32) if run.model == "reduced_alexnet" else (shape.channels, shape.size)
    images = min(run.train_size, shape.train) if run.train_size else shape.train
    return [Training(run.model, shape.classes, channels, size, images, run.epochs,
                     run.batch_size, width=run.width, options=(("image_size", size),))]
