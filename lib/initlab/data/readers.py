"""Readers for the on-disk formats the image data sets ship in: IDX (MNIST), CIFAR pickles,
SVHN .mat files (image folders and Tiny ImageNet: `folders`).

Each reader takes file paths and returns uint8 image tensors (N, C, H, W) and int64 labels;
where the files live and what a data set is called is decided in `initlab.data`. These are our
own readers rather than torchvision's dataset classes because those verify md5 sums (so they
refuse the tiny files the tests build) and because an error that names the file it choked on
turns a half-finished download into a one-line fix.
"""

from __future__ import annotations

import gzip
import math
import pickle
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

# IDX type codes (http://yann.lecun.com/exdb/mnist/): data are big-endian.
_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class CorruptDataError(ValueError):
    """A data file exists but cannot be parsed: a truncated download or the wrong file."""


def _as_tensors(images: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    images = np.ascontiguousarray(images, dtype=np.uint8)
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    return torch.from_numpy(images), torch.from_numpy(labels)


# --------------------------------------------------------------------------- IDX (MNIST)


def read_idx(path: str | Path) -> np.ndarray:
    """One IDX file, raw or `.gz`, as a native-endian array; checks magic number and length."""
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                raw = handle.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        raise CorruptDataError(f"cannot read IDX file {path}: {err}") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        magic = raw[:4].hex() or "none"
        raise CorruptDataError(f"{path} is not an IDX file (magic number {magic})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise CorruptDataError(f"IDX file {path} is truncated inside its header")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = header + math.prod(dims) * dtype.itemsize
    if len(raw) != expected:
        raise CorruptDataError(
            f"IDX file {path} holds {len(raw)} bytes but its header promises shape {dims} "
            f"({expected} bytes): truncated or not what it claims; delete it and fetch it again"
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=True)


def read_idx_pair(images_path: Path, labels_path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST-style images (N, H, W) and labels (N,) -> (N, 1, H, W) uint8 and (N,) int64."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise CorruptDataError(f"{images_path}: expected uint8 images (N, H, W), got "
                               f"{images.dtype} {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise CorruptDataError(f"{labels_path}: expected {len(images)} labels to match "
                               f"{images_path}, got shape {labels.shape}")
    return _as_tensors(images[:, None], labels)


# --------------------------------------------------------------------------- CIFAR pickles


# What a CIFAR python batch may contain besides dicts, lists, strings and numbers: numpy arrays
# (rebuilt through these three callables) and, in Python 2 pickles, latin-1 byte strings.
_CIFAR_GLOBALS = {(module, name) for module in ("numpy.core.multiarray", "numpy._core.multiarray")
                  for name in ("_reconstruct", "scalar")}
_CIFAR_GLOBALS |= {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}


class UnsafePickleError(CorruptDataError):
    """A pickle asked to call something the CIFAR format never needs (it may be malicious)."""


class _CifarUnpickler(pickle.Unpickler):
    """`pickle` that refuses every global outside `_CIFAR_GLOBALS`: a crafted file cannot run
    code while it loads (plain `pickle.load` would call whatever the file names)."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _CIFAR_GLOBALS:
            raise UnsafePickleError(f"{self.path}: refused to load {module}.{name}, which a "
                                    "CIFAR file never contains; the file is damaged or was "
                                    "crafted to run code. Download the data set again.")
        return super().find_class(module, name)


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as handle:
            unpickler = _CifarUnpickler(handle, encoding="latin1")
            unpickler.path = path
            obj = unpickler.load()
    except UnsafePickleError:
        raise
    except Exception as err:  # unpickling fails in open-ended ways on a damaged file
        raise CorruptDataError(f"cannot read CIFAR pickle {path}: {err!r}") from err
    if not isinstance(obj, dict):
        raise CorruptDataError(f"{path}: expected a pickled dict, got {type(obj).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _field(batch: dict, key: str, path: Path):
    if key not in batch:
        raise CorruptDataError(f"{path} has no {key!r} entry (keys: {sorted(batch)})")
    return batch[key]


def read_cifar_batches(paths: Sequence[Path], label_key: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenate CIFAR python batches: 'data' rows of 3072 bytes (R, G, B planes of 32x32)."""
    images, labels = [], []
    for path in paths:
        batch = _unpickle(path)
        data = np.asarray(_field(batch, "data", path), dtype=np.uint8)
        targets = np.asarray(_field(batch, label_key, path), dtype=np.int64).reshape(-1)
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(targets) != len(data):
            raise CorruptDataError(f"{path}: expected data (N, 3072) and N labels, got "
                                   f"{data.shape} and {targets.shape}")
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(targets)
    return _as_tensors(np.concatenate(images), np.concatenate(labels))


def read_cifar_names(meta_path: Path, key: str) -> tuple[str, ...]:
    """Class names from a CIFAR meta file (`label_names`, `fine_label_names`, ...)."""
    return tuple(str(name) for name in _field(_unpickle(meta_path), key, meta_path))


# --------------------------------------------------------------------------- SVHN


def read_svhn_mat(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """SVHN cropped digits: X is (H, W, C, N), y is (N, 1) with 10 standing for digit 0."""
    import scipy.io

    try:
        mat = scipy.io.loadmat(path)
    except Exception as err:  # scipy raises ValueError, MatReadError, OSError, ...
        raise CorruptDataError(f"cannot read SVHN file {path}: {err!r}") from err
    if "X" not in mat or "y" not in mat:
        raise CorruptDataError(f"{path}: expected variables 'X' and 'y'")
    x, y = np.asarray(mat["X"]), np.asarray(mat["y"]).reshape(-1)
    if x.ndim != 4 or x.shape[2] != 3 or x.shape[3] != len(y):
        raise CorruptDataError(f"{path}: expected X (H, W, 3, N) and N labels, got {x.shape}, "
                               f"{y.shape}")
    return _as_tensors(x.transpose(3, 2, 0, 1), y.astype(np.int64) % 10)
