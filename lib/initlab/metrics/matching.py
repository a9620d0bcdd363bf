"""Matching: which unit of one network corresponds to which of another.

- `align_to`: plain CNNs (study 01), weight matching per layer by an optimal assignment
  (filters of independently trained networks are not ordered alike, so comparing them index by
  index mixes that permutation into the similarity);
- `align_models`: ResNet-18 filters across several models (study 02), greedy or optimal;
- `greedy_pairs`: features of two networks paired greedily by |correlation| (study 05).

ResNet alignment in detail:

Permuting a conv's output channels leaves the network's function unchanged only if every
consumer of those channels is permuted alike. In a ResNet, channels that feed a residual sum
belong to a *stream*: all convs adding into it (the stem or a stage's first shortcut, and
every block's conv2) and all convs reading from it must share one permutation. So the unit of
permutation is a *group*: its producers (convs whose outputs, and batch norms whose channels,
are permuted) and its consumers (convs whose inputs, or the fc whose features, are permuted).

Which layers can be aligned on their own (`alignable`): every block's conv1 (it feeds only its
block's bn1 and conv2); in the "custom" ResNet-18, whose `layer1` has no residual additions,
also the stem and the four convs of `layer1` (so the first 5 of the 17 conv layers are all
alignable there). In the standard model the stem and each block's conv2 share a stream
permutation, and aligning them one by one is not defined.

Alignment of the first L layers of several models (study 02): layer by layer, every model's
filters (inputs already permuted by the previous layer) are unit-normalized per whole 3-D
filter and compared by the Euclidean distance of the real part of the 1-D FFT of the
flattened filter. Model 0's filters seed the groups; each further model is matched to the
groups by summed distance to their members, either greedily or by an optimal assignment
(linear_sum_assignment). Greedy walks one side in index order, each taking its nearest free
partner (`ORDERS`): the original code walks the *groups* (group 0 takes its nearest filter,
then group 1 the nearest of the rest, ...); `order="filters"` walks the filters instead, each
joining its nearest free group. The costs are the same, the matchings are not: on
independently trained networks the two orders agree on few filters (docs/02).
The aligned-mean init (`inits.filters`) sets a new model's layer to the mean of each group.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from initlab.metrics.matching_names import METHODS, ORDERS
from initlab.metrics.similarity import kernel_slices
from initlab.models import conv_layers
from initlab.models.resnet import resnet_conv_layers


@dataclass(frozen=True)
class Group:
    """Channels that must be permuted together (module names as in `named_modules`)."""

    producers: tuple[str, ...]  # convs whose output channels are permuted
    norms: tuple[str, ...]  # batch norms on those channels
    consumers: tuple[str, ...]  # convs (input channels) or a Linear (input features)


def permutation_groups(model: nn.Module) -> list[Group]:
    """Every permutation group of a ResNet-18 (`initlab.models.resnet`), in module order."""
    groups: list[Group] = []
    stream = (["conv1"], ["bn1"], [])  # producers, norms, consumers of the current stream
    for stage in ("layer1", "layer2", "layer3", "layer4"):
        for i, block in enumerate(getattr(model, stage)):
            prefix = f"{stage}.{i}"
            stream[2].append(f"{prefix}.conv1")
            groups.append(Group((f"{prefix}.conv1",), (f"{prefix}.bn1",), (f"{prefix}.conv2",)))
            if block.residual and block.downsample is None:  # conv2 adds into the stream
                stream[0].append(f"{prefix}.conv2")
                stream[1].append(f"{prefix}.bn2")
                continue
            if block.residual:  # the shortcut conv reads the old stream, writes the new one
                stream[2].append(f"{prefix}.downsample.0")
            groups.append(Group(*map(tuple, stream)))
            stream = ([f"{prefix}.conv2"], [f"{prefix}.bn2"], [])
            if block.residual:
                stream[0].append(f"{prefix}.downsample.0")
                stream[1].append(f"{prefix}.downsample.1")
    stream[2].append("fc")
    groups.append(Group(*map(tuple, stream)))
    return groups


def group_of(model: nn.Module, conv: str) -> Group:
    return next(g for g in permutation_groups(model) if conv in g.producers)


def alignable(model: nn.Module) -> list[str]:
    """The main conv layers whose output channels can be permuted on their own."""
    alone = {g.producers[0] for g in permutation_groups(model) if len(g.producers) == 1}
    return [name for name, _ in resnet_conv_layers(model) if name in alone]


@torch.no_grad()
def permute_group(model: nn.Module, group: Group, perm: torch.Tensor) -> None:
    """Reorder one group's channels: new channel i is old channel perm[i], everywhere."""
    modules = dict(model.named_modules())
    for name in group.producers:
        conv = modules[name]
        conv.weight.copy_(conv.weight[perm.to(conv.weight.device)])
        if conv.bias is not None:
            conv.bias.copy_(conv.bias[perm.to(conv.bias.device)])
    for name in group.norms:
        norm = modules[name]
        for t in (norm.weight, norm.bias, norm.running_mean, norm.running_var):
            if t is not None:
                t.copy_(t[perm.to(t.device)])
    for name in group.consumers:
        weight = modules[name].weight
        weight.copy_(weight[:, perm.to(weight.device)])


def fft_features(weight: torch.Tensor) -> torch.Tensor:
    """(out, ...) filters -> (out, d): unit-normalized flattened filter, real part of its FFT."""
    flat = weight.detach().cpu().double().flatten(1)
    flat = flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return torch.fft.fft(flat).real


def greedy_match(cost: torch.Tensor, order: str = "filters") -> torch.Tensor:
    """perm with perm[group] = filter for a (groups x filters) cost. `order="groups"` (the
    original): groups in index order, each takes its cheapest free filter; `"filters"`: filters
    in index order, each joins its cheapest free group. Ties go to the lower index."""
    if order not in ORDERS:
        raise ValueError(f"unknown greedy order {order!r}; choose one of {', '.join(ORDERS)}")
    walk = cost if order == "groups" else cost.T  # rows walk, columns are taken
    taken = torch.full((walk.shape[0],), -1, dtype=torch.int64)
    free = torch.ones(walk.shape[1], dtype=torch.bool)
    for row in range(walk.shape[0]):
        pick = int(walk[row].masked_fill(~free, float("inf")).argmin())
        taken[row], free[pick] = pick, False
    return taken if order == "groups" else torch.argsort(taken)


def optimal_match(cost: torch.Tensor) -> torch.Tensor:
    """perm with perm[group] = filter minimizing the total cost (Hungarian algorithm)."""
    from scipy.optimize import linear_sum_assignment  # 0.7 s to import: `initlab list` skips it

    rows, cols = linear_sum_assignment(cost.numpy())
    return torch.as_tensor(cols[np.argsort(rows)], dtype=torch.int64)


def match_layer(weights: list[torch.Tensor], method: str = "greedy",
                order: str = "filters") -> list[torch.Tensor]:
    """One layer of several models: perm[m] with perm[m][group] = model m's filter in that
    group (model 0's filters seed the groups: its perm is the identity). Each further model is
    matched by the summed distance of its filters to every member a group already holds."""
    if method not in METHODS:
        raise ValueError(f"unknown alignment {method!r}; choose one of {', '.join(METHODS)}")
    aligned = [fft_features(weights[0])]
    perms = [torch.arange(len(weights[0]))]
    for weight in weights[1:]:
        mine = fft_features(weight)
        cost = sum(torch.cdist(a, mine) for a in aligned)  # groups x filters
        perm = greedy_match(cost, order) if method == "greedy" else optimal_match(cost)
        perms.append(perm)
        aligned.append(mine[perm])
    return perms


@torch.no_grad()
def align_models(models: list[nn.Module], layers: int, method: str = "greedy",
                 order: str = "filters") -> list[str]:
    """Permute models[1:] in place so their first `layers` conv layers match models[0]'s
    (greedy `order`: see `greedy_match`).

    Returns the aligned layer names. Raises if one of those layers cannot be permuted alone.
    """
    if method not in METHODS:
        raise ValueError(f"unknown alignment {method!r}; choose one of {', '.join(METHODS)}")
    names = [n for n, _ in resnet_conv_layers(models[0])][:layers]
    free = set(alignable(models[0]))
    blocked = [n for n in names if n not in free]
    if blocked:
        raise ValueError(f"cannot align {', '.join(blocked)} alone: they share a residual "
                         f"stream permutation. Alignable layers: {', '.join(alignable(models[0]))}")
    for name in names:
        group = group_of(models[0], name)
        perms = match_layer([m.get_submodule(name).weight for m in models], method, order)
        for model, perm in zip(models[1:], perms[1:]):
            permute_group(model, group, perm)
    return names


def matching(reference: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """Permutation p maximizing sum_i <reference[i], other[p[i]]> (rows are flattened filters)."""
    score = reference.flatten(1).double() @ other.flatten(1).double().T
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(score.numpy(), maximize=True)
    return torch.as_tensor(cols[np.argsort(rows)])


@torch.no_grad()
def permute_outputs(model: nn.Module, conv_name: str, perm: torch.Tensor) -> None:
    """Reorder one conv layer's output channels and every consumer of them.

    The model computes the same function afterwards. Consumers are found in module order:
    a BatchNorm2d right after the conv, then the next Conv2d (its input channels) or, after a
    flatten, the next Linear (its input features, in channel-sized blocks). This covers plain
    feed-forward CNNs; networks with skip connections need their own rule.
    """
    modules = list(model.named_modules())
    index = next(i for i, (n, _) in enumerate(modules) if n == conv_name)
    conv = modules[index][1]
    conv.weight.copy_(conv.weight[perm])
    if conv.bias is not None:
        conv.bias.copy_(conv.bias[perm])
    for _, module in modules[index + 1 :]:
        if isinstance(module, nn.BatchNorm2d):
            for t in (module.weight, module.bias, module.running_mean, module.running_var):
                if t is not None:
                    t.copy_(t[perm])
        elif isinstance(module, nn.Conv2d):
            module.weight.copy_(module.weight[:, perm])
            return
        elif isinstance(module, nn.Linear):
            block = module.in_features // len(perm)
            cols = (perm.view(-1, 1) * block + torch.arange(block)).flatten()
            module.weight.copy_(module.weight[:, cols])
            return


@torch.no_grad()
def align_to(reference: nn.Module, model: nn.Module) -> list[torch.Tensor]:
    """Permute `model`'s conv channels, layer by layer, to match `reference` (weight matching).

    Each layer's inputs are already permuted by the previous step, so filters are compared in
    the reference's channel order. Returns the permutation of every conv layer.
    """
    perms = []
    ref_convs = dict(conv_layers(reference))
    for name, conv in conv_layers(model):
        perm = matching(ref_convs[name].weight.cpu(), conv.weight.cpu())
        permute_outputs(model, name, perm.to(conv.weight.device))
        perms.append(perm)
    return perms


def stacked_kernels(models: list[nn.Module], aligned: bool = False) -> torch.Tensor:
    """(models, kernels, k, k): every model's kernels, optionally aligned to the first model."""
    if aligned:
        models = [models[0]] + [copy.deepcopy(m) for m in models[1:]]
        for m in models[1:]:
            align_to(models[0], m)
    return torch.stack([kernel_slices(m) for m in models])


def greedy_pairs(cross: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pair features greedily by |correlation|: take the largest |c_ij| left, retire row i and
    column j, repeat. Returns (rows, cols, values), the strongest pair first.

    Greedy, as the original did, rather than the optimal assignment: it reads as "each feature's
    best partner still free" and costs one sort.
    """
    n_rows, n_cols = cross.shape
    order = torch.argsort(cross.abs().flatten(), descending=True, stable=True).tolist()
    used_rows, used_cols, pairs = set(), set(), []
    for index in order:
        r, c = divmod(index, n_cols)
        if r in used_rows or c in used_cols:
            continue
        used_rows.add(r)
        used_cols.add(c)
        pairs.append((r, c))
        if len(pairs) == min(n_rows, n_cols):
            break
    rows = torch.tensor([p[0] for p in pairs], dtype=torch.long)
    cols = torch.tensor([p[1] for p in pairs], dtype=torch.long)
    return rows, cols, cross[rows, cols]
