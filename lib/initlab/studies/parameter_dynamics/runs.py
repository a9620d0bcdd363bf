"""Study 05: how far do parameters move in training, does it depend on architecture, init and
optimizer, and do perturbed networks return to where they were? (docs/05_parameter_dynamics.md)

One run is one cell of the grid (arch x data set x init x optimizer) under one seed: a fresh
model, initialized, trained with parameter snapshots stored as one flattened float32 matrix,
tested, and its penultimate features on a fixed set of test images stored. Every trained model
(or those of `perturb_inits`) is then perturbed (sign flip, distortion, or nothing as a
control) and retrained in float32. Measures (distances, change shares, histograms, feature
correlations) are computed from the stored material by `results`, so a new tolerance never
needs a new training run. Data, models and pretrained weights come from `sources`.
"""

from __future__ import annotations

import copy

import pandas as pd
import torch
from torch import nn

from initlab import data, store
from initlab.inits import initialize
from initlab.metrics import dynamics
from initlab.models import count_parameters
from initlab.seeds import derive_seed
from initlab.studies.parameter_dynamics.design import (  # noqa: F401 (tests read them here)
    STUDY,
    batches,
    cell,
    cells,
)
from initlab.studies.parameter_dynamics.settings import ParameterDynamicsSettings
from initlab.studies.parameter_dynamics.sources import (
    build,
    conv_biases_kept,
    feature_images,
    keeps_conv_bias,
    load_data,
    load_pretrained,
)
from initlab.training.fit import fit
from initlab.training.loop import evaluate
from initlab.training.recipe import Recipe
from initlab.training.runtime import Runtime

# ------------------------------------------------------------------------------ the grid


def compute(cfg: ParameterDynamicsSettings, runtime: Runtime | None = None,
            train: bool = True) -> list[ParameterDynamicsSettings]:
    """Every cell of the grid, after training the missing ones (with `train=False`, a
    `store.MissingRunError` names the first missing run instead). Nothing is kept loaded.

    `store.run_many` loads every run it was given once they are done, and a run holds its
    snapshots: 2.8 GB for torchvision's VGG19, so the paper grid's runs could not all be in
    memory at once. The missing runs go to `run_many` in chunks of at most `LOAD_BUDGET`
    bytes of results (the whole grid in one chunk for the small models); `results.collect`
    then reads them back a few at a time.
    """
    grid = cells(cfg)
    missing = [s for s in grid if not store.is_done(STUDY, s)]
    if missing and not train:
        store.run(STUDY, missing[0], run, train=False)  # raises, saying what to run
    for chunk in chunks(missing, LOAD_BUDGET):
        store.run_many(STUDY, chunk, run, runtime=runtime)
    return grid


LOAD_BUDGET = 16 * 2**30  # bytes of stored results that `compute` lets be loaded at once


def chunks(grid: list[ParameterDynamicsSettings],
           budget: int) -> list[list[ParameterDynamicsSettings]]:
    """`grid` in order, cut into lists whose estimated results fit in `budget` bytes."""
    out: list[list[ParameterDynamicsSettings]] = []
    size = budget
    for settings in grid:
        need = result_bytes(settings)
        if size + need > budget:
            out.append([])
            size = 0
        out[-1].append(settings)
        size += need
    return out


def result_bytes(cfg: ParameterDynamicsSettings) -> int:
    """About how large one cell's stored result is: float32 snapshots and float16 features
    (the trained model's and one per perturbation). The model is built on the meta device."""
    arch, _, init, _ = cell(cfg)
    with torch.device("meta"):
        model = build(arch, 10, cfg.width, cfg.resnet_stem, cfg.vgg_head, 0)
    head = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    copies = 1 + (len(cfg.perturbations) if cfg.perturbs(init) else 0)
    return (4 * count_parameters(model) * len(cfg.snapshot_epochs)
            + 2 * cfg.feature_samples * head.in_features * copies)


# ----------------------------------------------------------------------------------- a run


def run(cfg: ParameterDynamicsSettings, runtime: Runtime | None = None) -> dict:
    """Train one cell with snapshots; perturb and retrain it (`cfg.perturbs(init)`).

    CPU threads are the runtime's (`fit` picks one for these small models)."""
    runtime = runtime or Runtime()
    arch, dataset, init, optimizer = cell(cfg)
    train, test = load_data(dataset, cfg.train_size, cfg.seed, cfg.test_size, cfg.normalize)
    model = build(arch, train.num_classes, cfg.width, cfg.resnet_stem, cfg.vgg_head,
                  derive_seed(cfg.seed, "model", arch))
    seed = derive_seed(cfg.seed, "init", arch, init)
    with conv_biases_kept(model, keeps_conv_bias(cfg.conv_bias, arch, init)):
        if cfg.init_spec is not None:  # a user's init: sees a seeded batch of training images
            cfg.init_spec.apply(model, seed, images=train,
                                batch_seed=derive_seed(cfg.seed, "init-batch", arch))
        else:
            initialize(model, "kaiming_uniform" if init == "pretrained" else init, seed=seed)
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
    if cfg.perturbs(init):
        frame, features = perturb_and_retrain(cfg, model, train, test, x, names,
                                              cfg.retrain_recipe(arch, optimizer), runtime)
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
    settings for `retrain_epochs`, float32: `settings.retrain_recipe`; fresh optimizer state,
    the same batch order for every perturbation, so the unperturbed control isolates what the
    perturbation did). Accuracy right after the perturbation is measured in float32 too.

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
