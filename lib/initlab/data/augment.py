"""Batched training augmentations with per-sample randomness (horizontal flip, shear and zoom)
and `compose`, which chains noises and augmentations on one generator."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from initlab.data.noise import Noise
from initlab.data.warp import uniform, warp, work_dtype


# --------------------------------------------------------------------------- flips
def hflip(x: Tensor, generator: torch.Generator, p: float = 0.5) -> Tensor:
    """Flip each image left-right with probability ``p`` (``v2.RandomHorizontalFlip``)."""
    flip = (torch.rand(x.shape[0], generator=generator) < p).to(x.device)
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


# --------------------------------------------------------------------------- shear and zoom
def _affine_by(x: Tensor, shear: Tensor, scale: Tensor, fill: float | None,
               interpolation: str) -> Tensor:
    """Shear each sample along x by ``shear[i]`` degrees and zoom it by ``scale[i]`` about
    the centre, as ``torchvision.transforms.v2.functional.affine(angle=0, shear=[s, 0])``.

    torchvision's inverse matrix in centred pixel units is [[1, tan(s)], [0, 1]] / scale;
    the off-diagonal term is rescaled to affine_grid's per-axis normalized units.
    ``fill=None`` replicates the border pixels instead of filling.
    """
    n, c, h, w = x.shape
    if n == 0:
        return x.clone()
    inv = 1.0 / scale.to(torch.float64)
    theta = torch.zeros(n, 2, 3, dtype=torch.float64)
    theta[:, 0, 0], theta[:, 1, 1] = inv, inv
    theta[:, 0, 1] = torch.tan(torch.deg2rad(shear.to(torch.float64))) * inv * h / w
    theta = theta.to(device=x.device, dtype=work_dtype(x))
    grid = F.affine_grid(theta, [n, c, h, w], align_corners=False)
    if fill is not None:
        return warp(x, grid, fill, interpolation)
    out = F.grid_sample(x.to(grid.dtype), grid, mode=interpolation, padding_mode="border",
                        align_corners=False)
    return out.to(x.dtype)


def affine(
    x: Tensor,
    generator: torch.Generator,
    shear: float = 10.0,
    scale: tuple[float, float] = (0.8, 1.2),
    fill: float | None = None,
    *,
    interpolation: str = "bilinear",
) -> Tensor:
    """Shear each image along x by an angle uniform in [-shear, shear] degrees and zoom it by a
    factor uniform in ``scale``, like ``v2.RandomAffine(degrees=0, shear=shear, scale=scale)``:
    the transfer-learning augmentation of study 04. ``fill=None`` (default) repeats the edge
    pixels, as Keras' ``fill_mode="nearest"`` of the original recipe does, so a zoomed-out
    image gets no artificial frame; a number fills with that (normalized) value instead."""
    shears = uniform((x.shape[0],), -shear, shear, generator)
    scales = uniform((x.shape[0],), scale[0], scale[1], generator)
    return _affine_by(x, shears, scales, fill, interpolation)


def compose(*fns: Noise) -> Noise:
    """Chain noises left to right, all drawing from the same generator in turn."""

    def composed(x: Tensor, generator: torch.Generator) -> Tensor:
        for fn in fns:
            x = fn(x, generator)
        return x

    return composed
