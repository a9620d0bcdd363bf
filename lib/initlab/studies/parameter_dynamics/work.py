"""What one cell of study 05 trains (for `initlab plan`, docs/05_parameter_dynamics.md): its
model, then one retraining per perturbation when its init is perturbed (every init by
default), and for a
`pretrained` cell the checkpoint it loads when that must be trained here (ImageNet weights
that fit and are in torch's cache train nothing). The checkpoint is its own store run,
shared by every cell that loads it: counted once, and not when it is stored.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from initlab import catalog
from initlab.studies.parameter_dynamics.design import (
    IMAGENET_FILES,
    SOURCES,
    cell,
    imagenet_fits,
    model_classes,
    model_options,
    source_spec,
)
from initlab.studies.parameter_dynamics.settings import ParameterDynamicsSettings
from initlab.training.work import Training


def trainings(cfg: ParameterDynamicsSettings) -> list[Training]:
    """The trainings of one grid cell (`runs.run`, `sources.train_source`)."""
    arch, dataset, init, optimizer = cell(cfg)
    model = _model(cfg, arch, dataset, cfg.train_size, cfg.epochs)
    out = [model]
    if cfg.perturbs(init):
        out += [_model(cfg, arch, dataset, cfg.train_size, cfg.retrain_epochs)
                for _ in cfg.perturbations]
    if init == "pretrained" and not (cfg.pretrained == "imagenet" and imagenet_fits(cfg, arch)
                                     and _cached(arch)):
        spec = source_spec(cfg, arch, dataset)
        source = _model(cfg, arch, spec.dataset, spec.train_size, spec.recipe.epochs)
        out.append(Training(**{**source.__dict__, "shared": (SOURCES, spec)}))
    return out


def _model(cfg: ParameterDynamicsSettings, arch: str, dataset: str, train_size: int,
           epochs: int) -> Training:
    """`arch` on `dataset` as 3 x 32 x 32 (`sources.build` and `sources.load_data`)."""
    shape = catalog.shape(dataset)
    options = model_options(arch, cfg.width, cfg.resnet_stem, cfg.vgg_head)
    options = tuple((k, v) for k, v in options.items() if k != "width")
    images = min(train_size, shape.train) if train_size else shape.train
    classes = model_classes(arch, cfg.vgg_head, shape.classes)
    return Training(arch, classes, 3, 32, images, epochs, cfg.batch_size,
                    width=1.0 if arch == "lenet5" else cfg.width, options=options)


def _cached(arch: str) -> bool:
    """Whether torchvision's ImageNet weights for `arch` are in torch's cache (offline they
    could not be fetched, and the run would train a checkpoint instead)."""
    return (hub_dir() / "checkpoints" / IMAGENET_FILES[arch]).exists()


def hub_dir() -> Path:
    """`torch.hub.get_dir()`, without importing torch where it is not loaded yet (`initlab
    plan` stays light): $TORCH_HOME/hub, TORCH_HOME defaulting to $XDG_CACHE_HOME/torch, then
    ~/.cache/torch. With torch loaded, its answer (a `torch.hub.set_dir` included)."""
    if "torch" in sys.modules:
        return Path(sys.modules["torch"].hub.get_dir())
    cache = os.getenv("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    return Path(os.path.expanduser(os.getenv("TORCH_HOME", os.path.join(cache, "torch")))) / "hub"
