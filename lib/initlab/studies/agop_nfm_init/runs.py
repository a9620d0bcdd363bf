"""Study 03: does sampling VGG11's conv filters from a Gaussian whose covariance is a trained
network's NFM or AGOP beat the standard initializations? (docs/03_agop_nfm_init.md)

Two kinds of store runs:
- a source run per target data set (`sources.py`): the source network's NFMs, its input
  normalization and the ansatz check;
- a training run per (data set, init, seed), here: a fresh VGG initialized by the method (conv
  filters) and VGG's rule (linear layers N(0, linear_std^2), biases 0), trained with SGD on 80%
  of the training set, validated on the other 20% every epoch. An AGOP init takes the source's
  AGOP over `agop_images` images of this run's training fold (never its validation fold).
Runs with the same seed share the split, the batch order, the dropout masks, the linear layers
and the AGOP sample, so inits are compared pairwise.
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from initlab import data, store
from initlab.inits.matrix import MATRIX_METHODS, vgg_linear, vgg_style
from initlab.models import conv_layers
from initlab.seeds import derive_seed
from initlab.studies.agop_nfm_init.design import (  # noqa: F401 (signal, tests read them here)
    SOURCE_STUDY,
    STUDY,
    batches,
    channels_for,
    init_spec,
    run_settings,
    source_settings,
)
from initlab.studies.agop_nfm_init.settings import AgopNfmSettings, init_call
from initlab.studies.agop_nfm_init.sources import fold_agop, new_model, prepare, run_source
from initlab.training.fit import fit
from initlab.training.loop import TrainingDiverged, evaluate
from initlab.training.runtime import Runtime


def fold_indices(cfg: AgopNfmSettings, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices into the data set's training split of run `seed`'s training and validation
    folds: a seeded `train_size` subsample (if set), split 80/20 by `seed`."""
    chosen = torch.arange(size)
    if cfg.train_size and cfg.train_size < size:
        chosen = torch.randperm(size, generator=torch.Generator().manual_seed(
            derive_seed(seed, "subsample")))[:cfg.train_size]
    order = torch.randperm(len(chosen), generator=torch.Generator().manual_seed(
        derive_seed(seed, "split")))
    cut = round((1 - cfg.val_fraction) * len(chosen))
    return chosen[order[:cut]], chosen[order[cut:]]


def agop_indices(cfg: AgopNfmSettings, train_fold: torch.Tensor, seed: int) -> torch.Tensor:
    """The AGOP sample of run `seed`: `agop_images` seeded indices of its training fold, so
    no image the run validates on shapes its init."""
    order = torch.randperm(len(train_fold), generator=torch.Generator().manual_seed(
        derive_seed(seed, "agop-images")))
    return train_fold[order[:cfg.agop_images]]


def target_data(cfg: AgopNfmSettings, dataset: str, seed: int
                ) -> tuple[data.ImageSet, data.ImageSet, data.ImageSet]:
    """Run `seed`'s training fold, validation fold and AGOP sample (from the training fold),
    prepared (size, channels); normalized later with the target's stats (training) or the
    source's (AGOP)."""
    full = data.load(dataset, "train")
    train, val = fold_indices(cfg, len(full), seed)
    return tuple(prepare(full.subset(i), cfg.image_size, channels_for(cfg, dataset))
                 for i in (train, val, agop_indices(cfg, train, seed)))


def initialized_model(cfg: AgopNfmSettings, train: data.ImageSet, sample: data.ImageSet,
                      runtime: Runtime) -> nn.Module:
    """A fresh VGG with the run's init (`settings.init_call` maps the study's label to a
    registered method and its options); an NFM init reads the source run's NFMs, an AGOP init
    takes the source's AGOP over `sample`, images of this run's training fold."""
    (dataset,), (label,) = cfg.datasets, cfg.inits
    model = new_model(cfg, cfg.head_classes or train.num_classes, train.in_channels,
                      derive_seed(cfg.seed, "model"))
    if cfg.init_spec is not None:  # a user's init sets the filters, then VGG's linear draw
        seed = derive_seed(cfg.seed, "init")
        cfg.init_spec.apply(model, derive_seed(seed, "conv", label), images=train,
                            batch_seed=derive_seed(cfg.seed, "init-batch"))
        return vgg_linear(model, cfg.linear_std, seed=derive_seed(seed, "linear"))
    method, options = init_call(label)
    if method in MATRIX_METHODS:
        src = source_settings(cfg, dataset)
        source = store.run(SOURCE_STUDY, src, run_source, runtime=runtime)
        options["matrices"] = ([source[f"nfm.{i}"] for i in range(len(conv_layers(model)))]
                               if "nfm" in method else fold_agop(src, source, sample, runtime))
        options.update(kaiming_scale=cfg.kaiming_scale, pd_shift=cfg.pd_shift)
    return vgg_style(model, method, seed=derive_seed(cfg.seed, "init"),
                     linear_std=cfg.linear_std, **options)


def run(cfg: AgopNfmSettings, runtime: Runtime) -> dict[str, pd.DataFrame]:
    """One (data set, init, seed): initialize, train with SGD, validate every epoch; a diverged
    run is kept as a result (NaN curves, the message in `status`)."""
    if len(cfg.datasets) != 1 or len(cfg.inits) != 1:
        raise ValueError("a run has one data set and one init; use run_settings(cfg)")
    (dataset,), (method,) = cfg.datasets, cfg.inits
    recipe = cfg.recipe()
    train, val, sample = target_data(cfg, dataset, cfg.seed)
    model = initialized_model(cfg, train, sample, runtime).to(runtime.torch_device)
    loss0, acc0 = evaluate(model, val, runtime, recipe.precision)
    try:  # one dropout stream per seed, shared by the inits like the split and batch order
        history = fit(model, train, val, recipe=recipe, runtime=runtime,
                      seed=derive_seed(cfg.seed, "batches"), name=f"{dataset} {method}")
        curves, diverged = history.frame, ""
    except TrainingDiverged as error:
        curves, diverged = _nan_curves(cfg.epochs), str(error)
    start = pd.DataFrame([dict(epoch=0, split="val", metric="loss", value=loss0),
                          dict(epoch=0, split="val", metric="accuracy", value=acc0)])
    curves = pd.concat([start, curves], ignore_index=True).assign(dataset=dataset, init=method)
    status = pd.DataFrame([dict(dataset=dataset, init=method, train_images=len(train),
                                val_images=len(val), diverged=diverged)])
    return dict(curves=curves, status=status)


def _nan_curves(epochs: int) -> pd.DataFrame:
    """A diverged run's curves: every epoch present, NaN, so the tables keep the run's rows."""
    return pd.DataFrame([dict(epoch=e, split=s, metric=m, value=float("nan"))
                         for e in range(1, epochs + 1) for s in ("train", "val")
                         for m in ("loss", "accuracy")])


def run_all(cfg: AgopNfmSettings, runtime: Runtime, *,
            train: bool = True) -> dict[str, pd.DataFrame]:
    """Every source run, then every training run (stored runs are loaded, missing ones trained
    unless `train` is False), gathered into tidy frames with each run's settings as columns:
    `ansatz`, `curves`, `status`, and `source_curves` when the source was trained here."""
    source_batch, run_batch = batches(cfg)
    sources, source_results = source_batch.settings, source_batch.run(runtime, train)
    runs, results = run_batch.settings, run_batch.run(runtime, train)
    frames = dict(ansatz=store.gather(sources, source_results, "ansatz"),
                  curves=store.gather(runs, results, "curves"),
                  status=store.gather(runs, results, "status"))
    if "source_curves" in source_results[0]:
        frames["source_curves"] = store.gather(sources, source_results, "source_curves")
    return frames
