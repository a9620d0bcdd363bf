"""Study 05: how far do parameters move in training, does it depend on architecture, init and
optimizer, and do perturbed networks return to where they were? (docs/05_parameter_dynamics.md)

One run is one cell of the grid (arch x data set x init x optimizer) under one seed: a fresh
model, initialized, trained with parameter snapshots stored as one flattened float32 matrix,
tested, and its penultimate features on a fixed set of test images stored. For the cells whose
init is in `perturb_inits` the trained model is then perturbed (sign flip, distortion, or
nothing as a control) and retrained. Measures (distances, change shares, histograms, feature
correlations) are computed from the stored material by `results`, so a new tolerance never
needs a new training run. Data, models and pretrained weights come from `sources`.
"""

from __future__ import annotations

import copy
import dataclasses

import pandas as pd
import torch
from torch import nn

from initlab import data, store
from initlab.inits import initialize
from initlab.metrics import dynamics
from initlab.models import count_parameters
from initlab.seeds import derive_seed
from initlab.studies.parameter_dynamics.settings import ParameterDynamicsSettings
from initlab.studies.parameter_dynamics.sources import (
    STUDY,
    build,
    feature_images,
    load_data,
    load_pretrained,
    source_dataset,
)
from initlab.training.fit import fit
from initlab.training.loop import evaluate
from initlab.training.recipe import Recipe
from initlab.training.runtime import Runtime

# ------------------------------------------------------------------------------ the grid


def cells(cfg: ParameterDynamicsSettings) -> list[ParameterDynamicsSettings]:
    """One settings object per grid cell and replicate (single-entry tuples name the cell)."""
    check(cfg)
    out = []
    for r in range(cfg.seeds):
        for a in cfg.archs:
            for d in cfg.datasets:
                for i in cfg.inits:
                    source = source_dataset(cfg, d) if i == "pretrained" else cfg.pretrain_source
                    out += [dataclasses.replace(cfg, archs=(a,), datasets=(d,), inits=(i,),
                                                optimizers=(o,), seed=cfg.seed + r,
                                                pretrain_source=source)
                            for o in cfg.optimizers]
    return out


def check(cfg: ParameterDynamicsSettings) -> None:
    """Fail before training on combinations that cannot work (single values are checked by
    the settings class itself)."""
    snaps = cfg.snapshot_epochs
    if 0 not in snaps or cfg.epochs not in snaps or any(e > cfg.epochs for e in snaps):
        raise ValueError(f"snapshot_epochs {snaps} must include 0 and epochs={cfg.epochs} and "
                         "stay within them")
    if "pretrained" in cfg.inits and not cfg.pretrain_source and len(cfg.datasets) < 2:
        raise ValueError("the pretrained init needs another data set: add one to `datasets` "
                         "or name it with `pretrain_source`")


def cell(cfg: ParameterDynamicsSettings) -> tuple[str, str, str, str]:
    """(arch, dataset, init, optimizer) of a single-cell settings object."""
    fields = (cfg.archs, cfg.datasets, cfg.inits, cfg.optimizers)
    if any(len(f) != 1 for f in fields):
        raise ValueError("run() takes one grid cell; build them with cells(cfg)")
    return tuple(f[0] for f in fields)


def run_all(cfg: ParameterDynamicsSettings, runtime: Runtime | None = None,
            train: bool = True) -> tuple[list[ParameterDynamicsSettings], list[dict]]:
    """Every cell of the grid and its result, in the same order: stored ones are loaded,
    missing ones trained (or, with `train=False`, a `store.MissingRunError`)."""
    (grid,) = batches(cfg)
    return list(grid.settings), grid.run(runtime, train)


def batches(cfg: ParameterDynamicsSettings) -> list[store.Batch]:
    """Every run the study needs: one per grid cell and seed (a pretrained cell trains the
    checkpoint it loads, a store run of its own, inside its run)."""
    return [store.Batch(STUDY, run, tuple(cells(cfg)))]


# ----------------------------------------------------------------------------------- a run


def run(cfg: ParameterDynamicsSettings, runtime: Runtime | None = None) -> dict:
    """Train one cell with snapshots; perturb and retrain it if its init is in perturb_inits.

    CPU threads are the runtime's (`fit` picks one for these small models)."""
    runtime = runtime or Runtime()
    arch, dataset, init, optimizer = cell(cfg)
    train, test = load_data(dataset, cfg.train_size, cfg.seed, cfg.test_size)
    model = build(arch, train.num_classes, cfg.width, cfg.resnet_stem, cfg.vgg_image_size,
                  derive_seed(cfg.seed, "model", arch))
    initialize(model, "kaiming_uniform" if init == "pretrained" else init,
               seed=derive_seed(cfg.seed, "init", arch, init))
    origin = (load_pretrained(cfg, model, arch, dataset, runtime) if init == "pretrained"
              else init)
    names = [n for n, _ in model.named_parameters()]
    recipe = cfg.recipe(arch, optimizer)
    history = fit(model, train, recipe=recipe, runtime=runtime,
                  snapshot_epochs=cfg.snapshot_epochs, seed=derive_seed(cfg.seed, "batches"),
                  name=f"{arch} {dataset} {init} {optimizer}")
    epochs, snapshots = dynamics.snapshot_matrix(history.snapshots, names)
    loss, acc = evaluate(model, test, runtime, recipe.precision)
    x = feature_images(test, cfg.feature_samples)
    labels = dict(arch=arch, dataset=dataset, init=init, optimizer=optimizer)
    result = dict(layout=dynamics.layout(model), snapshots=snapshots, snapshot_epochs=epochs,
                  features=dynamics.collect_features(model, x).half(),
                  history=history.frame.assign(**labels))
    if init in cfg.perturb_inits:
        frame, features = perturb_and_retrain(cfg, model, train, test, x, names,
                                              cfg.recipe(arch, optimizer, cfg.retrain_epochs),
                                              runtime)
        result.update(perturbation=frame.assign(**labels), **features)
    result["info"] = pd.DataFrame([dict(
        **labels, pretrained_from=origin, parameters=count_parameters(model),
        train_images=len(train), test_loss=loss, test_accuracy=acc,
        train_accuracy=history.last("train"))])
    return result


def perturb_and_retrain(cfg: ParameterDynamicsSettings, model: nn.Module, train: data.ImageSet,
                        test: data.ImageSet, x: torch.Tensor, names: list[str], recipe: Recipe,
                        runtime: Runtime) -> tuple[pd.DataFrame, dict[str, torch.Tensor]]:
    """Each perturbation of the trained `model`, retrained with `recipe` (the cell's optimizer
    settings for `retrain_epochs`; fresh optimizer state, the same batch order for every
    perturbation, so the unperturbed control isolates what the perturbation did).

    Rows: the jump ||P(theta_1) - theta_1||, test accuracy right after it, the distance
    ||theta_2 - theta_1|| between the trained and the retrained model, the path
    ||theta_2 - P(theta_1)||, and test accuracy after retraining. Features of each retrained
    model are returned for the correlation with the trained model's.
    """
    trained = dynamics.flatten(model.state_dict(), names)
    norm = torch.linalg.vector_norm
    rows, features = [], {}
    for name in cfg.perturbations:
        copy_ = copy.deepcopy(model)
        if name == "sign_flip":
            initialize(copy_, "sign_flip")
        elif name == "distortion":
            initialize(copy_, "distortion", epsilon=cfg.distortion)
        start = dynamics.flatten(copy_.state_dict(), names)
        _, perturbed_acc = evaluate(copy_, test, runtime, recipe.precision)
        fit(copy_, train, recipe=recipe, runtime=runtime,
            seed=derive_seed(cfg.seed, "retrain-batches"), name=f"retrain after {name}")
        end = dynamics.flatten(copy_.state_dict(), names)
        _, acc = evaluate(copy_, test, runtime, recipe.precision)
        rows.append(dict(perturbation=name, jump=float(norm(start - trained)),
                         accuracy_perturbed=perturbed_acc, distance=float(norm(end - trained)),
                         path=float(norm(end - start)), norm_trained=float(norm(trained)),
                         norm_retrained=float(norm(end)), test_accuracy_retrained=acc))
        features[f"features_{name}"] = dynamics.collect_features(copy_, x).half()
    return pd.DataFrame(rows), features
