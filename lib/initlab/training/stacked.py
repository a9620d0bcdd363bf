"""K batch-norm models of one architecture as one network: the stacked path of `fit_many`.

vmap cannot update K sets of batch-norm running statistics in place, so batch-norm models are
stacked as real modules instead. Model k's channels become channels k*C..(k+1)*C of one network
over (B, K*C, H, W): every convolution is grouped (groups = K x its own groups), so channel block
k only ever sees block k; every batch norm runs over K*C channels, and since batch norm is per
channel over (B, H, W), that is exactly K independent batch norms over each model's own batch,
running statistics included; the linear head is K batched matrix products. Pools, ReLUs, the
residual additions and the global average pool are per channel and need no change.

Every stacked tensor is the K models' tensors concatenated along dimension 0 (the linear weight
too: (K*out, in), viewed as (K, out, in) when used), so reading model k back is one slice per
state-dict entry (`write_back`). Only architectures whose forward is known to keep channel
blocks apart are accepted (`stackable`): this package's ResNet-18, any width, both stems,
custom or not.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from initlab.models.resnet import ResNet18

# leaf modules that act per channel (or are re-built below): safe in the stacked layout
PER_CHANNEL = (nn.ReLU, nn.MaxPool2d, nn.AdaptiveAvgPool2d, nn.Identity)


class StackedLinear(nn.Module):
    """K linear layers on (B, K*in) -> (B, K*out); weight (K*out, in), bias (K*out,)."""

    def __init__(self, k: int, layer: nn.Linear):
        super().__init__()
        self.k, self.in_features, self.out_features = k, layer.in_features, layer.out_features
        device, dtype = layer.weight.device, layer.weight.dtype
        self.weight = nn.Parameter(torch.empty(k * layer.out_features, layer.in_features,
                                               device=device, dtype=dtype))
        self.bias = None if layer.bias is None else nn.Parameter(
            torch.empty(k * layer.out_features, device=device, dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        h = x.reshape(batch, self.k, self.in_features).transpose(0, 1)  # (K, B, in)
        weight = self.weight.view(self.k, self.out_features, self.in_features).transpose(1, 2)
        if self.bias is None:
            out = torch.bmm(h, weight)
        else:
            out = torch.baddbmm(self.bias.view(self.k, 1, self.out_features), h, weight)
        return out.transpose(0, 1).reshape(batch, self.k * self.out_features)


def stackable(model: nn.Module) -> bool:
    """Whether `stack` can run K copies of `model` as one network: a ResNet18 of this package
    whose leaves are convolutions, 2-d batch norms, linears and per-channel layers only."""
    if not isinstance(model, ResNet18):
        return False
    leaves = [m for m in model.modules() if not list(m.children())]
    return all(isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.Linear, *PER_CHANNEL))
               and not (isinstance(m, nn.Conv2d) and m.padding_mode != "zeros")
               for m in leaves)


def stack(models: list[nn.Module]) -> nn.Module:
    """One network computing all K `models` at once, holding copies of their weights and
    running statistics (the models themselves are left untouched)."""
    if not models or not all(stackable(m) for m in models):
        raise ValueError("stack needs ResNet18 models of this package (see `stackable`)")
    k = len(models)
    net = copy.deepcopy(models[0])
    for name, module in list(net.named_modules()):
        wide = _widened(module, k)
        if wide is not None:
            parent, _, attr = name.rpartition(".")
            setattr(net.get_submodule(parent) if parent else net, attr, wide)
    states = [m.state_dict() for m in models]
    shapes = {key: value.shape for key, value in net.state_dict().items()}
    net.load_state_dict({key: _concatenated([s[key] for s in states], shapes[key])
                         for key in states[0]})
    return net


def _widened(module: nn.Module, k: int) -> nn.Module | None:
    """The K-wide replacement of one layer (parameters uninitialized), or None to keep it."""
    device = next(module.parameters(), torch.empty(0)).device
    if isinstance(module, nn.Conv2d):
        return nn.Conv2d(k * module.in_channels, k * module.out_channels, module.kernel_size,
                         module.stride, module.padding, module.dilation, k * module.groups,
                         module.bias is not None, device=device)
    if isinstance(module, nn.BatchNorm2d):
        return nn.BatchNorm2d(k * module.num_features, module.eps, module.momentum,
                              module.affine, module.track_running_stats, device=device)
    if isinstance(module, nn.Linear):
        return StackedLinear(k, module)
    return None


def _concatenated(tensors: list[torch.Tensor], shape: torch.Size) -> torch.Tensor:
    """The K models' entries as one stacked entry: concatenated along dimension 0, except the
    scalar `num_batches_tracked`, which all K share (they take the same steps)."""
    if tensors[0].dim() == 0:
        return tensors[0].clone()
    return torch.cat(tensors).reshape(shape)


def stacked_input(x: torch.Tensor) -> torch.Tensor:
    """(K, B, C, H, W), model k's batch at k -> (B, K*C, H, W), channels_last on CUDA."""
    h = x.transpose(0, 1).flatten(1, 2)
    return h.contiguous(memory_format=torch.channels_last if h.is_cuda else
                        torch.contiguous_format)


def stacked_output(logits: torch.Tensor, k: int) -> torch.Tensor:
    """(B, K*classes) -> (K, B, classes)."""
    return logits.reshape(logits.shape[0], k, -1).transpose(0, 1)


@torch.no_grad()
def write_back(net: nn.Module, models: list[nn.Module]) -> None:
    """Copy model k's slice of every stacked weight and running statistic into `models[k]`."""
    state = net.state_dict()
    k = len(models)
    for i, model in enumerate(models):
        for key, value in model.state_dict().items():
            stacked = state[key]
            value.copy_(stacked if stacked.dim() == 0 else
                        stacked.reshape(k, *value.shape)[i])
