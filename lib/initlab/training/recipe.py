"""The training recipe: what a model is trained with, as one frozen, hashable value.

`fit` and `fit_many` take a `Recipe`; a study builds its recipes from its settings, so every
field here is part of what names a stored run. Where the model trains (device, threads,
compile) is the `Runtime`'s business, not the recipe's.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

OPTIMIZERS = ("adam", "sgd")
PRECISIONS = ("auto", "float32", "bf16")


@dataclass(frozen=True)
class Recipe:
    """Optimizer, schedule and numeric precision of one training call."""

    optimizer: str = "adam"  # adam | sgd
    lr: float = 1e-3
    momentum: float = 0.9  # SGD only
    weight_decay: float = 0.0
    nesterov: bool = False  # SGD only
    eps: float = 1e-8  # Adam only (study 05 trains VGG19 with 0.1)
    epochs: int = 1
    batch_size: int = 64
    lr_every: int = 0  # multiply the lr by lr_factor after every lr_every epochs; 0 = constant
    lr_factor: float = 1.0
    precision: str = "auto"  # auto: bf16 autocast on CUDA, float32 elsewhere

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose one of "
                             f"{', '.join(OPTIMIZERS)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; choose one of "
                             f"{', '.join(PRECISIONS)}")
        if self.epochs < 0 or self.batch_size < 1 or self.lr_every < 0:
            raise ValueError(f"epochs and lr_every must be >= 0 and batch_size >= 1, got "
                             f"{self.epochs}, {self.lr_every}, {self.batch_size}")

    def make_optimizer(self, params) -> torch.optim.Optimizer:
        if self.optimizer == "adam":
            return torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay,
                                    eps=self.eps)
        return torch.optim.SGD(params, lr=self.lr, momentum=self.momentum,
                               weight_decay=self.weight_decay, nesterov=self.nesterov)

    def step_lr(self, optimizer: torch.optim.Optimizer, epoch: int) -> None:
        """The step schedule, applied after `epoch` has been trained."""
        if self.lr_every and epoch % self.lr_every == 0:
            for group in optimizer.param_groups:
                group["lr"] *= self.lr_factor


def effective_precision(device: torch.device | str, precision: str = "auto") -> str:
    """What "auto" becomes on `device`: "bf16" on CUDA, "float32" elsewhere.

    Notebooks state it and `runtime.json` records it, because a setting of "auto" alone does
    not say which arithmetic produced a stored number.
    """
    kind = torch.device(device).type
    return "bf16" if precision == "bf16" or (precision == "auto" and kind == "cuda") else "float32"


def autocast(device: torch.device, precision: str = "auto") -> contextlib.AbstractContextManager:
    """bf16 autocast where asked for or ("auto") on CUDA; float32 elsewhere.

    MPS autocast is incomplete and CPU autocast is slower than float32 for the small
    convolutions of these studies, so "auto" means bf16 on CUDA only.
    """
    if effective_precision(device, precision) == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
