"""Numbers of freshly built full-width models that the notebook's prose quotes: 2 ||theta_0||
of each reported sign flip's init, and the share of ResNet-18's parameters that only ever see
padding. They depend on the code alone, but building VGG19 (143 M weights) three times takes
seconds, so they are stored once like a run (`<store>/05_parameter_dynamics_fresh/`) and every
render reads them instead of building the models again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pandas as pd
import torch

from initlab import store
from initlab.inits import initialize
from initlab.studies.parameter_dynamics import reported
from initlab.studies.parameter_dynamics import sources as material
from initlab.studies.parameter_dynamics.results import frozen_percent
from initlab.studies.parameter_dynamics.settings import ParameterDynamicsSettings
from initlab.training.runtime import Runtime

STUDY = "05_parameter_dynamics_fresh"


@dataclass(frozen=True)
class FreshModels:
    """What the stored numbers depend on: how conv biases are initialized, ResNet-18's stem,
    VGG19's head and the profile's width (for the padding-only share at that width)."""

    PROTOCOL: ClassVar[int] = 1
    conv_bias: str
    resnet_stem: str
    vgg_head: str
    width: float
    seed: int = 0


def load(cfg: ParameterDynamicsSettings, train: bool = True) -> store.Result:
    """The stored numbers for `cfg`, computed first when missing (never with train=False)."""
    spec = FreshModels(cfg.conv_bias, cfg.resnet_stem, cfg.vgg_head, cfg.width)
    return store.run(STUDY, spec, compute, train=train)


def compute(spec: FreshModels, runtime: Runtime | None = None) -> store.Result:
    full = frozen_percent("resnet18", 1.0, spec.resnet_stem, spec.vgg_head)
    here = frozen_percent("resnet18", spec.width, spec.resnet_stem, spec.vgg_head)
    return {"flip_norms": flip_norms(spec),
            "frozen": pd.DataFrame([dict(full_width=full, this_width=here)])}


def flip_norms(spec: FreshModels) -> pd.DataFrame:
    """2 ||theta_0|| of freshly initialized full-width models (the init of each reported
    sign flip; conv biases as `spec.conv_bias`), beside the reported sign-flip distance: a
    flip moves weights by 2 ||theta||. VGG19 with each head, the original's 1000-way first."""
    rows = []
    for arch, _, init, _, value in reported.SIGN_FLIP_DISTANCE:
        heads = ("torchvision_1000", "torchvision", "small") if arch == "vgg19" \
            else ("torchvision",)
        for head in heads:
            model = material.build(arch, 10, 1.0, "imagenet", head, seed=spec.seed)
            keep = material.keeps_conv_bias(spec.conv_bias, arch, init)
            with material.conv_biases_kept(model, keep):
                initialize(model, init, seed=spec.seed)
            norm = float(torch.linalg.vector_norm(torch.cat(
                [p.detach().flatten() for p in model.parameters()])))
            rows.append(dict(arch=arch, head=head if arch == "vgg19" else "", init=init,
                             two_norm_fresh=2 * norm, reported_sign_flip=value))
    return pd.DataFrame(rows)
