"""Readers for image files: any folder of class sub-folders, and Tiny ImageNet's layout (with
its validation images sorted into class folders once, and a decoded cache beside them)."""

from __future__ import annotations

import os
import re
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from initlab.data.locations import IMAGE_EXTENSIONS
from initlab.data.readers import CorruptDataError

_TV_IO_DEPRECATION = "The image decoding and encoding capabilities of TorchVision"


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
