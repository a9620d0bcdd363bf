"""What study 03 trains (for `initlab plan`): a source run trains a VGG only when `pretrained`
names a data set (ImageNet weights and state-dict files train nothing; the NFM/AGOP pass over
`agop_images` images is not training); a target run trains one VGG on 80% of the training
set (docs/03_agop_nfm_init.md).
"""

from __future__ import annotations

from pathlib import Path

from initlab import catalog
from initlab.data import DATASETS
from initlab.studies.agop_nfm_init.design import channels_for
from initlab.studies.agop_nfm_init.settings import AgopNfmSettings, SourceSettings
from initlab.training.work import Training


def trainings(cfg: AgopNfmSettings | SourceSettings) -> list[Training]:
    """The VGG a source run (`SourceSettings`) or a target run trains."""
    if isinstance(cfg, SourceSettings):
        return _source(cfg)
    (dataset,) = cfg.datasets
    shape = catalog.shape(dataset)
    images = min(cfg.train_size, shape.train) if cfg.train_size else shape.train
    return [Training(cfg.model, cfg.head_classes or shape.classes, channels_for(cfg, dataset),
                     cfg.image_size,
                     int(images * (1 - cfg.val_fraction)), cfg.epochs, cfg.batch_size,
                     width=cfg.width, options=(("image_size", cfg.image_size),))]


def _source(src: SourceSettings) -> list[Training]:
    if src.pretrained not in DATASETS or Path(src.pretrained).expanduser().is_file():
        return []  # ImageNet weights or a state-dict file: nothing to train
    shape = catalog.shape(src.pretrained)
    images = shape.train if src.pretrained_split == "train" else shape.test
    return [Training(src.model, shape.classes, src.channels, src.image_size, images,
                     src.recipe.epochs, src.recipe.batch_size, width=src.width,
                     options=(("image_size", src.image_size),))]
