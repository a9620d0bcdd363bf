"""Study 01: do CNNs trained on differently corrupted data learn similar filters, and does a
network warm-started from the most similar ones beat random initialization?

One run is one iteration of the protocol (docs/01_warm_start.md) under one seed: six tiny CNNs
on six disjoint noisy subsets, their filters compared pairwise (raw and permutation-aligned),
then one network per warm-start method trained on the clean training set and tested. Every
method starts from the same draw for the layers it does not set and sees the same batches,
so methods are compared pairwise within an iteration.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import torch

from initlab import data
from initlab.data import noise
from initlab.inits import initialize
from initlab.metrics.matching import stacked_kernels
from initlab.metrics.similarity import pairwise
from initlab.models import build_model
from initlab.seeds import derive_seed
from initlab.studies.warm_start import selection
from initlab.studies.warm_start.design import (  # noqa: F401 (the notebook reads them here)
    MODEL,
    STUDY,
    batches,
    iteration_settings,
    methods,
)
from initlab.studies.warm_start.settings import WarmStartSettings
from initlab.training.fit_many import fit_many
from initlab.training.loop import evaluate
from initlab.training.runtime import Runtime


def load_data(cfg: WarmStartSettings) -> tuple[data.ImageSet, data.ImageSet]:
    """Train and test sets scaled to [-1, 1] (normalize 0.5/0.5), so -1 is the background."""
    sets = [data.load(cfg.dataset, split) for split in ("train", "test")]
    train, test = (s.with_normalization((0.5,) * s.in_channels, (0.5,) * s.in_channels)
                   for s in sets)
    return train, test


def new_model(reference: data.ImageSet, seed: int) -> torch.nn.Module:
    """A `tiny_cnn` for `reference`'s images, its default init drawn from `seed` alone."""
    return build_model(MODEL, reference.num_classes, reference.in_channels, seed=seed,
                       image_size=reference.image_size[0])


def source_names(cfg: WarmStartSettings) -> list[str]:
    """What each source model trained on, in model order: its noise (or "clean" where
    `corrupt` is off), and for `sources="full_first"` first the whole clean training set."""
    names = [name if cfg.corrupt else f"clean ({name} subset)" for name in cfg.noises]
    return ["whole clean set", *names[:-1]] if cfg.sources == "full_first" else names


def train_noisy_models(
    cfg: WarmStartSettings, train: data.ImageSet, test: data.ImageSet, runtime: Runtime,
) -> tuple[list[torch.nn.Module], pd.DataFrame]:
    """The source models (trained at once where they share a size), their test accuracy.

    One model per noise on its own disjoint subset, corrupted unless `corrupt` is off; with
    `sources="full_first"`, as the original's `train_models`, model 0 trains on the whole
    clean training set instead and the last noise's subset is not used."""
    recipe = cfg.recipe(cfg.source_epochs)
    first = cfg.sources == "full_first"
    noises = cfg.noises[:-1] if first else cfg.noises
    subsets = train.chunks(len(noises), cfg.subset_size, seed=derive_seed(cfg.seed, "subsets"))
    models = [new_model(train, derive_seed(cfg.seed, "noisy-model", i))
              for i in range(len(cfg.noises))]
    augments = [functools.partial(noise.apply, name, corruption=cfg.corruption)
                if cfg.corrupt else None for name in noises]
    seeds = [derive_seed(cfg.seed, "noisy-batches", i) for i in range(len(cfg.noises))]
    if first:
        fit_many(models[:1], [clean_set(cfg, train)], recipe=recipe, runtime=runtime,
                 seeds=seeds[:1], name="source model on the whole clean set")
    fit_many(models[first:], subsets, recipe=recipe, runtime=runtime, name="noisy models",
             augments=augments, seeds=seeds[first:])
    rows = []
    for i, (name, model) in enumerate(zip(source_names(cfg), models)):
        loss, acc = evaluate(model, test, runtime, recipe.precision)
        rows.append(dict(subset=i, noise=name, test_loss=loss, test_accuracy=acc))
    return [m.cpu() for m in models], pd.DataFrame(rows)


def clean_set(cfg: WarmStartSettings, train: data.ImageSet) -> data.ImageSet:
    """The clean training set of the warm starts: all of it, or its first `train_size`."""
    return train if not cfg.train_size else train.subset(slice(0, cfg.train_size))


def similarity_table(filters: dict[bool, torch.Tensor], metrics: tuple[str, ...]) -> pd.DataFrame:
    """One row per (aligned, metric, model pair, filter index)."""
    rows = []
    for aligned, filter_sets in filters.items():
        for metric in metrics:
            pairs, scores = pairwise(filter_sets, metric)
            for (a, b), values in zip(pairs, scores.tolist()):
                rows += [dict(aligned=aligned, metric=metric, model_a=a, model_b=b, filter=f,
                              value=v) for f, v in enumerate(values)]
    return pd.DataFrame(rows)


def warm_start(cfg: WarmStartSettings, method: str, sources: list[torch.nn.Module],
               template: data.ImageSet) -> tuple[torch.nn.Module, pd.DataFrame | None]:
    """A fresh model (the same draw for every method) initialized by `method`, and for a
    similarity method which source each kernel came from (`selection.choose`)."""
    model = new_model(template, derive_seed(cfg.seed, "warm-model"))
    if method == "random":
        return model, None
    if method == "shrink_perturb":
        pick = derive_seed(cfg.seed, "shrink-perturb-source") % len(sources)
        return initialize(model, "shrink_perturb", source=sources[pick], shrink=cfg.shrink,
                          perturb=cfg.perturb), None
    metric, _, aligned = method.partition("_")
    choice = selection.copy_kernels(model, sources, metric, aligned=bool(aligned),
                                    seed=derive_seed(cfg.seed, "coin", method),
                                    frobenius_pair=cfg.frobenius_pair, copy_from=cfg.copy_from)
    return model, choice.assign(method=method)


def train_warm_starts(
    cfg: WarmStartSettings, sources: list[torch.nn.Module], train: data.ImageSet,
    test: data.ImageSet, runtime: Runtime,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every method's network trained on the clean set (its history plus a final test row),
    and which source model each warm-started kernel came from.

    Every method sees the same batches; random init trains apart only where `random_epochs`
    gives it another length (the original trained it for 2 epochs, the warm starts for 1)."""
    clean = clean_set(cfg, train)
    names = methods(cfg)
    starts, choices = zip(*(warm_start(cfg, method, sources, train) for method in names))
    seed = derive_seed(cfg.seed, "clean-batches")  # every method sees the same batches
    groups = [(cfg.recipe(), list(range(len(names))))]
    if cfg.baseline_epochs != cfg.epochs:
        random = names.index("random")
        groups = [(cfg.recipe(), [i for i in range(len(names)) if i != random]),
                  (cfg.recipe(cfg.baseline_epochs), [random])]
    histories: list[pd.DataFrame | None] = [None] * len(names)
    for recipe, members in groups:
        trained = fit_many([starts[i] for i in members], [clean] * len(members), recipe=recipe,
                           runtime=runtime, seeds=[seed] * len(members), name="warm starts")
        for i, history in zip(members, trained):
            frame = history.frame
            loss, acc = evaluate(starts[i], test, runtime, recipe.precision)
            frame.loc[len(frame)] = [recipe.epochs, "test", "loss", loss]
            frame.loc[len(frame)] = [recipe.epochs, "test", "accuracy", acc]
            histories[i] = frame.assign(method=names[i])
    return (pd.concat(histories, ignore_index=True),
            pd.concat([c for c in choices if c is not None], ignore_index=True))


def run(cfg: WarmStartSettings, runtime: Runtime) -> dict:
    """One iteration: noisy models, filter similarity, each warm-start method trained, tested.

    Module-level (not a closure) so that `store.run_many` can hand it to a process pool."""
    train, test = load_data(cfg)
    models, noisy = train_noisy_models(cfg, train, test, runtime)
    filters = {False: stacked_kernels(models), True: stacked_kernels(models, aligned=True)}
    accuracy, chosen = train_warm_starts(cfg, models, train, test, runtime)
    return dict(accuracy=accuracy, noisy_models=noisy, selection=chosen,
                similarity=similarity_table(filters, cfg.metrics),
                filters=filters[False], aligned_filters=filters[True])


def run_all(cfg: WarmStartSettings, runtime: Runtime, *, train: bool = True) -> list[dict]:
    """Every iteration's result, in `iteration_settings` order: stored runs are loaded, the
    missing ones computed (or, with train=False, a MissingRunError names the first)."""
    (iterations,) = batches(cfg)
    return iterations.run(runtime, train)


def noise_examples(cfg: WarmStartSettings, images: data.ImageSet, n: int = 6) -> np.ndarray:
    """(1 + noises, n, H, W): the first `n` images clean, then under each noise (seeded)."""
    x = images.subset(slice(0, n)).to_float()
    rows = [x] + [noise.apply(name, x, torch.Generator().manual_seed(derive_seed(cfg.seed, name)),
                              cfg.corruption) for name in cfg.noises]
    return torch.stack([r[:, 0] for r in rows]).numpy()
