"""Data: `ImageSet` (uint8 images held whole, reshaped once), data sets by name, the on-disk
readers, and batched noise and augmentations with per-sample randomness."""

from initlab.data.folders import reorganize_tiny_imagenet_val
from initlab.data.images import ImageSet
from initlab.data.readers import CorruptDataError
from initlab.data.sets import (
    CIFAR100_COARSE_OF_FINE,
    DATASETS,
    FASHION_MNIST_CLASSES,
    IMAGENET_STATS,
    SPLITS,
    DataUnavailableError,
    available,
    download,
    expected_files,
    load,
)

__all__ = [
    "CIFAR100_COARSE_OF_FINE", "DATASETS", "FASHION_MNIST_CLASSES", "IMAGENET_STATS", "SPLITS",
    "CorruptDataError", "DataUnavailableError", "ImageSet", "available", "download",
    "expected_files", "load", "reorganize_tiny_imagenet_val",
]
