"""Study 05: how far do parameters move in training, does it depend on architecture, init and
optimizer, and do perturbed networks return to where they were?

One run is one cell of the grid (arch x data set x init x optimizer) under one seed
(STUDIES.md section 05): a fresh model, initialized, trained with parameter snapshots stored as
one flattened float32 matrix, tested, and its penultimate features on a fixed set of test
images stored. For the cells whose init is in `perturb_inits` the trained model is then
perturbed (sign flip, distortion, or nothing as a control) and retrained. Measures (distances,
change shares, histograms, feature correlations) are computed from the stored material by
`parameter_dynamics_results`, so a new tolerance never needs a new training run.

"Pretrained" is ImageNet weights where they exist and fit (torchvision's ResNet-18 and VGG19
at width 1), else a checkpoint of the same architecture trained here on another data set of
the grid: a store run of its own, reused by every cell that needs it.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import time
from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn

from initlab import data, dynamics, store
from initlab.devices import derive_seed, pick_device
from initlab.initializers import initialize
from initlab.models import build_model, count_parameters
from initlab.models.pretrained import IMAGENET_WEIGHTS, WeightsUnavailableError, load_imagenet
from initlab.profiles import ParameterDynamicsSettings
from initlab.train import evaluate, fit
from initlab.transforms import to_rgb32

STUDY = "05_parameter_dynamics"
SOURCES = f"{STUDY}/sources"  # the pretrained checkpoints, one store run each


@dataclass(frozen=True)
class SourceSettings:
    """A 'pretrained' checkpoint: the architecture trained on another data set of the grid."""

    arch: str = "resnet18"
    dataset: str = "cifar10"
    width: float = 1.0
    resnet_stem: str = "imagenet"
    vgg_image_size: int = 32
    optimizer: str = "sgd"
    lr: float = 0.005
    momentum: float = 0.9
    eps: float = 1e-8
    epochs: int = 20
    batch_size: int = 128
    train_size: int = 0
    seed: int = 0


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


def source_dataset(cfg: ParameterDynamicsSettings, dataset: str) -> str:
    """`pretrain_source` if set, else the data set after `dataset` in the grid (cyclic).

    `cells` writes the answer into each pretrained cell's settings, so a run never needs the
    whole grid to know its source, and the source is part of the run's name.
    """
    if cfg.pretrain_source:
        return cfg.pretrain_source
    grid = list(cfg.datasets)
    return grid[(grid.index(dataset) + 1) % len(grid)]


# ------------------------------------------------------------------------- data and models


@functools.lru_cache(maxsize=6)
def _rgb32(name: str, split: str) -> data.ImageSet:
    return to_rgb32(data.load(name, split))


def load_data(name: str, train_size: int = 0, seed: int = 0, test_size: int = 0):
    """(train, test) as 3 x 32 x 32; `train_size` > 0 draws a seeded subsample of train,
    `test_size` > 0 a fixed one of test (the same images for every run and seed)."""
    train, test = _rgb32(name, "train"), _rgb32(name, "test")
    if 0 < train_size < len(train):
        pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(
            derive_seed(seed, "train-subset", name)))[:train_size]
        train = train.subset(pick)
    return train, _first_of_fixed_order(test, test_size)


def _first_of_fixed_order(images: data.ImageSet, n: int) -> data.ImageSet:
    if not 0 < n < len(images):
        return images
    pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(
        derive_seed(0, "test-images")))[:n]
    return images.subset(pick.sort().values)


def feature_images(test: data.ImageSet, n: int) -> torch.Tensor:
    """The normalized test images whose features every run stores: the same for all runs."""
    return _first_of_fixed_order(test, n).to_float()


def build(arch: str, num_classes: int, width: float, resnet_stem: str, vgg_image_size: int,
          seed: int) -> nn.Module:
    """A fresh model of `arch` for 3 x 32 x 32 inputs, its default draw fixed by `seed`."""
    options = {"lenet5": dict(image_size=32),
               "resnet18": dict(width=width, stem=resnet_stem),
               "vgg19": dict(width=width, image_size=vgg_image_size)}.get(arch, dict(width=width))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(arch, num_classes, 3, **options)


def optimizer_args(cfg, arch: str, optimizer: str) -> dict:
    """The original's settings: SGD lr 0.005 momentum 0.9; Adam lr 0.005 (eps 0.1 for VGG19)."""
    if optimizer == "sgd":
        return dict(optimizer="sgd", lr=cfg.lr_sgd, momentum=cfg.momentum, eps=cfg.adam_eps)
    eps = cfg.vgg_adam_eps if arch.startswith("vgg") else cfg.adam_eps
    return dict(optimizer=optimizer, lr=cfg.lr_adam, momentum=cfg.momentum, eps=eps)


# ------------------------------------------------------------------------------ pretrained


def train_source(spec: SourceSettings, device: str = "auto") -> dict:
    """Train one checkpoint; the result holds its whole state dict (buffers included)."""
    device = pick_device(device)
    train, test = load_data(spec.dataset, spec.train_size, spec.seed)
    model = build(spec.arch, train.num_classes, spec.width, spec.resnet_stem,
                  spec.vgg_image_size, derive_seed(spec.seed, "source-model", spec.arch))
    initialize(model, "kaiming_uniform", seed=derive_seed(spec.seed, "source-init"))
    history = fit(model, train, optimizer=spec.optimizer, lr=spec.lr, momentum=spec.momentum,
                  eps=spec.eps, epochs=spec.epochs, batch_size=spec.batch_size, device=device,
                  seed=derive_seed(spec.seed, "source-batches"),
                  name=f"source {spec.arch} on {spec.dataset}")
    loss, acc = evaluate(model, test, device)
    info = pd.DataFrame([dict(arch=spec.arch, dataset=spec.dataset, test_loss=loss,
                              test_accuracy=acc, train_accuracy=history.last("train"))])
    state = {f"state/{k}": v.detach().cpu() for k, v in model.state_dict().items()}
    return dict(info=info, **state)


def source_spec(cfg: ParameterDynamicsSettings, arch: str, dataset: str) -> SourceSettings:
    """The checkpoint a pretrained cell loads: same architecture, the cell's training settings,
    `pretrain_optimizer` for `pretrain_epochs` on the source data set."""
    return SourceSettings(arch=arch, dataset=source_dataset(cfg, dataset), width=cfg.width,
                          resnet_stem=cfg.resnet_stem, vgg_image_size=cfg.vgg_image_size,
                          **optimizer_args(cfg, arch, cfg.pretrain_optimizer),
                          epochs=cfg.pretrain_epochs, batch_size=cfg.batch_size,
                          train_size=cfg.train_size, seed=cfg.seed)


def source_result(spec: SourceSettings, device: str = "auto", train: bool = True) -> dict:
    """The checkpoint's stored result (trained first if missing and `train`)."""
    return store.run(SOURCES, spec, functools.partial(train_source, device=device), train=train)


def imagenet_fits(cfg: ParameterDynamicsSettings, arch: str) -> bool:
    """torchvision's ImageNet weights load only into the unchanged torchvision layout."""
    layout_ok = {"resnet18": cfg.resnet_stem == "imagenet", "vgg19": cfg.vgg_image_size >= 224}
    return arch in IMAGENET_WEIGHTS and cfg.width == 1.0 and layout_ok.get(arch, False)


def load_pretrained(cfg, model: nn.Module, arch: str, dataset: str, device) -> str:
    """Load ImageNet weights or the checkpoint into `model`; return where they came from."""
    if cfg.pretrained == "imagenet" and imagenet_fits(cfg, arch):
        try:
            load_imagenet(model, arch)
            return "imagenet"
        except WeightsUnavailableError:
            pass  # offline: the checkpoint below; the summary table names what was used
    spec = source_spec(cfg, arch, dataset)
    result = source_result(spec, device)
    state = {k.removeprefix("state/"): v for k, v in result.items() if k.startswith("state/")}
    initialize(model, "pretrained_checkpoint", state=state)
    return f"checkpoint ({spec.dataset})"


# ----------------------------------------------------------------------------------- a run


def cell(cfg: ParameterDynamicsSettings) -> tuple[str, str, str, str]:
    """(arch, dataset, init, optimizer) of a single-cell settings object."""
    fields = (cfg.archs, cfg.datasets, cfg.inits, cfg.optimizers)
    if any(len(f) != 1 for f in fields):
        raise ValueError("run() takes one grid cell; build them with cells(cfg)")
    return tuple(f[0] for f in fields)


@contextlib.contextmanager
def cpu_threads(device: torch.device, threads: int):
    """Run the block with `threads` torch threads on CPU (0: leave as is), then restore."""
    before = torch.get_num_threads()
    if device.type == "cpu" and threads > 0:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run(cfg: ParameterDynamicsSettings, device: str = "auto") -> dict:
    """Train one cell (see `train_cell`) with `cfg.cpu_threads` torch threads on CPU."""
    device = pick_device(device)
    with cpu_threads(device, cfg.cpu_threads):
        return train_cell(cfg, device)


def train_cell(cfg: ParameterDynamicsSettings, device: torch.device) -> dict:
    """Train one cell with snapshots; perturb and retrain it if its init is in perturb_inits."""
    start_time = time.perf_counter()
    arch, dataset, init, optimizer = cell(cfg)
    train, test = load_data(dataset, cfg.train_size, cfg.seed, cfg.test_size)
    model = build(arch, train.num_classes, cfg.width, cfg.resnet_stem, cfg.vgg_image_size,
                  derive_seed(cfg.seed, "model", arch))
    initialize(model, "kaiming_uniform" if init == "pretrained" else init,
               seed=derive_seed(cfg.seed, "init", arch, init))
    origin = load_pretrained(cfg, model, arch, dataset, device) if init == "pretrained" else init
    names = [n for n, _ in model.named_parameters()]
    args = optimizer_args(cfg, arch, optimizer)
    label = f"{arch} {dataset} {init} {optimizer}"
    history = fit(model, train, epochs=cfg.epochs, batch_size=cfg.batch_size, device=device,
                  snapshot_epochs=cfg.snapshot_epochs, seed=derive_seed(cfg.seed, "batches"),
                  name=label, **args)
    epochs, snapshots = dynamics.snapshot_matrix(history.snapshots, names)
    loss, acc = evaluate(model, test, device)
    x = feature_images(test, cfg.feature_samples)
    result = dict(layout=dynamics.layout(model), snapshots=snapshots, snapshot_epochs=epochs,
                  features=dynamics.collect_features(model, x).half(),
                  history=history.frame.assign(arch=arch, dataset=dataset, init=init,
                                               optimizer=optimizer))
    if init in cfg.perturb_inits:
        frame, features = perturb_and_retrain(cfg, model, train, test, x, names, args, device)
        result.update(perturbation=frame.assign(arch=arch, dataset=dataset, init=init,
                                                optimizer=optimizer), **features)
    result["info"] = pd.DataFrame([dict(
        arch=arch, dataset=dataset, init=init, optimizer=optimizer, pretrained_from=origin,
        parameters=count_parameters(model), train_images=len(train), test_loss=loss,
        test_accuracy=acc, train_accuracy=history.last("train"),
        seconds=time.perf_counter() - start_time)])
    return result


def perturb_and_retrain(cfg, model, train, test, x, names, args, device):
    """Each perturbation of the trained `model`, retrained with the same optimizer settings
    (fresh optimizer state, the same batch order for every perturbation).

    Rows: the jump ||P(theta_1) - theta_1||, test accuracy right after it, the distance
    ||theta_2 - theta_1|| between the trained and the retrained model, the path
    ||theta_2 - P(theta_1)||, and test accuracy after retraining. Features of each retrained
    model are returned for the correlation with the trained model's.
    """
    trained = dynamics.flatten(model.state_dict(), names)
    rows, features = [], {}
    for name in cfg.perturbations:
        copy_ = copy.deepcopy(model)
        if name == "sign_flip":
            initialize(copy_, "sign_flip")
        elif name == "distortion":
            initialize(copy_, "distortion", epsilon=cfg.distortion)
        start = dynamics.flatten(copy_.state_dict(), names)
        _, perturbed_acc = evaluate(copy_, test, device)
        fit(copy_, train, epochs=cfg.retrain_epochs, batch_size=cfg.batch_size, device=device,
            seed=derive_seed(cfg.seed, "retrain-batches"), name=f"retrain after {name}", **args)
        end = dynamics.flatten(copy_.state_dict(), names)
        _, acc = evaluate(copy_, test, device)
        norm = torch.linalg.vector_norm
        rows.append(dict(perturbation=name, jump=float(norm(start - trained)),
                         accuracy_perturbed=perturbed_acc, distance=float(norm(end - trained)),
                         path=float(norm(end - start)), norm_trained=float(norm(trained)),
                         norm_retrained=float(norm(end)), test_accuracy_retrained=acc))
        features[f"features_{name}"] = dynamics.collect_features(copy_, x).half()
    return pd.DataFrame(rows), features


# The original report (norms read from its figures; STUDIES.md section 05).
REPORTED_CHANGE_RATE = [  # (arch, data set, init, optimizer, change rate %)
    ("resnet18", "cifar10", "pretrained", "sgd", 19.28),
    ("resnet18", "fashion_mnist", "kaiming_uniform", "adam", 89.08),
    ("lenet5", "cifar10", "kaiming_uniform", "adam", 44.76),
    ("vgg19", "cifar10", "kaiming_normal", "sgd", 12.35),
]
REPORTED_RESNET_UNCHANGED = 60.0  # % of ResNet parameters "nearly unchanged" (no tolerance given)
REPORTED_SIGN_FLIP_DISTANCE = {"resnet18": 240.67, "vgg19": 347.66, "lenet5": 49.6}
