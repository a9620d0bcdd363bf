"""Orthogonal initialization (Saxe et al. 2014) and LSUV (Mishkin & Matas 2016).

`orthogonal`: each conv or linear weight, flattened to (out, in*k*k), is drawn uniformly among
matrices with orthonormal rows (out <= in: W W^T = gain^2 I) or columns (out > in:
W^T W = gain^2 I) by `torch.nn.init.orthogonal_`; biases are zeroed. The default gain is
sqrt(2), PyTorch's `calculate_gain("relu")`: a unit-norm row r gives a unit a second moment
E<r, x>^2 = q for inputs of per-coordinate second moment q, whatever the fan-in; a ReLU halves
q, and sqrt(2) restores it, the same per-unit scale Kaiming normal's variance 2 / fan_in gives
(Saxe et al.'s gain 1 is for linear networks). So against Kaiming normal, orthogonal changes
only how the filters relate to each other, not their scale, and a paired difference between
the two measures orthogonality alone. (For out > in, e.g. a first conv of 3*3*3 = 27 inputs and
64 filters, rows cannot all be orthonormal and have squared norm in/out on average.)

`lsuv`: layer-sequential unit variance. An orthonormal start (gain 1, as in the paper), then
each conv/linear layer in the order the forward pass reaches it is divided by the square root
of its output variance on one batch, until that variance is within `tol` of 1 or after
`max_iterations` rescalings (the paper's Tol_var = 0.1 and T_max = 10). It needs the batch:
a study passes a tensor of training inputs as `data=` to every initializer that declares a
`data` parameter (`registry.InitSpec.apply`). The variance is measured in eval mode: no dropout
draw, batch-norm running statistics left as they were (fresh ones are the identity), so the
property holds on that batch when measured again.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from initlab.inits.registry import register

LAYERS = (nn.Conv2d, nn.Linear)
RELU_GAIN = math.sqrt(2.0)


class _Reached(Exception):
    """Raised by a forward hook once the layer of interest has run: the rest is not needed."""


def weighted_layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, LAYERS)]


@register("orthogonal")
@torch.no_grad()
def orthogonal(model: nn.Module, seed: int | None = None, gain: float = RELU_GAIN) -> nn.Module:
    """Orthogonal conv/linear weights (flattened to (out, in*k*k)) times `gain`; zero biases.
    Drawn on the CPU from one generator seeded with `seed`, then copied to the weights' device,
    so a seed gives the same weights on every device and the global RNG is left alone."""
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    for layer in weighted_layers(model):
        weight = torch.empty(layer.weight.shape, dtype=layer.weight.dtype)
        nn.init.orthogonal_(weight, gain=gain, generator=generator)
        layer.weight.copy_(weight)
        if layer.bias is not None:
            layer.bias.zero_()
    return model


@register("lsuv")
@torch.no_grad()
def lsuv(model: nn.Module, seed: int | None = None, data: torch.Tensor | None = None,
         tol: float = 0.1, max_iterations: int = 10) -> nn.Module:
    """Orthonormal start, then each layer in forward order rescaled until its output variance
    on `data` is within `tol` of 1 (at most `max_iterations` times). A layer whose output is
    constant on the batch cannot be scaled to unit variance and is left as it is."""
    if data is None:
        raise ValueError("lsuv needs a batch of training inputs as data= (a study passes one "
                         "to every initializer that declares a `data` parameter)")
    if tol <= 0 or max_iterations < 1:
        raise ValueError(f"lsuv: tol must be positive and max_iterations at least 1, got "
                         f"{tol!r}, {max_iterations!r}")
    orthogonal(model, seed=seed, gain=1.0)
    data = data.to(next(model.parameters()).device)
    was_training = model.training
    model.eval()  # before any forward pass: no dropout draw, no running statistics changed
    try:
        for layer in forward_order(model, data):
            for _ in range(max_iterations):
                variance = output_variance(model, layer, data)
                if abs(variance - 1.0) < tol or variance == 0.0:
                    break
                layer.weight.div_(math.sqrt(variance))
    finally:
        model.train(was_training)
    return model


@torch.no_grad()
def forward_order(model: nn.Module, data: torch.Tensor) -> list[nn.Module]:
    """The conv/linear layers in the order a forward pass on `data` first calls them (a
    residual network's shortcut convs come where they run, not where they are defined). Runs
    in the model's current mode."""
    order: list[nn.Module] = []

    def note(layer: nn.Module, _inputs, _output) -> None:
        if layer not in order:
            order.append(layer)

    handles = [layer.register_forward_hook(note) for layer in weighted_layers(model)]
    try:
        model(data)
    finally:
        for handle in handles:
            handle.remove()
    return order


@torch.no_grad()
def output_variance(model: nn.Module, layer: nn.Module, data: torch.Tensor) -> float:
    """The variance of `layer`'s output over every element of its output on `data` (the
    forward pass stops there). Runs in the model's current mode."""
    seen: list[torch.Tensor] = []

    def grab(_layer: nn.Module, _inputs, output: torch.Tensor) -> None:
        seen.append(output)
        raise _Reached

    handle = layer.register_forward_hook(grab)
    try:
        model(data)
    except _Reached:
        pass
    finally:
        handle.remove()
    if not seen:
        raise ValueError(f"the forward pass never reached {layer}")
    return float(seen[0].double().var())
