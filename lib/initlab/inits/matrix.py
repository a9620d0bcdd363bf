"""Initializers that draw conv filters from a Gaussian shaped by a trained network (study 03).

For each conv layer a matrix M of size (c_in*k*k)^2 is taken from a source network, the layer's
NFM (W^T W) or the square root of its patch AGOP, made positive definite, scaled, and the
layer's c_out filters are drawn i.i.d. from N(0, Sigma):
- `nfm`, `agop`: Sigma = M / tr(M), so the filters' squared norm is 1 on average;
- `kaiming_nfm`, `kaiming_agop`: Sigma = M / tr(M) * 2 * D / fan_in (D = c_in*k*k = fan_in), so
  the per-weight variance averaged over a filter's D weights is Kaiming's 2 / fan_in.
Two options select the original code's recipe instead (KULcoder/DSC180,
`src/model/init_weights.py`), which study 03's `as_run` uses:
- `kaiming_scale="original"`: Sigma = M * sqrt(2) / sqrt(fan_in), M the raw matrix (for the AGOP
  also divided by 100): a standard deviation times the covariance, so neither the weights'
  variance nor their norm is Kaiming's; it depends on the source matrix's trace.
- `pd_shift="raw"`: the shift |smallest eigenvalue| + 1e-6 is added to the raw matrix (where
  the smallest eigenvalue is <= 0), so 1e-6 weighs differently on an NFM (entries near 1) and
  an AGOP (entries near 1e-9); "unit_trace" (default) shifts the matrix scaled to unit trace.
Conv biases are set to zero; linear layers are left alone (`vgg_style` sets them as VGG does).
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch
from torch import nn

from initlab.inits.names import KAIMING_SCALES, METHODS, PD_SHIFTS
from initlab.inits.registry import initialize, register
from initlab.metrics import agop as agop_lib
from initlab.models import conv_layers
from initlab.seeds import derive_seed

Matrices = Sequence[torch.Tensor] | Mapping[str, torch.Tensor]
KINDS = ("nfm", "agop")
SCALES = ("trace", "kaiming")
ORIGINAL_AGOP_DIVISOR = 100.0  # the original's `agop /= 100` ("agop scale is different")


def covariance(matrix: torch.Tensor, kind: str, scale: str, fan_in: int, *,
               kaiming_scale: str = "variance", pd_shift: str = "unit_trace") -> torch.Tensor:
    """Sigma for one layer from its raw NFM or AGOP (`kind`): the AGOP's square root is taken
    (the ansatz relates the NFM to AGOP^(1/2)), then the positive-definite fix and `scale`
    (`kaiming_scale` and `pd_shift`: see the module's docstring)."""
    if kind not in KINDS or scale not in SCALES:
        raise ValueError(f"kind must be one of {KINDS} and scale one of {SCALES}, got "
                         f"{kind!r}, {scale!r}")
    if kaiming_scale not in KAIMING_SCALES or pd_shift not in PD_SHIFTS:
        raise ValueError(f"kaiming_scale must be one of {KAIMING_SCALES} and pd_shift one of "
                         f"{PD_SHIFTS}, got {kaiming_scale!r}, {pd_shift!r}")
    m = agop_lib.matrix_sqrt(matrix) if kind == "agop" else matrix.double()
    m = (agop_lib.make_positive_definite(m) if pd_shift == "unit_trace"
         else agop_lib.shift_raw_spectrum(m))
    if scale == "kaiming" and kaiming_scale == "original":
        divisor = ORIGINAL_AGOP_DIVISOR if kind == "agop" else 1.0
        return m / divisor * (math.sqrt(2.0) / math.sqrt(fan_in))
    total = 1.0 if scale == "trace" else 2.0 * len(m) / fan_in
    return m / m.trace() * total


def draw_filters(sigma: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """`count` i.i.d. rows from N(0, sigma), float64: z L^T with L the Cholesky factor."""
    chol = torch.linalg.cholesky(sigma.double())
    z = torch.randn(count, len(sigma), generator=generator, dtype=torch.float64)
    return z @ chol.T


def _per_layer(model: nn.Module, matrices: Matrices) -> list[tuple[nn.Conv2d, torch.Tensor]]:
    """Pair each conv layer with its matrix (by position for a list, by name for a dict) and
    check that sizes fit: the source and target layers need the same c_in * k * k."""
    convs = conv_layers(model)
    if isinstance(matrices, Mapping):
        missing = [n for n, _ in convs if n not in matrices]
        if missing:
            raise ValueError(f"no matrix for conv layers {missing}; given: {sorted(matrices)}")
        matrices = [matrices[n] for n, _ in convs]
    if len(matrices) != len(convs):
        raise ValueError(f"the model has {len(convs)} conv layers but {len(matrices)} matrices "
                         "were given (source and target must have the same architecture)")
    pairs = []
    for (name, conv), m in zip(convs, matrices):
        size = conv.weight[0].numel()
        if tuple(m.shape) != (size, size):
            raise ValueError(
                f"{name}: needs a {size}x{size} matrix (c_in*k*k = {size}), got "
                f"{tuple(m.shape)}: the source must have the target's width and input channels")
        pairs.append((conv, m))
    return pairs


def source_matrices(kind: str, source: nn.Module, images: torch.Tensor | None = None,
                    classes: Sequence[int] | None = None, chunk_size: int = 32
                    ) -> list[torch.Tensor]:
    """Every conv layer's raw NFM, or AGOP over `images`, of a source network, in layer order."""
    if kind == "nfm":
        return [agop_lib.nfm(conv) for _, conv in conv_layers(source)]
    if images is None:
        raise ValueError("agop initialization from a source model needs `images`")
    found = agop_lib.agop(source, None, images, classes=classes, chunk_size=chunk_size)
    return list(found.values())


@torch.no_grad()
def matrix_init(
    model: nn.Module, kind: str, scale: str, *, source: nn.Module | None = None,
    matrices: Matrices | None = None, images: torch.Tensor | None = None,
    classes: Sequence[int] | None = None, seed: int | None = None,
    kaiming_scale: str = "variance", pd_shift: str = "unit_trace",
) -> nn.Module:
    """Draw every conv layer's filters from N(0, Sigma(M)); zero the conv biases.

    M comes from `matrices` (raw NFMs or raw AGOPs, in conv-layer order or by layer name, e.g.
    saved by study 03's source run) or is computed from `source` (an AGOP also needs `images`).
    `kaiming_scale` and `pd_shift` select the original code's recipe (`covariance`).
    """
    if (source is None) == (matrices is None):
        raise ValueError("give exactly one of `source` (a trained model) or `matrices`")
    if matrices is None:
        with torch.enable_grad():
            matrices = source_matrices(kind, source, images, classes)
    generator = torch.Generator().manual_seed(0 if seed is None else seed)
    for conv, m in _per_layer(model, matrices):
        fan_in = conv.weight[0].numel()
        sigma = covariance(m, kind, scale, fan_in, kaiming_scale=kaiming_scale,
                           pd_shift=pd_shift)
        filters = draw_filters(sigma, conv.out_channels, generator)
        conv.weight.copy_(filters.reshape(conv.weight.shape).to(conv.weight))
        if conv.bias is not None:
            conv.bias.zero_()
    return model


def _variant(kind: str, scale: str):
    def init(model: nn.Module, **options) -> nn.Module:
        return matrix_init(model, kind, scale, **options)

    init.__doc__ = f"Filters ~ N(0, Sigma), Sigma from the {kind.upper()}, {scale} scaling."
    return init


register("nfm")(_variant("nfm", "trace"))
register("agop")(_variant("agop", "trace"))
register("kaiming_nfm")(_variant("nfm", "kaiming"))
register("kaiming_agop")(_variant("agop", "kaiming"))
MATRIX_METHODS = METHODS["matrix"]  # the four registered above


@torch.no_grad()
def vgg_linear(model: nn.Module, std: float = 0.01, seed: int = 0) -> nn.Module:
    """VGG's own rule for the head (torchvision, Simonyan & Zisserman): linear weights
    N(0, std^2), every bias (conv and linear) zero. Conv weights are left alone."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.Linear):
            w = torch.randn(module.weight.shape, generator=generator) * std
            module.weight.copy_(w.to(module.weight))
        if isinstance(module, (nn.Linear, nn.Conv2d)) and module.bias is not None:
            module.bias.zero_()
    return model


def vgg_style(model: nn.Module, method: str, seed: int = 0, linear_std: float = 0.01,
              **options) -> nn.Module:
    """`method` for the conv filters, VGG's N(0, linear_std^2) for the linear layers, zero biases.

    The linear draw depends on `seed` only, not on the method, so every method of one run
    starts from the same head (a paired comparison of the conv initializations).
    """
    initialize(model, method, seed=derive_seed(seed, "conv", method), **options)
    return vgg_linear(model, linear_std, seed=derive_seed(seed, "linear"))
