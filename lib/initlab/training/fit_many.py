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

Batch norm: vmap cannot update K sets of running statistics in place. ResNet-18 models run
instead as one stacked network (`stacked`: grouped convolutions, batch norm over K x C
channels, which is exactly K independent batch norms) whose weights and running statistics are
written back into the K models. Whether batch-norm models stack is `stack_batch_norm`: by
default on CUDA only (on a CPU the stacked network was measured slower than K sequential fits,
see `bench/paper_throughput.py`); otherwise, and for any other batch-norm architecture, they
train one after another with `fit` (same results, no speed-up), and `fit_many` says so through
`progress.note`.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.func import functional_call, stack_module_state
from torch.nn import functional as F

from initlab.data import ImageSet
from initlab.seeds import derive_seed
from initlab.training import progress, stacked
from initlab.training.fit import fit
from initlab.training.loop import Augment, DeviceBatches, History, Loop, run_epochs
from initlab.training.recipe import Recipe, autocast
from initlab.training.runtime import Runtime, prepare


def has_batch_norm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def fit_many(
    models: list[nn.Module], trains: list[ImageSet], vals: list[ImageSet | None] | None = None,
    *, recipe: Recipe, runtime: Runtime | None = None, seeds: list[int] | None = None,
    augments: list[Augment | None] | None = None, snapshot_epochs: tuple[int, ...] = (),
    name: str = "models", stack_batch_norm: bool | None = None,
) -> list[History]:
    """Train every `models[k]` on `trains[k]` in place, as `fit` would; one History per model.

    `stack_batch_norm`: train batch-norm models as one stacked network (True), one after another
    (False), or None: stacked on CUDA, sequential elsewhere (the faster on each, measured).
    """
    k = len(models)
    runtime = runtime or Runtime()
    vals = vals or [None] * k
    augments = augments or [None] * k
    seeds = seeds if seeds is not None else list(range(k))
    if not (len(trains) == len(vals) == len(augments) == len(seeds) == k):
        raise ValueError("models, trains, vals, augments and seeds must have one entry per model")
    if has_batch_norm(models[0]) or k == 1:
        if k > 1 and _stacks(models[0], runtime, stack_batch_norm):
            _check_sizes(trains)
            return _fit_stacked(models, trains, vals, recipe, runtime, seeds, augments,
                                snapshot_epochs, name)
        progress.note(f"  {name}: {k} model(s) trained one after another (batch norm stacks "
                      "only for ResNet-18, by default on CUDA: see stack_batch_norm)",
                      runtime.progress)
        return [fit(m, t, v, recipe=recipe, runtime=runtime, seed=s, augment=a,
                    snapshot_epochs=snapshot_epochs, name=f"{name}[{i}]")
                for i, (m, t, v, a, s) in enumerate(zip(models, trains, vals, augments, seeds))]
    _check_sizes(trains)
    return _fit_grouped(models, trains, vals, recipe, runtime, seeds, augments, snapshot_epochs,
                        name)


def _fit_grouped(models, trains, vals, recipe, runtime, seeds, augments, snapshot_epochs,
                 name) -> list[History]:
    """`fit_many` without batch norm: stacked parameters through `stacked_forward`."""
    k, device = len(models), runtime.torch_device
    for model in models:
        prepare(model, runtime).train()
    params, buffers = stack_module_state(models)
    params = {key: value.detach().requires_grad_() for key, value in params.items()}
    opt = recipe.make_optimizer(params.values())
    forward = stacked_forward(models[0], k)
    batches = [DeviceBatches(t, device) for t in trains]
    generators = [torch.Generator().manual_seed(s) for s in seeds]

    def train_epoch(pbar) -> tuple[list[float], list[float]]:
        return _epoch(forward, params, buffers, opt, batches, augments, generators, recipe,
                      device, pbar)

    def current_models() -> list[nn.Module]:
        _write_back(models, params)
        return models

    loop = Loop(labels=[f"{name}[{i}]" for i in range(k)],
                vals=[DeviceBatches(v, device, runtime.memory_format) if v is not None else None
                      for v in vals],
                optimizer=opt, generators=generators, train_epoch=train_epoch,
                models=current_models, weights=lambda: params,
                load_weights=lambda saved: _load(params, saved),
                steps=-(-len(batches[0]) // recipe.batch_size),
                seed=derive_seed(*seeds, "global"))
    histories = run_epochs(loop, recipe, runtime, name, snapshot_epochs)
    _write_back(models, params)  # also when every epoch came from a checkpoint
    for model in models:  # callers see the plain layout
        model.to(memory_format=torch.contiguous_format)
    return histories


def _check_sizes(trains: list[ImageSet]) -> None:
    if len({len(t) for t in trains}) != 1:
        sizes = [len(t) for t in trains]
        raise ValueError(f"fit_many needs training sets of one size, got {sizes}")


def _stacks(model: nn.Module, runtime: Runtime, stack_batch_norm: bool | None) -> bool:
    """Whether batch-norm models take the stacked path: the caller's choice, else CUDA only;
    an explicit True for an architecture `stacked` cannot run is an error, not a fallback."""
    if stack_batch_norm and not stacked.stackable(model):
        raise ValueError(f"stack_batch_norm=True, but {type(model).__name__} cannot be stacked "
                         "(ResNet18 of initlab.models only)")
    if stack_batch_norm is None:
        return runtime.torch_device.type == "cuda" and stacked.stackable(model)
    return stack_batch_norm


def _fit_stacked(models, trains, vals, recipe, runtime, seeds, augments, snapshot_epochs,
                 name) -> list[History]:
    """`fit_many` for batch-norm models: one stacked network, written back into `models`."""
    k, device = len(models), runtime.torch_device
    progress.note(f"  {name}: {k} batch-norm models as one stacked network", runtime.progress)
    for model in models:  # where `fit` would leave them; evaluation and snapshots use them
        prepare(model, runtime)
    net = stacked.stack(models)
    call = prepare(net, runtime)
    opt = recipe.make_optimizer(net.parameters())
    batches = [DeviceBatches(t, device) for t in trains]
    generators = [torch.Generator().manual_seed(s) for s in seeds]

    def forward(_params, _buffers, x: torch.Tensor) -> torch.Tensor:
        return stacked.stacked_output(call(stacked.stacked_input(x)), k)

    def train_epoch(pbar) -> tuple[list[float], list[float]]:
        net.train()
        return _epoch(forward, None, None, opt, batches, augments, generators, recipe, device,
                      pbar)

    def current_models() -> list[nn.Module]:
        stacked.write_back(net, models)
        return models

    loop = Loop(labels=[f"{name}[{i}]" for i in range(k)],
                vals=[DeviceBatches(v, device, runtime.memory_format) if v is not None else None
                      for v in vals],
                optimizer=opt, generators=generators, train_epoch=train_epoch,
                models=current_models, weights=net.state_dict, load_weights=net.load_state_dict,
                steps=-(-len(batches[0]) // recipe.batch_size),
                seed=derive_seed(*seeds, "global"))
    histories = run_epochs(loop, recipe, runtime, name, snapshot_epochs)
    stacked.write_back(net, models)  # also when every epoch came from a checkpoint
    for model in models:  # callers see the plain layout
        model.to(memory_format=torch.contiguous_format)
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
def _load(params: dict[str, torch.Tensor], saved: dict[str, torch.Tensor]) -> None:
    for key, value in params.items():
        value.copy_(saved[key])


def _epoch(forward, params, buffers, opt, batches, augments, generators, recipe, device,
           pbar):
    """One epoch for all models; returns per-model mean training loss and accuracy."""
    k, n = len(batches), len(batches[0])
    orders = [torch.randperm(n, generator=g).to(device) for g in generators]
    loss_sum = torch.zeros(k, device=device)
    correct = torch.zeros(k, device=device, dtype=torch.long)
    for start in range(0, n, recipe.batch_size):
        xs, ys = [], []
        for i in range(k):
            x, y = batches[i].batch(orders[i][start : start + recipe.batch_size])
            if augments[i] is not None:
                x = augments[i](x, generators[i])
            xs.append(x)
            ys.append(y)
        x, y = torch.stack(xs), torch.stack(ys)
        with autocast(device, recipe.precision):
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
