"""Study 01: do CNNs trained on differently corrupted data learn similar filters, and does a
network warm-started from the most similar ones beat random initialization?

One run is one iteration of the protocol (STUDIES.md section 01) under one seed: six tiny CNNs
on six disjoint noisy subsets, their filters compared pairwise (raw and permutation-aligned),
then one network per warm-start method trained on the clean training set and tested. Every
method starts from the same draw for the layers it does not set and sees the same batches,
so methods are compared pairwise within an iteration.
"""

from __future__ import annotations

import functools

import pandas as pd
import torch

from initlab import data, noise
from initlab.batched import fit_many
from initlab.devices import derive_seed, pick_device
from initlab.initializers import initialize, stacked_kernels
from initlab.models import build_model
from initlab.profiles import WarmStartSettings
from initlab.similarity import pairwise
from initlab.train import evaluate

MODEL = "tiny_cnn"


def methods(cfg: WarmStartSettings) -> tuple[str, ...]:
    """Random init, shrink-and-perturb, then one warm start per metric, raw and aligned."""
    return ("random", "shrink_perturb", *cfg.metrics, *(f"{m}_aligned" for m in cfg.metrics))


def load_data(cfg: WarmStartSettings) -> tuple[data.ImageSet, data.ImageSet]:
    """Train and test sets scaled to [-1, 1] (normalize 0.5/0.5), so -1 is the background."""
    sets = [data.load(cfg.dataset, split) for split in ("train", "test")]
    return tuple(s.with_normalization((0.5,) * s.in_channels, (0.5,) * s.in_channels) for s in sets)


def new_model(reference: data.ImageSet, seed: int) -> torch.nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(MODEL, reference.num_classes, reference.in_channels,
                           image_size=reference.image_size[0])


def train_noisy_models(cfg, train, test, device) -> tuple[list[torch.nn.Module], pd.DataFrame]:
    """One model per noise, each on its own disjoint subset (trained at once); test accuracy."""
    subsets = train.chunks(len(cfg.noises), cfg.subset_size, seed=derive_seed(cfg.seed, "subsets"))
    models = [new_model(train, derive_seed(cfg.seed, "noisy-model", i))
              for i in range(len(subsets))]
    fit_many(models, subsets, optimizer="adam", lr=cfg.lr, epochs=cfg.epochs,
             batch_size=cfg.batch_size, device=device, name="noisy models",
             augments=[functools.partial(noise.apply, name) for name in cfg.noises],
             seeds=[derive_seed(cfg.seed, "noisy-batches", i) for i in range(len(subsets))])
    rows = []
    for i, (name, model) in enumerate(zip(cfg.noises, models)):
        loss, acc = evaluate(model, test, device)
        rows.append(dict(subset=i, noise=name, test_loss=loss, test_accuracy=acc))
    return [m.cpu() for m in models], pd.DataFrame(rows)


def similarity_table(filters: dict[bool, torch.Tensor], metrics) -> pd.DataFrame:
    """One row per (aligned, metric, model pair, filter index)."""
    rows = []
    for aligned, filter_sets in filters.items():
        for metric in metrics:
            pairs, scores = pairwise(filter_sets, metric)
            for (a, b), values in zip(pairs, scores.tolist()):
                rows += [dict(aligned=aligned, metric=metric, model_a=a, model_b=b, filter=f,
                              value=v) for f, v in enumerate(values)]
    return pd.DataFrame(rows)


def warm_start(cfg, method: str, sources, template: data.ImageSet) -> torch.nn.Module:
    """A fresh model (the same draw for every method) initialized by `method`."""
    model = new_model(template, derive_seed(cfg.seed, "warm-model"))
    if method == "random":
        return model
    if method == "shrink_perturb":
        pick = derive_seed(cfg.seed, "shrink-perturb-source") % len(sources)
        return initialize(model, "shrink_perturb", source=sources[pick], shrink=cfg.shrink,
                          perturb=cfg.perturb)
    metric, _, aligned = method.partition("_")
    return initialize(model, "similar_filters", sources=sources, metric=metric,
                      aligned=bool(aligned), seed=derive_seed(cfg.seed, "coin", method))


def run(cfg: WarmStartSettings, device: str = "auto") -> dict:
    """One iteration: noisy models, filter similarity, each warm-start method trained, tested."""
    device = pick_device(device)
    train, test = load_data(cfg)
    models, noisy = train_noisy_models(cfg, train, test, device)
    filters = {False: stacked_kernels(models), True: stacked_kernels(models, aligned=True)}
    clean = train if not cfg.train_size else train.subset(slice(0, cfg.train_size))
    names = methods(cfg)
    starts = [warm_start(cfg, method, models, train) for method in names]
    seed = derive_seed(cfg.seed, "clean-batches")  # every method sees the same batches
    trained = fit_many(starts, [clean] * len(starts), optimizer="adam", lr=cfg.lr,
                       epochs=cfg.epochs, batch_size=cfg.batch_size, device=device,
                       seeds=[seed] * len(starts), name="warm starts")
    histories = []
    for method, model, history in zip(names, starts, trained):
        frame = history.frame
        loss, acc = evaluate(model, test, device)
        frame.loc[len(frame)] = [cfg.epochs, "test", "loss", loss]
        frame.loc[len(frame)] = [cfg.epochs, "test", "accuracy", acc]
        histories.append(frame.assign(method=method))
    return dict(accuracy=pd.concat(histories, ignore_index=True), noisy_models=noisy,
                similarity=similarity_table(filters, cfg.metrics),
                filters=filters[False], aligned_filters=filters[True])


def iteration_settings(cfg: WarmStartSettings) -> list[WarmStartSettings]:
    """The settings of each iteration: the same protocol under seeds seed, seed + 1, ..."""
    import dataclasses

    return [dataclasses.replace(cfg, seed=cfg.seed + i) for i in range(cfg.iterations)]


def noise_examples(cfg: WarmStartSettings, images: data.ImageSet, n: int = 6):
    """(1 + noises, n, H, W): the first `n` images clean, then under each noise (seeded)."""
    x = images.subset(slice(0, n)).to_float()
    rows = [x] + [noise.apply(name, x, torch.Generator().manual_seed(derive_seed(cfg.seed, name)))
                  for name in cfg.noises]
    return torch.stack([r[:, 0] for r in rows]).numpy()


# The original report (Table 2, 10 iterations, MNIST test accuracy in %): mean, std, max.
REPORTED_ACCURACY = {
    "cosine": (91.143, 5.329, 94.98),
    "frobenius": (92.843, 3.113, 95.44),
    "pearson": (94.09, 7.624, 94.83),
    "random": (94.62, 1.865, 95.9),
}
# The original Table 1: range over the 10 filters of the mean similarity per metric.
REPORTED_SIMILARITY_RANGE = {"cosine": (0.315, 0.392), "pearson": (0.290, 0.378),
                             "frobenius": (1.16, 1.76)}
