"""Batched image corruptions with per-sample randomness.

Training many small CNNs under corrupted inputs is dominated by data augmentation
cost if each image goes through ``torchvision.transforms.v2`` one at a time. The
functions here corrupt a whole batch ``x`` of shape (N, C, H, W) with batched
tensor ops (one sampling grid or one kernel per sample, never a Python loop over
samples) while reproducing the semantics of the torchvision transforms the study
names.

Every noise has the signature ``fn(x, generator) -> Tensor``. ``generator`` is a
CPU ``torch.Generator``: all random numbers are drawn on the CPU with it and then
moved to ``x.device``, so one seed gives the same corruption on CPU, CUDA and MPS
(up to floating point rounding of the deterministic part). Inputs are assumed
normalized; for the MNIST study pixels lie in [-1, 1] and -1 is the background,
hence the default ``fill=-1.0`` of the study's noises.
"""


from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from initlab.data.corruptions import CORRUPTIONS, NOISE_NAMES
from initlab.data.warp import (
    gaussian_kernel1d,
    identity_grid,
    separable_blur,
    uniform,
    warp,
    work_dtype,
)

Noise = Callable[[Tensor, torch.Generator], Tensor]


# --------------------------------------------------------------------------- rotation
def _rotate_by(x: Tensor, degrees: Tensor, fill: float, interpolation: str) -> Tensor:
    """Rotate each sample counter-clockwise by ``degrees[i]`` about the image centre,
    exactly as ``torchvision.transforms.v2.functional.rotate`` (expand=False)."""
    n, c, h, w = x.shape
    if n == 0:  # affine_grid rejects empty batches
        return x.clone()
    t = torch.deg2rad(degrees.to(torch.float64))
    cos, sin = torch.cos(t), torch.sin(t)
    # torchvision's inverse matrix is [[cos, -sin], [sin, cos]] in pixel units about the
    # centre; rescale off-diagonal terms to affine_grid's per-axis normalized units.
    theta = torch.zeros(n, 2, 3, dtype=torch.float64)
    theta[:, 0, 0], theta[:, 0, 1] = cos, -sin * h / w
    theta[:, 1, 0], theta[:, 1, 1] = sin * w / h, cos
    theta = theta.to(device=x.device, dtype=work_dtype(x))
    grid = F.affine_grid(theta, [n, c, h, w], align_corners=False)
    return warp(x, grid, fill, interpolation)


def rotate(x: Tensor, generator: torch.Generator, max_degrees: float = 15.0, fill: float = 0.0,
           *, interpolation: str = "nearest") -> Tensor:
    """Rotate each image by an angle uniform in [-max_degrees, max_degrees] about its
    centre, like ``v2.RandomRotation(max_degrees, fill=fill)``; nearest interpolation by
    default because that is torchvision's default ("bilinear" is accepted)."""
    degrees = uniform((x.shape[0],), -max_degrees, max_degrees, generator)
    return _rotate_by(x, degrees, fill, interpolation)


def rotation(
    x: Tensor, generator: torch.Generator, *, degrees: tuple[float, float] = (-30.0, 30.0),
    fill: float = -1.0, interpolation: str = "nearest"
) -> Tensor:
    """Study noise: ``v2.RandomRotation(degrees, fill=fill)``, an angle uniform in
    [degrees[0], degrees[1]] (nearest interpolation); by default (-30, 30) and fill -1."""
    angles = uniform((x.shape[0],), degrees[0], degrees[1], generator)
    return _rotate_by(x, angles, fill, interpolation)


# --------------------------------------------------------------------------- perspective
def _perspective_endpoints(
    n: int, h: int, w: int, distortion_scale: float, g: torch.Generator
) -> Tensor:
    """Corner destinations (N, 4, 2) as ``v2.RandomPerspective.make_params`` draws them:
    each corner moves inward by an integer offset in [0, bound) per axis."""
    bh = int(distortion_scale * (h // 2)) + 1
    bw = int(distortion_scale * (w // 2)) + 1
    lo_x = torch.tensor([0, w - bw, w - bw, 0])  # top-left, top-right, bottom-right, bottom-left
    lo_y = torch.tensor([0, 0, h - bh, h - bh])
    ex = lo_x + torch.randint(0, bw, (n, 4), generator=g)
    ey = lo_y + torch.randint(0, bh, (n, 4), generator=g)
    return torch.stack([ex, ey], dim=-1)


def _perspective_coeffs(endpoints: Tensor, h: int, w: int) -> Tensor:
    """Homography coefficients (N, 8) mapping output pixels (endpoints) to input pixels
    (image corners): torchvision's ``_get_perspective_coeffs`` solved for all samples at
    once in float64, then rounded to float32 as torchvision does."""
    start = torch.tensor([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=torch.float64)
    px, py = endpoints[..., 0].double(), endpoints[..., 1].double()
    sx, sy = start[:, 0], start[:, 1]
    one, zero = torch.ones_like(px), torch.zeros_like(px)
    row_x = torch.stack([px, py, one, zero, zero, zero, -sx * px, -sx * py], dim=-1)
    row_y = torch.stack([zero, zero, zero, px, py, one, -sy * px, -sy * py], dim=-1)
    a = torch.stack([row_x, row_y], dim=2).reshape(-1, 8, 8)
    b = start.reshape(8).expand(a.shape[0], 8)
    return torch.linalg.solve(a, b).to(torch.float32)


def _perspective_warp(x: Tensor, coeffs: Tensor, fill: float, interpolation: str) -> Tensor:
    """Warp with per-sample homographies the way torchvision's ``_perspective_grid`` does
    (coefficients applied to pixel-centre coordinates i + 0.5)."""
    h, w = x.shape[-2:]
    dt = work_dtype(x)
    c = coeffs.to(device=x.device, dtype=dt)[:, :, None, None]
    gx = (torch.arange(w, dtype=dt, device=x.device) + 0.5)[None, None, :]
    gy = (torch.arange(h, dtype=dt, device=x.device) + 0.5)[None, :, None]
    den = c[:, 6] * gx + c[:, 7] * gy + 1
    u = (c[:, 0] * gx + c[:, 1] * gy + c[:, 2]) / den / (0.5 * w) - 1
    v = (c[:, 3] * gx + c[:, 4] * gy + c[:, 5]) / den / (0.5 * h) - 1
    grid = torch.stack([u, v], dim=-1)
    # A pixel on the homography's horizon (den == 0) maps to infinity, which grid_sample turns
    # into NaN; it lies outside the source image, so it gets the fill value.
    grid = torch.where(torch.isfinite(grid), grid, torch.full_like(grid, 2.0))
    return warp(x, grid, fill, interpolation)


def perspective(
    x: Tensor,
    generator: torch.Generator,
    *,
    distortion_scale: float = 0.6,
    fill: float = -1.0,
    interpolation: str = "bilinear",
) -> Tensor:
    """Study noise: ``v2.RandomPerspective(distortion_scale=0.6, p=1.0, fill=-1)``
    (bilinear, torchvision's default for perspective)."""
    _, _, h, w = x.shape
    ends = _perspective_endpoints(x.shape[0], h, w, distortion_scale, generator)
    return _perspective_warp(x, _perspective_coeffs(ends, h, w), fill, interpolation)


# --------------------------------------------------------------------------- blur
def _blur_with_sigma(x: Tensor, sigma: Tensor, kernel_size: int) -> Tensor:
    """Gaussian blur of sample i with standard deviation ``sigma[i]`` (both axes)."""
    dt = work_dtype(x)
    kernel = gaussian_kernel1d(kernel_size, sigma.to(x.device), dt)
    return separable_blur(x.to(dt), kernel).to(x.dtype)


def blur(
    x: Tensor,
    generator: torch.Generator,
    *,
    kernel_size: int = 5,
    sigma: tuple[float, float] = (1.0, 5.0),
) -> Tensor:
    """Study noise: ``v2.GaussianBlur(kernel_size=5, sigma=(1.0, 5.0))``: one sigma per
    image, uniform in the range, same sigma for both axes, reflect padding."""
    if kernel_size % 2 == 0 or kernel_size < 1:
        raise ValueError(f"kernel_size must be odd and positive, got {kernel_size}")
    s = uniform((x.shape[0],), sigma[0], sigma[1], generator)
    return _blur_with_sigma(x, s, kernel_size)


# --------------------------------------------------------------------------- gaussian
def gaussian(x: Tensor, generator: torch.Generator, *, std: float = 1.0) -> Tensor:
    """Study noise: additive N(0, std^2) per pixel, no clipping (``v2.GaussianNoise``
    with ``sigma=1, clip=False``); noise is drawn in float32 on the CPU."""
    noise = torch.randn(tuple(x.shape), generator=generator)
    return x + std * noise.to(device=x.device, dtype=x.dtype)


# --------------------------------------------------------------------------- erasing
def erasing(
    x: Tensor,
    generator: torch.Generator,
    *,
    p: float = 0.5,
    fill: float = -1.0,
    scale: tuple[float, float] = (0.02, 0.33),
    ratio: tuple[float, float] = (0.3, 3.3),
    attempts: int = 10,
) -> Tensor:
    """Study noise: ``v2.RandomErasing(p=0.5, value=-1)``.

    With probability ``p`` an image gets one axis-aligned rectangle set to ``fill``.
    torchvision tries up to 10 (area, log-aspect) draws until the box fits strictly
    inside the image; here all ``attempts`` candidates are drawn at once and the first
    fitting one is used, images with none left unchanged, which is the same law.
    """
    n, _, h, w = x.shape
    area = h * w
    hit = torch.rand(n, generator=generator) < p
    s = uniform((n, attempts), scale[0], scale[1], generator).double()
    log_r = uniform((n, attempts), math.log(ratio[0]), math.log(ratio[1]), generator)
    r = torch.exp(log_r).double()
    eh = torch.round(torch.sqrt(area * s * r)).long()  # round half to even, like round()
    ew = torch.round(torch.sqrt(area * s / r)).long()
    fits = (eh < h) & (ew < w)
    first = fits.to(torch.uint8).argmax(dim=1, keepdim=True)  # first fitting candidate
    hit &= fits.any(dim=1)
    bh, bw = eh.gather(1, first).squeeze(1), ew.gather(1, first).squeeze(1)
    u = torch.rand((n, 2), generator=generator)
    top = torch.minimum((u[:, 0] * (h - bh + 1)).long(), h - bh)
    left = torch.minimum((u[:, 1] * (w - bw + 1)).long(), w - bw)
    rows, cols = torch.arange(h)[None, :], torch.arange(w)[None, :]
    in_rows = (rows >= top[:, None]) & (rows < (top + bh)[:, None])
    in_cols = (cols >= left[:, None]) & (cols < (left + bw)[:, None])
    mask = in_rows[:, :, None] & in_cols[:, None, :] & hit[:, None, None]
    return x.masked_fill(mask[:, None].to(x.device), fill)


# --------------------------------------------------------------------------- elastic
def _elastic_displacement(
    x: Tensor, generator: torch.Generator, alpha: float, sigma: float
) -> Tensor:
    """Per-sample displacement field (N, H, W, 2) in normalized grid units, built like
    ``v2.ElasticTransform.make_params``: uniform(-1, 1) noise, Gaussian blur with a
    ``int(8 * sigma + 1)`` (made odd) kernel and reflect padding, then scaled by
    ``alpha / W`` for x and ``alpha / H`` for y."""
    n, _, h, w = x.shape
    dt = work_dtype(x)
    field = (torch.rand((n, 2, h, w), generator=generator) * 2 - 1).to(x.device, dt)
    if sigma > 0:
        k = int(8 * sigma + 1)
        k += 1 - k % 2
        kernel = gaussian_kernel1d(k, torch.full((1,), sigma, device=x.device), dt)
        field = separable_blur(field, kernel)
    scale = torch.tensor([alpha / w, alpha / h], dtype=dt, device=x.device)
    return field.permute(0, 2, 3, 1) * scale


def _elastic_warp(x: Tensor, displacement: Tensor, fill: float, interpolation: str) -> Tensor:
    """Sample at identity grid + displacement, as torchvision's ``elastic_image``."""
    n, _, h, w = x.shape
    grid = identity_grid(n, h, w, displacement.dtype, x.device) + displacement
    return warp(x, grid, fill, interpolation)


def elastic(
    x: Tensor,
    generator: torch.Generator,
    *,
    alpha: float = 125.0,
    sigma: float = 5.0,
    fill: float = -1.0,
    interpolation: str = "bilinear",
) -> Tensor:
    """Study noise: ``v2.ElasticTransform(alpha=125.0, sigma=5.0, fill=-1)`` (bilinear,
    torchvision's default). The smoothing kernel (41 taps for sigma 5) uses reflect
    padding, so H and W must exceed half the kernel size, as in torchvision."""
    disp = _elastic_displacement(x, generator, alpha, sigma)
    return _elastic_warp(x, disp, fill, interpolation)


# --------------------------------------------------------------------------- registry
# each of the study's noises is the function of its name above
NOISES: dict[str, Noise] = {name: globals()[name] for name in NOISE_NAMES}
"""The study's six noises, in the study's subset order (`corruptions.NOISE_NAMES`)."""


def apply(name: str, x: Tensor, generator: torch.Generator, corruption: str = "strong") -> Tensor:
    """Apply the study noise called ``name`` with the parameters of set ``corruption``
    (`CORRUPTIONS`); unknown names list the valid choices."""
    try:
        fn = NOISES[name]
    except KeyError:
        raise ValueError(f"unknown noise {name!r}; choose from {', '.join(NOISES)}") from None
    if corruption not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {corruption!r}; choose from "
                         f"{', '.join(CORRUPTIONS)}")
    return fn(x, generator, **CORRUPTIONS[corruption][name])
