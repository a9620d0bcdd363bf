"""How much of the input's scale each init lets through VGG's conv stack before training.

A VGG without batch norm multiplies the signal's scale by each conv layer's gain; an init whose
gain is below one in every layer leaves the last conv layer (and the gradient flowing back to
the first) orders of magnitude smaller than Kaiming's, and SGD then needs many more steps
before anything is learned. The fixed-scale inits (`normal`, `uniform`) have a gain that grows
with the layers' fan-in, i.e. with the width, so the same init can shrink the signal in a
narrow VGG and blow it up in a full-width one: the notebook shows both.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import torch
from torch import nn

from initlab.inits import InitOptions
from initlab.inits.matrix import MATRIX_METHODS, vgg_style
from initlab.models import build_model
from initlab.seeds import derive_seed
from initlab.studies.agop_nfm_init.runs import init_spec, initialized_model, target_data
from initlab.studies.agop_nfm_init.settings import AgopNfmSettings, init_call
from initlab.training.runtime import Runtime

PAPER_WIDTH = 1.0


@torch.no_grad()
def relative_rms(model: nn.Module, x: torch.Tensor) -> float:
    """RMS of the conv stack's output (VGG's `features`) over the RMS of the input `x`."""
    out: list[torch.Tensor] = []
    features = next(m for name, m in model.named_modules() if name.endswith("features"))
    hook = features.register_forward_hook(lambda _m, _i, o: out.append(o))
    try:
        model.eval()(x)
    finally:
        hook.remove()
    return float(out[0].pow(2).mean().sqrt() / x.pow(2).mean().sqrt())


def _paper_width(cfg: AgopNfmSettings, label: str, classes: int) -> float:
    """The same standard init in a full-width VGG (3 channels, random 32x32 inputs); NaN for
    a matrix init (it would need a full-width source)."""
    method, options = init_call(label)
    if method in MATRIX_METHODS:
        return float("nan")
    model = build_model(cfg.model, classes, 3, PAPER_WIDTH, seed=derive_seed(cfg.seed, "model"),
                        image_size=32)
    vgg_style(model, method, seed=derive_seed(cfg.seed, "init"), linear_std=cfg.linear_std,
              **options)
    x = torch.randn(16, 3, 32, 32, generator=torch.Generator().manual_seed(cfg.seed))
    return relative_rms(model, x)


def signal_at_init(cfg: AgopNfmSettings, runtime: Runtime) -> pd.DataFrame:
    """Per data set and init, before training: the conv stack's output RMS relative to its
    input's, on the AGOP sample of run `cfg.seed` (training-fold images) at the study's width,
    and for the standard inits also in a full-width VGG (not for a user's init with options,
    source hash or data: it is measured at the study's width only)."""
    rows = []
    for dataset in cfg.datasets:
        train, _, sample = target_data(cfg, dataset, cfg.seed)
        x = sample.to_float(runtime.torch_device)
        for label in cfg.inits:
            spec = init_spec(cfg, label)
            one = dataclasses.replace(cfg, datasets=(dataset,), inits=(label,),
                                      init_options=InitOptions(), init_spec=spec)
            model = initialized_model(one, train, sample, runtime).to(runtime.torch_device)
            wide = float("nan") if spec else _paper_width(cfg, label, train.num_classes)
            rows.append(dict(dataset=dataset, init=label, width=cfg.width,
                             relative_rms=relative_rms(model, x), relative_rms_width_1=wide))
    return pd.DataFrame(rows)
