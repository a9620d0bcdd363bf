"""The one epoch loop under `fit` and `fit_many`: resume, per-epoch checkpoints, the NaN check,
validation, snapshots and the lr schedule are written once, here.

`fit` trains one model and `fit_many` K stacked models; both hand `run_epochs` a `Loop` saying
how to train one epoch and how to get and set their weights, and the loop does the rest for
every model alike. Batches are cut from device-resident uint8 tensors and normalized on the
device: no DataLoader, no per-sample Python. A `History` holds tidy per-epoch numbers (one row
per epoch, split and metric) and optional parameter snapshots.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from initlab.data import ImageSet
from initlab.training import checkpoints, progress
from initlab.training.recipe import Recipe, autocast
from initlab.training.runtime import Runtime

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


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

    def train_losses(self) -> list[float]:
        """The training loss of every epoch logged so far, in order (a plateau schedule reads
        it; restored rows after a resume included, so the schedule needs no state of its own)."""
        return [r["value"] for r in self.rows if r["split"] == "train" and r["metric"] == "loss"]

    def last(self, split: str = "val", metric: str = "accuracy") -> float:
        frame = self.frame
        rows = frame[(frame.split == split) & (frame.metric == metric)]
        if rows.empty:
            raise KeyError(f"no {split} {metric} logged")
        return float(rows.sort_values("epoch").value.iloc[-1])


class DeviceBatches:
    """A data set held on the device as uint8, normalized one batch at a time."""

    def __init__(self, data: ImageSet, device: torch.device,
                 memory_format: torch.memory_format = torch.contiguous_format):
        self.memory_format = memory_format
        self.images = data.images.to(device, non_blocking=True)
        self.labels = data.labels.to(device, non_blocking=True)
        self.mean = torch.tensor(data.mean, device=device).view(1, -1, 1, 1) * 255.0
        self.std = torch.tensor(data.std, device=device).view(1, -1, 1, 1) * 255.0

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = (self.images[index].float() - self.mean) / self.std
        # in the model's layout (`Runtime.memory_format`): no conversion at the first conv
        return x.contiguous(memory_format=self.memory_format), self.labels[index]


@torch.no_grad()
def evaluate(model: nn.Module, data: ImageSet | DeviceBatches, runtime: Runtime | None = None,
             precision: str = "auto", batch_size: int = 1024) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of `model` on `data`."""
    runtime = runtime or Runtime()
    device = runtime.torch_device
    batches = (data if isinstance(data, DeviceBatches)
               else DeviceBatches(data, device, runtime.memory_format))
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    order = torch.arange(len(batches), device=device)
    for start in range(0, len(batches), batch_size):
        x, y = batches.batch(order[start : start + batch_size])
        with autocast(device, precision):
            logits = model(x)
        total_loss += F.cross_entropy(logits.float(), y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
    model.train(was_training)
    return total_loss / len(batches), correct / len(batches)


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    """CPU copies of the weights in the plain layout, whatever layout training used."""
    return {k: v.detach().to("cpu", copy=True).contiguous()
            for k, v in model.state_dict().items()}


@dataclass
class Loop:
    """What `run_epochs` needs from a training call: its models' names, data, optimizer and
    generators, and three callbacks (train one epoch; the current models; the weights to
    checkpoint and how to put them back)."""

    labels: list[str]  # one per model, for messages
    vals: list[DeviceBatches | None]
    optimizer: torch.optim.Optimizer
    generators: list[torch.Generator]
    train_epoch: Callable[[Any], tuple[list[float], list[float]]]  # (bar) -> losses, accuracies
    models: Callable[[], list[nn.Module]]  # the models with the current weights
    weights: Callable[[], Any]
    load_weights: Callable[[Any], None]
    steps: int  # optimizer steps per epoch
    seed: int  # of torch's global generator during training (dropout)


def run_epochs(loop: Loop, recipe: Recipe, runtime: Runtime, name: str,
               snapshot_epochs: tuple[int, ...] = ()) -> list[History]:
    """Train `recipe.epochs` epochs, resuming from this run's checkpoint slot if it has one.

    Draws from torch's global generator (dropout) come from `loop.seed` inside a forked RNG
    state: a training call neither depends on nor changes what ran before it in the process.
    """
    device = runtime.torch_device
    forked = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=forked):
        torch.manual_seed(loop.seed)
        return _train(loop, recipe, runtime, name, snapshot_epochs)


def _train(loop: Loop, recipe: Recipe, runtime: Runtime, name: str,
           snapshot_epochs: tuple[int, ...]) -> list[History]:
    histories = [History() for _ in loop.labels]
    slot = checkpoints.slot(name)
    first = _resume(checkpoints.load(slot), loop, histories)
    if 0 in snapshot_epochs and first == 1:
        for history, model in zip(histories, loop.models()):
            history.snapshots[0] = snapshot(model)
    start = time.perf_counter()
    with progress.bar(total=recipe.epochs * loop.steps, desc=name, nested=True,
                      mode=runtime.progress) as pbar:
        pbar.update((first - 1) * loop.steps)
        for epoch in range(first, recipe.epochs + 1):
            losses, accuracies = loop.train_epoch(pbar)
            for label, history, loss, acc in zip(loop.labels, histories, losses, accuracies):
                if not torch.isfinite(torch.tensor(loss)):
                    raise TrainingDiverged(f"{label}: training loss is {loss} at epoch {epoch}")
                history.log(epoch, "train", loss, acc)
            for history, model, val in zip(histories, loop.models(), loop.vals):
                if val is not None:
                    history.log(epoch, "val", *evaluate(model, val, runtime, recipe.precision))
                if epoch in snapshot_epochs:
                    history.snapshots[epoch] = snapshot(model)
            recipe.step_lr(loop.optimizer, epoch, [h.train_losses() for h in histories])
            pbar.set_postfix(loss=f"{losses[0]:.3f}", acc=f"{accuracies[0]:.3f}", refresh=False)
            checkpoints.save(slot, _state(epoch, loop, histories))
    if recipe.epochs >= first:
        progress.note(f"  {name}: {len(histories)} model(s) x {recipe.epochs} epochs in "
                      f"{time.perf_counter() - start:.1f} s on {runtime.torch_device.type}",
                      runtime.progress)
    return histories


def _state(epoch: int, loop: Loop, histories: list[History]) -> dict:
    """Everything an unbroken run would carry into the next epoch."""
    return dict(epoch=epoch, weights=loop.weights(), optimizer=loop.optimizer.state_dict(),
                generators=[g.get_state() for g in loop.generators],
                torch_rng=torch.get_rng_state(), cuda_rng=_cuda_rng(),
                rows=[h.rows for h in histories],
                snapshots=[h.snapshots for h in histories])


def _resume(state: dict | None, loop: Loop, histories: list[History]) -> int:
    """Restore a checkpoint (if any) in place; return the first epoch still to train."""
    if state is None:
        return 1
    loop.load_weights(state["weights"])
    loop.optimizer.load_state_dict(state["optimizer"])
    for generator, saved in zip(loop.generators, state["generators"]):
        generator.set_state(saved)
    torch.set_rng_state(state["torch_rng"])
    if state.get("cuda_rng") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda_rng"])
    for history, rows, snapshots in zip(histories, state["rows"], state["snapshots"]):
        history.rows[:] = rows
        history.snapshots.update(snapshots)
    return state["epoch"] + 1


def _cuda_rng() -> torch.Tensor | None:
    """The current CUDA generator's state (dropout on the GPU draws from it), if any."""
    return torch.cuda.get_rng_state() if torch.cuda.is_available() else None
