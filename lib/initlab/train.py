"""The one training loop of the package.

Batches are cut from device-resident uint8 tensors and normalized on the device, and noise or
augmentation runs batched on the device as well: no DataLoader, no per-sample Python. A
`History` holds tidy per-epoch numbers (one row per epoch, split and metric) and optional
parameter snapshots.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from initlab import checkpoints, progress
from initlab.data import ImageSet
from initlab.devices import autocast, pick_device, set_cpu_threads

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
OPTIMIZERS = ("adam", "sgd")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message names the run and the epoch."""


@dataclass
class History:
    """Per-epoch metrics as a tidy frame, plus parameter snapshots keyed by epoch."""

    rows: list[dict] = field(default_factory=list)
    snapshots: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)

    def log(self, epoch: int, split: str, loss: float, accuracy: float) -> None:
        self.rows.append(dict(epoch=epoch, split=split, metric="loss", value=loss))
        self.rows.append(dict(epoch=epoch, split=split, metric="accuracy", value=accuracy))

    @property
    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["epoch", "split", "metric", "value"])

    def last(self, split: str = "val", metric: str = "accuracy") -> float:
        frame = self.frame
        rows = frame[(frame.split == split) & (frame.metric == metric)]
        if rows.empty:
            raise KeyError(f"no {split} {metric} logged")
        return float(rows.sort_values("epoch").value.iloc[-1])


class _DeviceBatches:
    """A data set held on the device as uint8, normalized one batch at a time."""

    def __init__(self, data: ImageSet, device: torch.device):
        self.images = data.images.to(device, non_blocking=True)
        self.labels = data.labels.to(device, non_blocking=True)
        self.mean = torch.tensor(data.mean, device=device).view(1, -1, 1, 1) * 255.0
        self.std = torch.tensor(data.std, device=device).view(1, -1, 1, 1) * 255.0

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = (self.images[index].float() - self.mean) / self.std
        if x.is_cuda:  # NHWC feeds the tensor cores without layout conversions
            x = x.contiguous(memory_format=torch.channels_last)
        return x, self.labels[index]


def prepare(model: nn.Module, device: torch.device) -> nn.Module:
    """Move `model` to `device` under the package's device policy; return what to call.

    CUDA: channels_last weights (with the NHWC batches above and bf16 autocast, the fast path
    for convolutions on tensor cores). `INITLAB_COMPILE=1` (`initlab run --compile`) wraps the
    model in torch.compile: worth it for long GPU runs, not for the seconds-long CPU ones.
    MPS and CPU: float32, default layout; on CPU the thread count suits the model's size
    (`devices.set_cpu_threads`).
    """
    model.to(device)
    if device.type == "cpu":
        set_cpu_threads(sum(p.numel() for p in model.parameters()))
    if device.type == "cuda":
        model.to(memory_format=torch.channels_last)
    if os.environ.get("INITLAB_COMPILE") == "1":
        return torch.compile(model)
    return model


def make_optimizer(
    name: str, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0,
    nesterov: bool = False, eps: float = 1e-8,
) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, eps=eps)
    if name == "sgd":
        return torch.optim.SGD(
            params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov
        )
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


@torch.no_grad()
def evaluate(
    model: nn.Module, data: ImageSet | _DeviceBatches, device: str | torch.device = "auto",
    batch_size: int = 1024,
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of `model` on `data`."""
    device = pick_device(device)
    batches = data if isinstance(data, _DeviceBatches) else _DeviceBatches(data, device)
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    order = torch.arange(len(batches), device=device)
    for start in range(0, len(batches), batch_size):
        x, y = batches.batch(order[start : start + batch_size])
        with autocast(device):
            logits = model(x)
        total_loss += F.cross_entropy(logits.float(), y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
    model.train(was_training)
    return total_loss / len(batches), correct / len(batches)


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def fit(
    model: nn.Module, train: ImageSet, val: ImageSet | None = None, *, optimizer: str = "adam",
    lr: float = 1e-3, epochs: int = 1, batch_size: int = 64, augment: Augment | None = None,
    snapshot_epochs: tuple[int, ...] = (), device: str | torch.device = "auto", seed: int = 0,
    momentum: float = 0.9, weight_decay: float = 0.0, nesterov: bool = False,
    lr_step: tuple[int, float] | None = None, name: str = "run", eps: float = 1e-8,
) -> History:
    """Train `model` in place with cross entropy; return its `History`.

    `seed` fixes the batch order and the augmentation draws (model init is the caller's);
    `lr_step=(every, factor)` multiplies the lr by `factor` every `every` epochs; `eps` is
    Adam's (study 05 trains VGG19 with eps 0.1);
    snapshots are CPU copies of the state dict after the listed epochs (0 = before training).
    """
    if epochs < 0 or batch_size < 1:
        raise ValueError(f"epochs must be >= 0 and batch_size >= 1, got {epochs}, {batch_size}")
    device = pick_device(device)
    forward = prepare(model, device)
    generator = torch.Generator().manual_seed(seed)
    train_batches = _DeviceBatches(train, device)
    val_batches = _DeviceBatches(val, device) if val is not None else None
    opt = make_optimizer(optimizer, model.parameters(), lr, momentum, weight_decay, nesterov,
                         eps)
    history = History()
    slot = checkpoints.slot(name)
    first = _resume(checkpoints.load(slot), model, opt, generator, history)
    if 0 in snapshot_epochs and first == 1:
        history.snapshots[0] = _snapshot(model)
    steps = -(-len(train_batches) // batch_size)
    start = time.perf_counter()
    loss = acc = float("nan")
    with progress.bar(total=epochs * steps, desc=name, nested=True) as pbar:
        pbar.update((first - 1) * steps)
        for epoch in range(first, epochs + 1):
            loss, acc = _train_epoch(forward, train_batches, opt, batch_size, augment, generator,
                                     device, pbar)
            if not torch.isfinite(torch.tensor(loss)):
                raise TrainingDiverged(f"{name}: training loss is {loss} at epoch {epoch}")
            history.log(epoch, "train", loss, acc)
            if val_batches is not None:
                history.log(epoch, "val", *evaluate(model, val_batches, device))
            if epoch in snapshot_epochs:
                history.snapshots[epoch] = _snapshot(model)
            if lr_step and epoch % lr_step[0] == 0:
                for group in opt.param_groups:
                    group["lr"] *= lr_step[1]
            pbar.set_postfix(loss=f"{loss:.3f}", acc=f"{acc:.3f}", refresh=False)
            checkpoints.save(slot, _training_state(epoch, model, opt, generator, history))
    if epochs >= first:
        progress.note(f"  {name}: {epochs} epochs in {time.perf_counter() - start:.1f} s, "
                      f"train loss {loss:.3f}, train accuracy {acc:.3f}")
    return history


def _training_state(epoch, model, opt, generator, history) -> dict:
    """Everything an unbroken run would carry into the next epoch."""
    return dict(epoch=epoch, model=model.state_dict(), optimizer=opt.state_dict(),
                generator=generator.get_state(), torch_rng=torch.get_rng_state(),
                rows=history.rows, snapshots=history.snapshots)


def _resume(state: dict | None, model, opt, generator, history) -> int:
    """Restore a checkpoint (if any) in place; return the first epoch still to train."""
    if state is None:
        return 1
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    history.rows[:] = state["rows"]
    history.snapshots.update(state["snapshots"])
    return state["epoch"] + 1


def _train_epoch(model, batches, opt, batch_size, augment, generator, device, pbar):
    """One pass over the data; returns the mean loss and accuracy seen during training."""
    model.train()
    order = torch.randperm(len(batches), generator=generator).to(device)
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    for start in range(0, len(batches), batch_size):
        x, y = batches.batch(order[start : start + batch_size])
        if augment is not None:
            x = augment(x, generator)
        with autocast(device):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum += loss.detach() * len(y)
        correct += (logits.argmax(1) == y).sum()
        pbar.update(1)
    n = len(batches)
    return loss_sum.item() / n, correct.item() / n
