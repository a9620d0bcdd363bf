"""`fit`: train one model with a `Recipe` on a `Runtime`, through the shared epoch loop.

Noise or augmentation runs batched on the device; the seed fixes the batch order and the
augmentation draws (the model's init is the caller's: `build_model(..., seed=)`).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from initlab.data import ImageSet
from initlab.seeds import derive_seed
from initlab.training.loop import Augment, DeviceBatches, History, Loop, run_epochs
from initlab.training.recipe import Recipe, autocast
from initlab.training.runtime import Runtime, prepare


def fit(
    model: nn.Module, train: ImageSet, val: ImageSet | None = None, *, recipe: Recipe,
    runtime: Runtime | None = None, seed: int = 0, augment: Augment | None = None,
    snapshot_epochs: tuple[int, ...] = (), name: str = "run",
) -> History:
    """Train `model` in place with cross entropy; return its `History`.

    Snapshots are CPU copies of the state dict after the listed epochs (0 = before training).
    Inside a store run every epoch is checkpointed, and a rerun resumes from the last one.
    """
    runtime = runtime or Runtime()
    device = runtime.torch_device
    forward = prepare(model, runtime)
    generator = torch.Generator().manual_seed(seed)
    batches = DeviceBatches(train, device, runtime.memory_format)
    opt = recipe.make_optimizer(model.parameters())

    def train_epoch(pbar) -> tuple[list[float], list[float]]:
        loss, acc = _train_epoch(forward, batches, opt, recipe, augment, generator, device, pbar)
        return [loss], [acc]

    val_batches = None if val is None else DeviceBatches(val, device, runtime.memory_format)
    loop = Loop(labels=[name], vals=[val_batches],
                optimizer=opt, generators=[generator], train_epoch=train_epoch,
                models=lambda: [model], weights=model.state_dict,
                load_weights=model.load_state_dict, steps=-(-len(batches) // recipe.batch_size),
                seed=derive_seed(seed, "global"))
    history = run_epochs(loop, recipe, runtime, name, snapshot_epochs)[0]
    model.to(memory_format=torch.contiguous_format)  # callers see the plain layout
    return history


def _train_epoch(model, batches, opt, recipe, augment, generator, device, pbar):
    """One pass over the data; returns the mean loss and accuracy seen during training."""
    model.train()
    order = torch.randperm(len(batches), generator=generator).to(device)
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    for start in range(0, len(batches), recipe.batch_size):
        x, y = batches.batch(order[start : start + recipe.batch_size])
        if augment is not None:
            x = augment(x, generator)
        with autocast(device, recipe.precision):
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
