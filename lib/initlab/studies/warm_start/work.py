"""What one run of study 01 trains (for `initlab plan`): six tiny CNNs on their noisy subsets
(`source_epochs`; the original's first one on the whole clean set), then one tiny CNN per
warm-start method on the clean training set (docs/01_warm_start.md).

The models of each group train stacked in one `fit_many` call; they are counted as separate
models here (a calibration of one model's steps overestimates a stacked step's cost a little).
"""

from __future__ import annotations

from initlab import catalog
from initlab.studies.warm_start.design import MODEL, methods
from initlab.studies.warm_start.settings import WarmStartSettings
from initlab.training.work import Training


def trainings(cfg: WarmStartSettings) -> list[Training]:
    """The models one iteration trains."""
    data = catalog.shape(cfg.dataset)
    clean = min(cfg.train_size, data.train) if cfg.train_size else data.train

    def model(images: int, epochs: int) -> Training:
        return Training(MODEL, data.classes, data.channels, data.size, images, epochs,
                        cfg.batch_size, options=(("image_size", data.size),))

    sources = [model(cfg.subset_size, cfg.source_epochs) for _ in cfg.noises]
    if cfg.sources == "full_first":  # the original's model 0: the whole clean training set
        sources[0] = model(clean, cfg.source_epochs)
    return sources + [model(clean, cfg.baseline_epochs if method == "random" else cfg.epochs)
                      for method in methods(cfg)]
