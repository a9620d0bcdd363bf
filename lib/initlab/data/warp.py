"""Sampling helpers shared by the batched noises and augmentations: uniform draws on the CPU
generator, grid warps with a fill value, separable Gaussian blur with reflect padding."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def work_dtype(x: Tensor) -> torch.dtype:
    """Float type for grids and kernels: float64 stays float64, everything else is
    computed in float32 (grid_sample and friends lack half support on some devices)."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def uniform(shape: tuple[int, ...], low: float, high: float, g: torch.Generator) -> Tensor:
    """U(low, high) on the CPU, same formula as ``Tensor.uniform_`` used by torchvision."""
    return torch.rand(shape, generator=g) * (high - low) + low


def warp(x: Tensor, grid: Tensor, fill: float, mode: str) -> Tensor:
    """Sample ``x`` at ``grid`` (normalized, align_corners=False), out-of-image = ``fill``.

    Sampling ``x - fill`` with zero padding and adding ``fill`` back is the exact
    interpolation of the image extended by ``fill``, in one grid_sample. It equals
    torchvision for nearest and for bilinear pixels sampled fully inside or outside.
    On bilinear pixels sampled partly outside, torchvision computes
    ``mask * zero_padded_sample + (1 - mask) * fill``, weighting the in-image part by
    the mask twice; that leaves a faint rim (up to +0.25 above a -1 background) which
    we deliberately do not reproduce: a fill-coloured image stays exactly fill here.
    """
    xw = x.to(grid.dtype) - fill
    out = F.grid_sample(xw, grid, mode=mode, padding_mode="zeros", align_corners=False)
    return (out + fill).to(x.dtype)


def gaussian_kernel1d(size: int, sigma: Tensor, dtype: torch.dtype) -> Tensor:
    """Per-sample 1-D Gaussian kernels (len(sigma), size), torchvision's exact formula."""
    lim = (size - 1) / (2.0 * math.sqrt(2.0))
    t = torch.linspace(-lim, lim, steps=size, dtype=dtype, device=sigma.device)
    return torch.softmax(-((t[None, :] / sigma[:, None].to(dtype)) ** 2), dim=1)


def reflect_conv_matrix(kernel: Tensor, size: int) -> Tensor:
    """Matrices (N, size, size) equal to a 1-D correlation with ``kernel`` (N, K) under
    reflect padding of K // 2, so a blur becomes a batched matmul (fast everywhere,
    one kernel per sample for free, and no N*C-group convolution)."""
    k = kernel.shape[1]
    if k // 2 >= size:
        raise ValueError(f"reflect padding {k // 2} needs an image side > {k // 2}, got {size}")
    idx = torch.arange(size, device=kernel.device)[:, None] + torch.arange(k, device=kernel.device)
    idx = (idx - k // 2).abs()  # reflect at the start
    idx = torch.where(idx > size - 1, 2 * (size - 1) - idx, idx)  # reflect at the end
    n = kernel.shape[0]
    mat = torch.zeros(n, size, size, dtype=kernel.dtype, device=kernel.device)
    return mat.scatter_add_(2, idx.expand(n, size, k), kernel[:, None, :].expand(n, size, k))


def separable_blur(x: Tensor, kernel: Tensor) -> Tensor:
    """Blur each sample of ``x`` (N, C, H, W) with its kernel ``kernel`` (N or 1, K)
    along H and W, with reflect padding like torchvision's ``gaussian_blur``.

    The Gaussian 2-D kernel is an outer product and reflect padding acts per axis, so
    ``rows @ x @ cols^T`` equals torchvision's single 2-D convolution up to rounding.
    """
    rows = reflect_conv_matrix(kernel, x.shape[-2])[:, None]
    cols = reflect_conv_matrix(kernel, x.shape[-1])[:, None]
    with torch.autocast(x.device.type, enabled=False):  # keep the matmuls out of bf16
        return rows @ x @ cols.transpose(-1, -2)


def identity_grid(n: int, h: int, w: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Pixel centres in normalized coordinates (align_corners=False), shape (N, H, W, 2)."""
    xs = (2 * torch.arange(w, dtype=dtype, device=device) + 1) / w - 1
    ys = (2 * torch.arange(h, dtype=dtype, device=device) + 1) / h - 1
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy], dim=-1).expand(n, h, w, 2)
