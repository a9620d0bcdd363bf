"""The training recipe: what a model is trained with, as one frozen, hashable value.

`fit` and `fit_many` take a `Recipe`; a study builds its recipes from its settings, so every
field here is part of what names a stored run. Where the model trains (device, threads,
compile) is the `Runtime`'s business, not the recipe's. torch is imported where a recipe is
used to train, not with the module: every study's settings hold recipes, and `initlab list`
builds them all without torch.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

OPTIMIZERS = ("adam", "sgd")
PRECISIONS = ("auto", "float32", "bf16")
# step: x lr_factor after every lr_every epochs. plateau_max: study 02's original code, torch's
# ReduceLROnPlateau(mode="max", patience=lr_every - 1) stepped on the epoch's training loss; on
# a falling loss it never sees an "improvement", so it drops after lr_every + 1 epochs, then
# every lr_every (after 7 and 13 for lr_every = 6), and a rising loss postpones the drops.
LR_SCHEDULES = ("step", "plateau_max")
PLATEAU_THRESHOLD = 1e-4  # torch's default (relative); a loss must exceed best * (1 + this)
PLATEAU_EPS = 1e-8  # torch's default: a drop smaller than this is not applied


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
    lr_schedule: str = "step"  # LR_SCHEDULES; plateau_max reads the training losses (fit only)
    precision: str = "auto"  # auto: bf16 autocast on CUDA, float32 elsewhere

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose one of "
                             f"{', '.join(OPTIMIZERS)}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"unknown lr_schedule {self.lr_schedule!r}; choose one of "
                             f"{', '.join(LR_SCHEDULES)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; choose one of "
                             f"{', '.join(PRECISIONS)}")
        if self.epochs < 0 or self.batch_size < 1 or self.lr_every < 0:
            raise ValueError(f"epochs and lr_every must be >= 0 and batch_size >= 1, got "
                             f"{self.epochs}, {self.lr_every}, {self.batch_size}")

    def make_optimizer(self, params) -> torch.optim.Optimizer:
        import torch

        if self.optimizer == "adam":
            return torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay,
                                    eps=self.eps)
        return torch.optim.SGD(params, lr=self.lr, momentum=self.momentum,
                               weight_decay=self.weight_decay, nesterov=self.nesterov)

    def step_lr(self, optimizer: torch.optim.Optimizer, epoch: int,
                losses: Sequence[Sequence[float]] = ()) -> None:
        """The schedule, applied after `epoch` has been trained. `losses`: per model, the
        training loss of epochs 1..epoch (only `plateau_max` reads them, and it needs exactly
        one model: models stacked under one optimizer share one rate)."""
        if not self.lr_every:
            return
        if self.lr_schedule == "step":
            drop = epoch % self.lr_every == 0
        else:
            if len(losses) != 1:
                raise ValueError(f"lr_schedule {self.lr_schedule!r} follows one model's loss; "
                                 f"got the losses of {len(losses)} models")
            drop = epoch in plateau_drops(losses[0][:epoch], self.lr_every - 1)
        for group in optimizer.param_groups if drop else ():
            # torch's plateau scheduler skips a change smaller than its eps; step never does
            if self.lr_schedule == "step" or group["lr"] * (1 - self.lr_factor) > PLATEAU_EPS:
                group["lr"] *= self.lr_factor


def plateau_drops(losses: Sequence[float], patience: int) -> list[int]:
    """The epochs (1-based) after which torch's ReduceLROnPlateau(mode="max", patience,
    threshold 1e-4 relative, no cooldown) lowers the rate when stepped on these losses.

    A pure function of the losses so far, so a resumed run needs no scheduler state: the
    checkpoint already holds the logged losses. mode="max" treats a *higher* loss as better,
    which is what the original code asked for (tests compare it with torch's scheduler).
    """
    best, bad, drops = -math.inf, 0, []
    for epoch, loss in enumerate(losses, 1):
        if loss > best * (1 + PLATEAU_THRESHOLD):  # torch's "rel" test (NaN never better)
            best, bad = loss, 0
        else:
            bad += 1
        if bad > patience:
            drops.append(epoch)
            bad = 0
    return drops


def effective_precision(device: torch.device | str, precision: str = "auto") -> str:
    """What "auto" becomes on `device`: "bf16" on CUDA, "float32" elsewhere.

    Notebooks state it and `runtime.json` records it, because a setting of "auto" alone does
    not say which arithmetic produced a stored number.
    """
    import torch

    kind = torch.device(device).type
    return "bf16" if precision == "bf16" or (precision == "auto" and kind == "cuda") else "float32"


def autocast(device: torch.device, precision: str = "auto") -> contextlib.AbstractContextManager:
    """bf16 autocast where asked for or ("auto") on CUDA; float32 elsewhere.

    MPS autocast is incomplete and CPU autocast is slower than float32 for the small
    convolutions of these studies, so "auto" means bf16 on CUDA only.
    """
    if effective_precision(device, precision) == "bf16":
        import torch

        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
