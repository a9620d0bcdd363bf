"""Which runs study 05 needs: one per grid cell (arch x data set x init x optimizer) and
replicate, and the "pretrained" checkpoints they load (`SourceSettings`, a store run each,
trained inside the first cell that needs one). Torch-free, so `initlab plan` lists the runs
and their trainings without the training code (`runs`, `sources`), which the batch names
(`store.LazyFn`) and imports only to compute a run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from initlab import store
from initlab.inits import InitOptions, InitSpec
from initlab.studies.parameter_dynamics.settings import ParameterDynamicsSettings
from initlab.training.recipe import Recipe

STUDY = "05_parameter_dynamics"
SOURCES = f"{STUDY}/sources"  # the pretrained checkpoints, one store run each
IMAGENET_FILES = {"resnet18": "resnet18-f37072fd.pth", "vgg19": "vgg19-dcbb9e9d.pth"}
"""torchvision's IMAGENET1K_V1 files of the grid's architectures that have ImageNet weights
(`models.pretrained.IMAGENET_WEIGHTS`; tests check the names against torchvision's)."""


# ------------------------------------------------------------------------------ the grid


def cells(cfg: ParameterDynamicsSettings) -> list[ParameterDynamicsSettings]:
    """One settings object per grid cell and replicate (single-entry tuples name the cell).

    A cell's `perturbations` are those it runs (none where `perturb_inits` leaves its init
    out), so its `perturb_inits` is () and it need not name inits outside the cell. Settings
    that do nothing for the cell's architecture take their defaults (`unused`), so they do
    not name its run: `as_run` or another VGG head retrains the VGG19 cells only."""
    out = []
    for r in range(cfg.seeds):
        for a in cfg.archs:
            for d in cfg.datasets:
                for i in cfg.inits:
                    source = source_dataset(cfg, d) if i == "pretrained" else cfg.pretrain_source
                    out += [dataclasses.replace(cfg, archs=(a,), datasets=(d,), inits=(i,),
                                                optimizers=(o,), seed=cfg.seed + r,
                                                pretrain_source=source,
                                                init_options=InitOptions(),
                                                init_spec=init_spec(cfg, i), perturb_inits=(),
                                                perturbations=cfg.perturbations
                                                if cfg.perturbs(i) else (), **unused(a))
                            for o in cfg.optimizers]
    return out


def unused(arch: str) -> dict:
    """Defaults of the settings `arch` ignores: LeNet-5 has no width and is the only model
    whose conv biases an init could keep (`sources.keeps_conv_bias`); only ResNet-18 has a
    stem and only VGG19 a head to choose."""
    default = {f.name: f.default for f in dataclasses.fields(ParameterDynamicsSettings)}
    names = {"lenet5": ("vgg_head", "resnet_stem"),
             "resnet18": ("vgg_head", "conv_bias"),
             "vgg19": ("resnet_stem", "conv_bias")}.get(arch, ())
    return {n: default[n] for n in (*names, *(("width",) if arch == "lenet5" else ()))}


def init_spec(cfg: ParameterDynamicsSettings, init: str) -> InitSpec | None:
    """What names a cell's init beyond its name: a user's function (source hash), options
    given to it, or a data-dependent init (LSUV: it is applied with a batch); None for the
    other built-ins without options (their runs keep their names)."""
    return None if init == "pretrained" else InitSpec.for_run(init, cfg.init_options.get(init))


def cell(cfg: ParameterDynamicsSettings) -> tuple[str, str, str, str]:
    """(arch, dataset, init, optimizer) of a single-cell settings object."""
    fields = (cfg.archs, cfg.datasets, cfg.inits, cfg.optimizers)
    if any(len(f) != 1 for f in fields):
        raise ValueError("run() takes one grid cell; build them with cells(cfg)")
    return tuple(f[0] for f in fields)


def batches(cfg: ParameterDynamicsSettings) -> list[store.Batch]:
    """Every run the study needs: one per grid cell and seed (a pretrained cell trains the
    checkpoint it loads, a store run of its own, inside its run)."""
    return [store.Batch(STUDY, store.LazyFn(f"{__package__}.runs:run"), tuple(cells(cfg)))]


# ------------------------------------------------------------------------------ models


def model_options(arch: str, width: float, resnet_stem: str, vgg_head: str) -> dict:
    """`build_model` options of `arch` in this study (LeNet-5 has no width: always 62,006).
    vgg_head="torchvision_1000" is torchvision's head with its 1000 outputs (`model_classes`)."""
    head = "torchvision" if vgg_head == "torchvision_1000" else vgg_head
    return {"lenet5": dict(image_size=32),
            "resnet18": dict(width=width, stem=resnet_stem),
            "vgg19": dict(width=width, image_size=32, head=head)}.get(arch, dict(width=width))


def model_classes(arch: str, vgg_head: str, classes: int) -> int:
    """Outputs of the model's last layer: the data set's classes, or ImageNet's 1000 for the
    original's VGG19. It built torchvision's `vgg19()` and set `model.fc = Linear(512, 10)`,
    an attribute VGG's forward never calls, so it trained the 1000-way classifier on 10
    labels (143,667,240 parameters; the unused `fc` adds 5,130 that never get a gradient)."""
    return 1000 if arch == "vgg19" and vgg_head == "torchvision_1000" else classes


# ------------------------------------------------------------------------------ pretrained


@dataclass(frozen=True)
class SourceSettings:
    """A 'pretrained' checkpoint: the architecture trained on another data set of the grid.

    Its fields, the training recipe included, name the stored checkpoint.
    """
    PROTOCOL: ClassVar[int] = 3  # bump when a run would compute other numbers (store checks)

    arch: str = "resnet18"
    dataset: str = "cifar10"
    width: float = 1.0
    resnet_stem: str = "imagenet"
    vgg_head: str = "torchvision"
    train_size: int = 0
    normalize: bool = True  # the study's `normalize`: the checkpoint sees what its cells see
    seed: int = 0
    recipe: Recipe = Recipe("sgd", lr=0.005, epochs=20, batch_size=128)


def source_dataset(cfg: ParameterDynamicsSettings, dataset: str) -> str:
    """`pretrain_source` if set, else the data set after `dataset` in the grid (cyclic).

    `runs.cells` writes the answer into each pretrained cell's settings, so a run never needs
    the whole grid to know its source, and the source is part of the run's name.
    """
    if cfg.pretrain_source:
        return cfg.pretrain_source
    grid = list(cfg.datasets)
    return grid[(grid.index(dataset) + 1) % len(grid)]


def source_spec(cfg: ParameterDynamicsSettings, arch: str, dataset: str) -> SourceSettings:
    """The checkpoint a pretrained cell loads: same architecture, the cell's training settings,
    `pretrain_optimizer` for `pretrain_epochs` on the source data set."""
    recipe = cfg.recipe(arch, cfg.pretrain_optimizer, cfg.pretrain_epochs)
    return SourceSettings(arch=arch, dataset=source_dataset(cfg, dataset), width=cfg.width,
                          resnet_stem=cfg.resnet_stem, vgg_head=cfg.vgg_head,
                          train_size=cfg.train_size, normalize=cfg.normalize, seed=cfg.seed,
                          recipe=recipe)


def imagenet_fits(cfg: ParameterDynamicsSettings, arch: str) -> bool:
    """torchvision's ImageNet weights load only into the unchanged torchvision layout."""
    layout_ok = {"resnet18": cfg.resnet_stem == "imagenet",
                 "vgg19": cfg.vgg_head in ("torchvision", "torchvision_1000")}
    return arch in IMAGENET_FILES and cfg.width == 1.0 and layout_ok.get(arch, False)
