"""Neural Feature Matrix (NFM) and patch Average Gradient Outer Product (AGOP) of conv layers.

The Neural Feature Ansatz (Radhakrishnan et al.) says a trained layer's NFM, W^T W with W the
filters flattened to (c_out, c_in*k*k), is close to (a power of) the AGOP of the network with
respect to that layer's input patches. Study 03 samples new filters from Gaussians with these
matrices as covariances.

The patch AGOP sums g g^T over images, patch positions and classes, g the gradient of a class
logit with respect to the input patch at one position. The conv output at position p is
W x_p + b, so g = W^T G_p with G_p the gradient with respect to the conv output there, and
AGOP = W^T (sum G G^T) W: one backward pass per class and image chunk, a (c_out x c_out)
accumulator, no unfolded patches. G is taken at the layer's real output, so the bias b is part
of the forward pass that the gradient sees (study 03's original code rebuilt the layer as W x_p
without b, which is right only where b = 0, not for a trained network). `agop_bruteforce`
unfolds the patches, adds b back, and differentiates with respect to them (torch.func); it is
slow and exists to test `agop`.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from initlab.models import conv_layers

LayerRef = str | nn.Conv2d


def flat_filters(layer: nn.Conv2d | torch.Tensor) -> torch.Tensor:
    """The filters as rows: (c_out, c_in * k * k), in float64."""
    weight = layer.weight if isinstance(layer, nn.Conv2d) else layer
    return weight.detach().reshape(weight.shape[0], -1).double()


def nfm(layer: nn.Conv2d | torch.Tensor) -> torch.Tensor:
    """Neural Feature Matrix W^T W of a conv layer (or its weight), (c_in*k*k)^2, float64."""
    w = flat_filters(layer)
    return w.T @ w


def _resolve(model: nn.Module, layers: LayerRef | Sequence[LayerRef] | None
             ) -> tuple[list[tuple[str, nn.Conv2d]], bool]:
    """[(name, conv)] for a name, a module, a list of them, or None (every conv layer);
    and whether a single layer was asked for."""
    convs = conv_layers(model)
    if layers is None:
        return convs, False
    single = isinstance(layers, (str, nn.Conv2d))
    chosen = []
    for ref in ([layers] if single else list(layers)):
        match = [(n, m) for n, m in convs if n == ref or m is ref]
        if not match:
            names = ", ".join(n for n, _ in convs)
            raise ValueError(f"{ref!r} is not a conv layer of the model; conv layers: {names}")
        chosen.append(match[0])
    return chosen, single


def _class_list(model: nn.Module, images: torch.Tensor, classes) -> list[int]:
    if classes is not None:
        return [int(c) for c in classes]
    with torch.no_grad():
        return list(range(model(images[:1]).shape[1]))


def agop(
    model: nn.Module, layer: LayerRef | Sequence[LayerRef] | None, images: torch.Tensor,
    classes: Sequence[int] | None = None, chunk_size: int = 32, keep_bias: bool = True,
) -> torch.Tensor | dict[str, torch.Tensor]:
    """Patch AGOP of one conv layer (a tensor) or of several / all (`None`) layers in one pass
    (a dict name -> tensor), over `images` (normalized float, N x C x H x W) and the logits
    `classes` (default: every output). float64, (c_in*k*k)^2.

    Memory is bounded by `chunk_size` images: one forward per chunk, then one backward per
    class, each giving every chosen layer's output gradient G at once; only sum G G^T
    (c_out x c_out per layer, float64) is kept. The parameters' gradients are never needed,
    so they are switched off for the call: the graph starts at the first chosen layer. The
    final W^T S W, the one step whose cost (2 D^2 c_out) does not shrink with the images,
    runs in the model's own precision (float32 rounding on a covariance estimate from float32
    gradients) and is returned as float64. The model runs in eval mode (no dropout) and is left
    as it was.

    `keep_bias=False` is the original code's AGOP (KULcoder/DSC180 `save_nfm_agop.py`, from
    aradha/convrfm): the measured layer's output is taken without its bias, one layer at a
    time (every other layer keeps its bias), so it takes one pass per layer.
    """
    chosen, single = _resolve(model, layer)
    was_training = model.training
    wanted_grad = [p.requires_grad for p in model.parameters()]
    model.eval()
    model.requires_grad_(False)
    try:
        classes = _class_list(model, images[:1].to(next(model.parameters()).device), classes)
        groups = [chosen] if keep_bias else [[pair] for pair in chosen]
        sums = {}
        for group in groups:
            sums.update(_gradient_sums(model, group, images, classes, chunk_size, keep_bias))
    finally:
        model.train(was_training)
        for p, wanted in zip(model.parameters(), wanted_grad):
            p.requires_grad_(wanted)
    result = {}
    for n, m in chosen:
        w = m.weight.detach().reshape(m.out_channels, -1)
        result[n] = (w.T @ (sums[n].to(w.dtype) @ w)).double().cpu()
    return result[chosen[0][0]] if single else result


def _gradient_sums(model: nn.Module, chosen: list[tuple[str, nn.Conv2d]], images: torch.Tensor,
                   classes: list[int], chunk_size: int, keep_bias: bool
                   ) -> dict[str, torch.Tensor]:
    """sum G G^T per chosen layer, G the gradient of each class logit with respect to the
    layer's output (without the layer's bias where `keep_bias` is False)."""
    device = next(model.parameters()).device
    sums = {n: torch.zeros(m.out_channels, m.out_channels, dtype=torch.float64, device=device)
            for n, m in chosen}
    outputs: dict[str, torch.Tensor] = {}

    def keep(name: str, conv: nn.Conv2d, out: torch.Tensor) -> torch.Tensor:
        # The conv output itself is kept and a copy flows on: an in-place ReLU (VGG's) would
        # otherwise overwrite it, and the gradient would be taken after the ReLU, not before.
        if not keep_bias and conv.bias is not None:
            out = out - conv.bias.view(1, -1, 1, 1)
        if not out.requires_grad:  # the first chosen layer: the graph starts here
            out.requires_grad_()
        outputs[name] = out
        return out.clone()

    hooks = [m.register_forward_hook(lambda m_, _i, out, n=n: keep(n, m_, out))
             for n, m in chosen]
    try:
        for start in range(0, len(images), chunk_size):
            x = images[start:start + chunk_size].to(device)
            with torch.enable_grad():
                logits = model(x)
                tensors = [outputs[n] for n, _ in chosen]
                for i, c in enumerate(classes):
                    grads = torch.autograd.grad(logits[:, c].sum(), tensors,
                                                retain_graph=i < len(classes) - 1)
                    for (n, _), g in zip(chosen, grads):
                        g = g.transpose(0, 1).reshape(g.shape[1], -1)
                        sums[n] += (g @ g.T).double()  # per chunk in the model's precision
            outputs.clear()
    finally:
        for h in hooks:
            h.remove()
    return sums


def agop_bruteforce(
    model: nn.Module, layer: LayerRef, images: torch.Tensor,
    classes: Sequence[int] | None = None,
) -> torch.Tensor:
    """Patch AGOP by the definition, for tests: the layer's input is unfolded into patches,
    the layer's output is recomputed from them (W x_p + b), and torch.func takes the Jacobian of
    every chosen logit with respect to every patch, one image at a time; then sum g g^T.
    """
    _, conv = _resolve(model, [layer])[0][0]
    if conv.groups != 1:
        raise ValueError("agop_bruteforce supports ungrouped convolutions only")
    was_training = model.training
    model.eval()
    classes = _class_list(model, images[:1], classes)
    inputs: list[torch.Tensor] = []
    grab = conv.register_forward_hook(lambda _m, inp, _o: inputs.append(inp[0].detach()))
    with torch.no_grad():
        model(images)
    grab.remove()
    layer_input = inputs[0]
    w = conv.weight.detach().reshape(conv.out_channels, -1)
    total = torch.zeros(w.shape[1], w.shape[1], dtype=torch.float64)
    for i in range(len(images)):
        image = images[i:i + 1]
        x = layer_input[i:i + 1]
        patches = F.unfold(x, conv.kernel_size, conv.dilation, conv.padding, conv.stride)[0]
        out_shape = conv(x).shape

        def logits_from_patches(p: torch.Tensor, image=image, out_shape=out_shape) -> torch.Tensor:
            out = (w @ p).reshape(out_shape)
            if conv.bias is not None:
                out = out + conv.bias.detach().view(1, -1, 1, 1)
            swap = conv.register_forward_hook(lambda _m, _i, _o: out)
            try:
                return model(image)[0, classes]
            finally:
                swap.remove()

        jac = torch.func.jacrev(logits_from_patches)(patches)  # (classes, D, positions)
        jac = jac.detach().double()
        total += torch.einsum("cdp,cep->de", jac, jac)
    model.train(was_training)
    return total


def ansatz_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation of two matrices' entries: cosine of the mean-subtracted matrices."""
    a = a.double().flatten()
    b = b.double().flatten()
    a, b = a - a.mean(), b - b.mean()
    return float((a @ b) / (a.norm() * b.norm()).clamp_min(1e-300))


def symmetric(matrix: torch.Tensor) -> torch.Tensor:
    return (matrix + matrix.T) / 2


def matrix_sqrt(matrix: torch.Tensor) -> torch.Tensor:
    """Principal square root of a symmetric positive semi-definite matrix (negative eigenvalues,
    rounding noise, are clipped to zero)."""
    values, vectors = torch.linalg.eigh(symmetric(matrix.double()))
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.T


def make_positive_definite(matrix: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Symmetrize, then, if the smallest eigenvalue is not positive, shift the spectrum by
    |smallest eigenvalue| + eps (the original recipe). The shift is relative to the trace:
    the matrix is scaled to unit trace first and scaled back after, so `eps` means the same for
    an NFM of entries near 1 and an AGOP of entries near 1e-9."""
    m = symmetric(matrix.double())
    scale = m.trace()
    if not torch.isfinite(scale) or scale <= 0:
        raise ValueError(f"need a matrix with positive trace, got trace {float(scale)}")
    m = m / scale
    smallest = torch.linalg.eigvalsh(m)[0]
    if smallest < eps:  # singular, indefinite, or too close to either for a Cholesky factor
        m = m + (smallest.abs() + eps) * torch.eye(len(m), dtype=m.dtype)
    return m * scale


def shift_raw_spectrum(matrix: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """The original code's positive-definite fix (`transform_matrix` in KULcoder/DSC180): where
    the symmetrized matrix's smallest eigenvalue is <= 0, add |smallest| + `eps` to every
    eigenvalue of the matrix as it is, whatever its scale (an AGOP's entries can be ~1e-9, and
    then `eps` outweighs the matrix). `make_positive_definite` is the scale-free version."""
    m = symmetric(matrix.double())
    smallest = torch.linalg.eigvalsh(m)[0]
    if smallest <= 0:
        m = m + (smallest.abs() + eps) * torch.eye(len(m), dtype=m.dtype)
    return m
