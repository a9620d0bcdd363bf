"""Which runs study 03 needs: one source run per target data set, then one training run per
(data set, init, seed) (docs/03_agop_nfm_init.md). Torch-free, so `initlab plan` lists the
runs without the training code (`sources`, `runs`), which the batches name (`store.LazyFn`)
and import only to compute a run.
"""

from __future__ import annotations

import dataclasses

from initlab import store
from initlab.inits import InitOptions, InitSpec
from initlab.studies.agop_nfm_init.settings import STUDY_INITS, AgopNfmSettings, SourceSettings
from initlab.training.recipe import Recipe

STUDY = "03_agop_nfm_init"
SOURCE_STUDY = "03_agop_nfm_init_source"


def channels_for(cfg: AgopNfmSettings, dataset: str) -> int:
    """ImageNet VGG needs 3 channels (gray images repeated); else the target's own count."""
    if cfg.pretrained == "imagenet":
        return 3
    return 3 if dataset in ("cifar10", "cifar100", "svhn", "tiny_imagenet") else 1


def source_settings(cfg: AgopNfmSettings, dataset: str) -> SourceSettings:
    """The source run of target `dataset` (the settings refuse a source trained on the
    target's training images)."""
    fields = {f.name for f in dataclasses.fields(SourceSettings)} - {
        "target", "channels", "seed", "recipe", "agop_head"}
    recipe = Recipe("adam", lr=cfg.source_lr, epochs=cfg.source_epochs,
                    batch_size=cfg.batch_size, precision=cfg.precision)
    head = "fresh" if dataset in cfg.agop_fresh_head else "source"
    return SourceSettings(target=dataset, channels=channels_for(cfg, dataset),
                          seed=cfg.source_seed, recipe=recipe, agop_head=head,
                          **{k: getattr(cfg, k) for k in fields})


def source_runs(cfg: AgopNfmSettings) -> list[SourceSettings]:
    """One source run per target data set."""
    return [source_settings(cfg, d) for d in cfg.datasets]


def run_settings(cfg: AgopNfmSettings) -> list[AgopNfmSettings]:
    """One settings per (data set, init, run r): seed + r; same seed = same split and batches."""
    return [dataclasses.replace(cfg, datasets=(d,), inits=(i,), seed=cfg.seed + r,
                                init_options=InitOptions(), init_spec=init_spec(cfg, i))
            for d in cfg.datasets for i in cfg.inits for r in range(cfg.runs)]


def init_spec(cfg: AgopNfmSettings, label: str) -> InitSpec | None:
    """What names a run's init beyond its label: a user's function (source hash), options
    given to it, or a data-dependent init (LSUV); None for the study's own inits."""
    return None if label in STUDY_INITS else InitSpec.for_run(label, cfg.init_options.get(label))


def batches(cfg: AgopNfmSettings) -> list[store.Batch]:
    """Every run the study needs: one source per target data set (`sources.run_source`), then
    the training runs (`runs.run`)."""
    return [store.Batch(SOURCE_STUDY, store.LazyFn(f"{__package__}.sources:run_source"),
                        tuple(source_runs(cfg))),
            store.Batch(STUDY, store.LazyFn(f"{__package__}.runs:run"),
                        tuple(run_settings(cfg)))]
