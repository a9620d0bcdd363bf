"""Train K small models of one architecture at once: `fit_many`.

Small CNNs leave a CPU or GPU mostly idle: each step is a few tiny kernels plus Python and
dispatcher overhead. Stacking K models' parameters (torch.func.stack_module_state) turns K tiny
convolutions into one grouped convolution per layer, so the overhead is paid once for K models.
Plain conv/ReLU/max-pool/linear stacks (the studies' small CNNs) run as explicit grouped
convolutions in channels_last (`stacked_forward`); any other architecture runs through
vmap(functional_call), which does the same arithmetic in the default layout.

Equivalence with K separate `fit` calls: each model keeps its own data, batch order and
augmentation draws (its own generator, consumed in the same order as `fit`), and the optimizer
acts on the stacked tensors. Adam and SGD (momentum, weight decay, Nesterov) update every
element independently, so one optimizer over the stack equals K optimizers, and the summed loss
gives each slice exactly its own model's gradient. Results agree with `fit` to float rounding.

Batch norm: vmap cannot update K sets of running statistics in place, and replacing them
(replace_all_batch_norm_modules_) would change the architecture at evaluation time. Models with
batch norm are therefore trained one after another with `fit` (same results, no speed-up), and
`fit_many` says so through `progress.note`.
"""

from __future__ import annotations

import copy
import time

import torch
from torch import nn
from torch.func import functional_call, stack_module_state
from torch.nn import functional as F

from initlab import checkpoints, progress
from initlab.data import ImageSet
from initlab.devices import autocast, pick_device
from initlab.train import (
    Augment,
    History,
    TrainingDiverged,
    _DeviceBatches,
    fit,
    make_optimizer,
    prepare,
)


def has_batch_norm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def fit_many(
    models: list[nn.Module], trains: list[ImageSet], vals: list[ImageSet | None] | None = None,
    *, optimizer: str = "adam", lr: float = 1e-3, epochs: int = 1, batch_size: int = 64,
    augments: list[Augment | None] | None = None, seeds: list[int] | None = None,
    device: str | torch.device = "auto", momentum: float = 0.9, weight_decay: float = 0.0,
    nesterov: bool = False, name: str = "models",
) -> list[History]:
    """Train every `models[k]` on `trains[k]` in place, as `fit` would; one History per model."""
    k = len(models)
    vals = vals or [None] * k
    augments = augments or [None] * k
    seeds = seeds if seeds is not None else list(range(k))
    if not (len(trains) == len(vals) == len(augments) == len(seeds) == k):
        raise ValueError("models, trains, vals, augments and seeds must have one entry per model")
    if has_batch_norm(models[0]) or k == 1:
        progress.note(f"  {name}: batch norm or a single model: training sequentially")
        return [fit(m, t, v, optimizer=optimizer, lr=lr, epochs=epochs, batch_size=batch_size,
                    augment=a, device=device, seed=s, momentum=momentum,
                    weight_decay=weight_decay, nesterov=nesterov, name=f"{name}[{i}]")
                for i, (m, t, v, a, s) in enumerate(zip(models, trains, vals, augments, seeds))]
    if len({len(t) for t in trains}) != 1:
        sizes = [len(t) for t in trains]
        raise ValueError(f"fit_many needs training sets of one size, got {sizes}")
    device = pick_device(device)
    for model in models:
        prepare(model, device).train()
    params, buffers = stack_module_state(models)
    params = {key: value.detach().requires_grad_() for key, value in params.items()}
    opt = make_optimizer(optimizer, params.values(), lr, momentum, weight_decay, nesterov)
    forward = stacked_forward(models[0], k)
    batches = [_DeviceBatches(t, device) for t in trains]
    generators = [torch.Generator().manual_seed(s) for s in seeds]
    histories = [History() for _ in models]
    slot = checkpoints.slot(name)
    first = _resume(checkpoints.load(slot), params, opt, generators, histories)
    start = time.perf_counter()
    steps = -(-len(batches[0]) // batch_size)
    with progress.bar(total=epochs * steps, desc=name, nested=True) as pbar:
        pbar.update((first - 1) * steps)
        for epoch in range(first, epochs + 1):
            losses, accs = _epoch(forward, params, buffers, opt, batches, augments, generators,
                                  batch_size, device, pbar)
            for i, history in enumerate(histories):
                if not torch.isfinite(torch.tensor(losses[i])):
                    raise TrainingDiverged(
                        f"{name}[{i}]: training loss is {losses[i]} at epoch {epoch}")
                history.log(epoch, "train", losses[i], accs[i])
            _write_back(models, params)
            _evaluate_into(models, vals, histories, epoch, device)
            checkpoints.save(slot, dict(
                epoch=epoch, params=params, optimizer=opt.state_dict(),
                generators=[g.get_state() for g in generators], torch_rng=torch.get_rng_state(),
                rows=[h.rows for h in histories]))
    _write_back(models, params)  # also when every epoch came from a checkpoint
    progress.note(f"  {name}: {k} models x {epochs} epochs in {time.perf_counter() - start:.1f} s")
    return histories


def stacked_forward(model: nn.Module, k: int):
    """forward(params, buffers, x) for K stacked copies of `model`, x of shape (K, B, ...).

    A plain `nn.Sequential` of convolutions, ReLUs, max pools, a flatten and linear layers (the
    small studies' CNNs) runs as grouped convolutions over (B, K*C, H, W) in channels_last and
    batched matrix products: the same arithmetic as vmap's batching rules, but the layout is
    ours; channels_last makes the grouped convolution and max pool faster on a CPU (a tiny_cnn
    training step about 1.4x faster than through vmap, measured on 6 models). Any other model
    runs through vmap(functional_call).
    """
    if groupable(model):
        return lambda params, _buffers, x: _grouped(model, k, params, x)
    template = copy.deepcopy(model).to("meta")
    return torch.vmap(lambda p, b, x: functional_call(template, (p, b), (x,)))


def groupable(model: nn.Module) -> bool:
    """Whether `stacked_forward` can run `model` as grouped convolutions: an nn.Sequential of
    zero-padded convs, ReLUs and max pools, then one full flatten, then ReLUs and linears."""
    if not isinstance(model, nn.Sequential):
        return False
    flat = False
    for layer in model.children():
        if isinstance(layer, nn.Flatten):
            ok, flat = not flat and layer.start_dim == 1 and layer.end_dim == -1, True
        elif isinstance(layer, nn.Linear):
            ok = flat
        elif isinstance(layer, nn.Conv2d):
            ok = not flat and layer.padding_mode == "zeros"
        elif isinstance(layer, nn.MaxPool2d):
            ok = not flat and not layer.return_indices
        else:
            ok = isinstance(layer, nn.ReLU)
        if not ok:
            return False
    return flat


def _grouped(model: nn.Sequential, k: int, params: dict[str, torch.Tensor],
             x: torch.Tensor) -> torch.Tensor:
    """The grouped forward of `stacked_forward`: (K, B, C, H, W) -> (K, B, outputs)."""
    h = x.transpose(0, 1).flatten(1, 2).contiguous(memory_format=torch.channels_last)
    for name, layer in model.named_children():
        weight, bias = params.get(f"{name}.weight"), params.get(f"{name}.bias")
        if isinstance(layer, nn.Conv2d):
            h = F.conv2d(h, weight.flatten(0, 1), None if bias is None else bias.flatten(),
                         layer.stride, layer.padding, layer.dilation, k * layer.groups)
        elif isinstance(layer, nn.ReLU):
            h = F.relu(h)
        elif isinstance(layer, nn.MaxPool2d):
            h = F.max_pool2d(h, layer.kernel_size, layer.stride, layer.padding, layer.dilation,
                             layer.ceil_mode)
        elif isinstance(layer, nn.Flatten):  # each model's (C, H, W) in nn.Flatten's order
            h = h.reshape(h.shape[0], k, -1).transpose(0, 1)
        else:  # nn.Linear on (K, B, features)
            h = h @ weight.transpose(1, 2) if bias is None else torch.baddbmm(
                bias.unsqueeze(1), h, weight.transpose(1, 2))
    return h


@torch.no_grad()
def _resume(state, params, opt, generators, histories) -> int:
    """Restore a checkpoint (if any) in place; return the first epoch still to train."""
    if state is None:
        return 1
    for key, value in params.items():
        value.copy_(state["params"][key])
    opt.load_state_dict(state["optimizer"])
    for generator, saved in zip(generators, state["generators"]):
        generator.set_state(saved)
    torch.set_rng_state(state["torch_rng"])
    for history, rows in zip(histories, state["rows"]):
        history.rows[:] = rows
    return state["epoch"] + 1


def _epoch(forward, params, buffers, opt, batches, augments, generators, batch_size, device, pbar):
    """One epoch for all models; returns per-model mean training loss and accuracy."""
    k, n = len(batches), len(batches[0])
    orders = [torch.randperm(n, generator=g).to(device) for g in generators]
    loss_sum = torch.zeros(k, device=device)
    correct = torch.zeros(k, device=device, dtype=torch.long)
    for start in range(0, n, batch_size):
        xs, ys = [], []
        for i in range(k):
            x, y = batches[i].batch(orders[i][start : start + batch_size])
            if augments[i] is not None:
                x = augments[i](x, generators[i])
            xs.append(x)
            ys.append(y)
        x, y = torch.stack(xs), torch.stack(ys)
        with autocast(device):
            logits = forward(params, buffers, x)
        per_model = F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), reduction="none")
        per_model = per_model.view(k, -1).mean(1)
        opt.zero_grad(set_to_none=True)
        per_model.sum().backward()
        opt.step()
        loss_sum += per_model.detach() * y.shape[1]
        correct += (logits.argmax(-1) == y).sum(1)
        pbar.update(1)
    return (loss_sum / n).tolist(), (correct.float() / n).tolist()


@torch.no_grad()
def _write_back(models: list[nn.Module], params: dict[str, torch.Tensor]) -> None:
    """Copy the stacked parameters into the K model objects (the caller's models)."""
    for i, model in enumerate(models):
        for key, value in model.named_parameters():
            value.copy_(params[key][i])


def _evaluate_into(models, vals, histories, epoch, device) -> None:
    from initlab.train import evaluate

    for model, val, history in zip(models, vals, histories):
        if val is not None:
            history.log(epoch, "val", *evaluate(model, val, device))
