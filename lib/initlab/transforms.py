"""Whole-data-set reshaping on uint8 `ImageSet`s, done once before training.

Study 05 trains the same three architectures on MNIST-like data (28x28, one channel) and on
CIFAR-10 (32x32, three channels); the original padded the former to 32x32 and repeated its one
channel three times. That belongs to the data, not the models: every architecture then sees
one input shape, and a checkpoint trained on one data set loads into a model for another.
"""

from __future__ import annotations

import dataclasses

from torch.nn import functional as F

from initlab.data import ImageSet


def to_rgb32(images: ImageSet, size: int = 32) -> ImageSet:
    """`images` as (N, 3, size, size) uint8: zero-padded evenly around, one channel repeated.

    Zero is the background of MNIST-like images, so the padding adds background; the
    normalization stats are kept (repeated per channel), as torchvision's Pad + Normalize did.
    Sets that are already 3 x size x size come back unchanged.
    """
    channels, (height, width) = images.in_channels, images.image_size
    if channels not in (1, 3):
        raise ValueError(f"{images.name}: to_rgb32 needs 1 or 3 channels, got {channels}")
    if height > size or width > size:
        raise ValueError(f"{images.name}: images of {height}x{width} do not fit into "
                         f"{size}x{size}; resize them instead")
    x = images.images
    if (height, width) != (size, size):
        top, left = (size - height) // 2, (size - width) // 2
        x = F.pad(x, (left, size - width - left, top, size - height - top), value=0)
    mean, std = images.mean, images.std
    if channels == 1:
        x = x.expand(-1, 3, -1, -1)
        mean, std = mean * 3, std * 3
    return dataclasses.replace(images, images=x.contiguous(), mean=mean, std=std)
