"""Readers for the on-disk formats the image data sets ship in.

Each reader takes file paths and returns uint8 image tensors (N, C, H, W) and int64 labels;
where the files live and what a data set is called is decided in `initlab.data`. These are our
own readers rather than torchvision's dataset classes because those verify md5 sums (so they
refuse the tiny files the tests build) and because an error that names the file it choked on
turns a half-finished download into a one-line fix.
"""

from __future__ import annotations

import gzip
import math
import os
import pickle
import re
import tempfile
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

_TV_IO_DEPRECATION = "The image decoding and encoding capabilities of TorchVision"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff")

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


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as handle:
            obj = pickle.load(handle, encoding="latin1")
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


# --------------------------------------------------------------------------- image files


def decode_image_file(path: Path, size: tuple[int, int] | None = None) -> torch.Tensor:
    """One image as RGB uint8 (3, H, W), resized to `size` when given; names the file on error.

    RGB is forced because some Tiny ImageNet JPEGs are grayscale and a batch needs one shape.
    """
    from torchvision.transforms.v2 import functional as F

    try:
        from torchvision.io import ImageReadMode, decode_image

        image = decode_image(str(path), mode=ImageReadMode.RGB)
    except (ImportError, RuntimeError):  # formats it cannot decode (BMP, TIFF): Pillow tries
        image = _decode_with_pillow(path)
    if size is not None and tuple(image.shape[-2:]) != tuple(size):
        image = F.resize(image, list(size), antialias=True)
    return image


def _decode_with_pillow(path: Path) -> torch.Tensor:
    from PIL import Image

    try:
        with Image.open(path) as img:
            array = np.asarray(img.convert("RGB"))
    except Exception as err:  # Pillow raises UnidentifiedImageError, OSError, SyntaxError...
        raise CorruptDataError(f"cannot decode image {path}: {err!r}") from err
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()


def decode_images(files: Sequence[Path], size: tuple[int, int]) -> torch.Tensor:
    """Decode into one preallocated (N, 3, H, W) tensor, so peak memory is the result alone."""
    out = torch.empty((len(files), 3, *size), dtype=torch.uint8)
    with warnings.catch_warnings():  # torchvision 0.29 deprecates its decoders in favour of
        # torchcodec (not a dependency here); Pillow takes over if they are ever removed
        warnings.filterwarnings("ignore", _TV_IO_DEPRECATION, DeprecationWarning)
        for i, path in enumerate(files):
            out[i] = decode_image_file(path, size)
    return out


def _natural_key(path: Path) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name))


def list_image_folder(folder: Path) -> tuple[list[Path], list[int], tuple[str, ...]]:
    """Files, labels and classes of `folder/<class>/**/<image>`; classes are sorted names."""
    classes = tuple(sorted(d.name for d in folder.iterdir()
                           if d.is_dir() and not d.name.startswith(".")))
    files: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        found = sorted((p for p in (folder / name).rglob("*")
                        if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()), key=_natural_key)
        files += found
        labels += [label] * len(found)
    return files, labels, classes


# --------------------------------------------------------------------------- Tiny ImageNet


def _read_wnids(folder: Path) -> list[str]:
    wnids = [line.strip() for line in (folder / "wnids.txt").read_text().splitlines()]
    return sorted(w for w in wnids if w)  # sorted, as ImageFolder would order class folders


def _read_val_annotations(folder: Path) -> dict[str, str]:
    """val image file name -> wnid, from `val/val_annotations.txt` (tab separated)."""
    path = folder / "val" / "val_annotations.txt"
    if not path.exists():
        return {}
    rows = (line.split("\t") for line in path.read_text().splitlines() if line.strip())
    return {row[0]: row[1].strip() for row in rows}


def reorganize_tiny_imagenet_val(folder: str | Path) -> int:
    """Move `val/images/X.JPEG` to `val/<wnid>/images/X.JPEG` per the annotations.

    Gives the val set the same layout as train, so generic folder tools (ImageFolder) can read
    it. Idempotent: files already moved are skipped. Returns how many files were moved.
    """
    folder = Path(folder)
    source = folder / "val" / "images"
    moved = 0
    for filename, wnid in _read_val_annotations(folder).items():
        src = source / filename
        if src.exists():
            dst = folder / "val" / wnid / "images" / filename
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
            moved += 1
    if source.is_dir() and not any(source.iterdir()):
        source.rmdir()
    return moved


def tiny_imagenet_names(folder: Path, wnids: Sequence[str]) -> tuple[str, ...]:
    """First synonym from `words.txt` per wnid (e.g. 'goldfish'), the wnid itself if absent."""
    words: dict[str, str] = {}
    path = folder / "words.txt"
    if path.exists():
        wanted = set(wnids)
        for line in path.read_text().splitlines():
            wnid, _, text = line.partition("\t")
            if wnid in wanted:
                words[wnid] = text.split(",")[0].strip()
    return tuple(words.get(w) or w for w in wnids)


def list_tiny_imagenet(folder: Path, split: str) -> tuple[list[Path], list[int], list[str]]:
    """Files and labels of the train set, or of the val set ("test") in either layout."""
    wnids = _read_wnids(folder)
    index = {w: i for i, w in enumerate(wnids)}
    items: list[tuple[Path, int]] = []
    sub = "train" if split == "train" else "val"
    for wnid in wnids:
        images = folder / sub / wnid / "images"
        if images.is_dir():
            items += [(p, index[wnid]) for p in images.iterdir()
                      if p.suffix.lower() in IMAGE_EXTENSIONS]
    if split != "train":  # not yet reorganized: labels come from the annotations
        for filename, wnid in _read_val_annotations(folder).items():
            path = folder / "val" / "images" / filename
            if path.exists():
                if wnid not in index:
                    raise CorruptDataError(f"{folder / 'val' / 'val_annotations.txt'}: "
                                           f"{filename} has wnid {wnid} not in wnids.txt")
                items.append((path, index[wnid]))
    items.sort(key=lambda item: (item[1], _natural_key(item[0])) if split == "train"
               else _natural_key(item[0]))
    return [p for p, _ in items], [label for _, label in items], wnids


def load_tiny_imagenet(folder: Path, split: str) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Decoded (N, 3, 64, 64) images, labels and wnids, cached in `<folder>/<split>.pt`.

    Decoding 100k JPEGs takes minutes and the tensor loads in a second, so the first call
    writes the cache (temp file then rename: an interrupted run leaves no half-written cache).
    The cache is trusted as is: delete it after changing the images.
    """
    cache = folder / f"{split}.pt"
    if cache.exists():
        try:
            saved = torch.load(cache, weights_only=True)
            return saved["images"], saved["labels"], list(saved["wnids"])
        except Exception as err:  # torch.load fails in many ways on a damaged file
            raise CorruptDataError(f"cannot read cache {cache} ({err!r}); delete it to rebuild "
                                   "it from the JPEGs") from err
    files, labels, wnids = list_tiny_imagenet(folder, split)
    if not files:
        raise CorruptDataError(f"{folder} holds no {split} images: incomplete extraction?")
    images = decode_images(files, (64, 64))
    label_tensor = torch.tensor(labels, dtype=torch.int64)
    handle, tmp = tempfile.mkstemp(dir=folder, prefix=f".{split}.", suffix=".pt.tmp")
    os.close(handle)
    try:
        torch.save({"images": images, "labels": label_tensor, "wnids": wnids}, tmp)
        os.replace(tmp, cache)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return images, label_tensor, wnids
