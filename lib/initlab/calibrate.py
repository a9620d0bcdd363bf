"""What one image pass of a model costs here: FLOPs counted on its forward pass and seconds
measured over a few training steps on the runtime's device (`initlab plan`'s time estimate).

A measurement builds the model as a study does (`build_model`), feeds random images of the
run's shape and times whole steps (forward, loss, backward, SGD step) under the device policy
of the training loop (`runtime.prepare`, bf16 autocast on CUDA), after one warm-up step. The
class count barely changes the cost, so models that differ only in it share one measurement.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from initlab.training.runtime import Runtime, prepare
from initlab.training.work import Training

# The models and torch's FLOP counter are imported by `measure`: `initlab plan` imports this
# module, and needs neither when every run is stored.

MIN_SECONDS = 1.0  # time at least this long (and at least two steps, at most MAX_STEPS)
MAX_STEPS = 5
CPU_BATCH = 8  # a CPU's cost per image hardly depends on the batch; a GPU's does


@dataclass(frozen=True)
class Cost:
    """One image pass: training FLOPs (3x the forward's; 1x for a frozen backbone; None when
    the forward could not be counted) and measured seconds on this device."""

    flops: float | None
    seconds: float


def key(training: Training) -> tuple:
    """Trainings with the same key cost the same per image (the class count aside)."""
    arch, _, *rest = training.model
    return (arch, *rest, training.batch_size)


def measure(training: Training, runtime: Runtime) -> Cost:
    """Build the model, count its forward FLOPs for one image, time a few training steps in
    the run's batch size (on a CPU, a small batch first: a large model's cost per image
    hardly depends on the batch there, and its full batch could take minutes)."""
    from initlab.models import build_model

    runtime.apply()
    model = build_model(training.arch, training.classes, training.channels, training.width,
                        seed=0, **dict(training.options))
    flops = _forward_flops(model, training)
    forward = prepare(model, Runtime(runtime.device, threads=runtime.threads,
                                     layout=runtime.layout))
    batch = training.batch_size
    seconds = None
    if runtime.torch_device.type != "cuda" and batch > CPU_BATCH:
        seconds = _seconds_per_image(model, forward, training, runtime, CPU_BATCH, steps=1)
        seconds = seconds if seconds * batch > MIN_SECONDS else None
    if seconds is None:
        seconds = _seconds_per_image(model, forward, training, runtime, batch)
    factor = 1 if training.frozen else 3  # backward ~ twice the forward
    return Cost(None if flops is None else factor * flops, seconds)


def _seconds_per_image(model: nn.Module, forward, training: Training, runtime: Runtime,
                       batch: int, steps: int = 2) -> float:
    """Seconds per image of `steps` or more training steps (after a warm-up step)."""
    device = runtime.torch_device
    x = torch.randn(batch, training.channels, training.size, training.size, device=device)
    y = torch.randint(training.classes, (batch,), device=device)
    x = x.contiguous(memory_format=runtime.memory_format)  # as `fit` feeds the model
    step = _step(model, forward, x, y, device, training.frozen)
    step()  # warm-up: allocations, kernel selection
    done, start = 0, time.perf_counter()
    while done < steps or (time.perf_counter() - start < MIN_SECONDS and done < MAX_STEPS):
        step()
        done += 1
    return (time.perf_counter() - start) / (done * batch)


def _forward_flops(model: nn.Module, training: Training) -> float | None:
    """FLOPs of one image's forward pass (torch's counter; None if an op defeats it)."""
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.randn(2, training.channels, training.size, training.size)
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model.eval()(x)
    except Exception:  # an op the counter cannot trace: report no FLOPs, still time it
        return None
    finally:
        model.train()
    return counter.get_total_flops() / 2


def _step(model: nn.Module, forward, x: torch.Tensor, y: torch.Tensor, device: torch.device,
          frozen: bool):
    """One synchronized training step (a frozen backbone: one forward pass, no gradients)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()
        elif device.type == "mps":
            torch.mps.synchronize()

    from initlab.training.recipe import autocast

    def step() -> None:
        with autocast(device), torch.set_grad_enabled(not frozen):
            loss = F.cross_entropy(forward(x), y)
        if not frozen:
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        sync()

    return step
