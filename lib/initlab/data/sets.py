"""Data sets by name: `load(name, split)` gives an `ImageSet` from the data set's own format.

`load` reads the formats the data sets are distributed in, found
under a data root (`root=`, else `INITLAB_DATA`, else `<project>/data`), and when files are
missing says which and the command that fetches them: `initlab data download NAME`.
"""

from __future__ import annotations

import contextlib
import functools
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from initlab.catalog import CIFAR100_COARSE_OF_FINE  # noqa: F401  (data.CIFAR100_...)
from initlab.data.folders import (
    IMAGE_EXTENSIONS,
    decode_images,
    list_image_folder,
    load_tiny_imagenet,
    reorganize_tiny_imagenet_val,
    tiny_imagenet_names,
)
from initlab.data.images import ImageSet
from initlab.data.locations import (  # noqa: F401  (DATASETS, SPLITS: re-exported)
    DATASETS,
    FASHION_MNIST_SYSTEM_DIRS,
    SPLITS,
    DataUnavailableError,
    _check,
    _fetch_hint,
    _files,
    _image_folder_split,
    _root,
    available,
    expected_files,
)
from initlab.data.readers import read_cifar_batches, read_cifar_names, read_idx_pair, read_svhn_mat

TINY_IMAGENET_URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"

# the inputs torchvision's ImageNet weights expect (mean, std per channel)
IMAGENET_STATS = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
_STATS = {
    "mnist": ((0.1307,), (0.3081,)),
    "fashion_mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761)),
    "svhn": ((0.4377, 0.4438, 0.4728), (0.1980, 0.2010, 0.1970)),
    "tiny_imagenet": IMAGENET_STATS,
    "image_folder": IMAGENET_STATS,
}
_DIGIT_NAMES = tuple(str(d) for d in range(10))
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")
# --------------------------------------------------------------------------- download


def download(name: str, root: str | Path | None = None) -> Path:
    """Fetch the files of `name` into the data root unless already there; returns the root.

    For `initlab data download NAME`. Raises DataUnavailableError when the fetch fails.
    """
    _check(name)
    if name == "image_folder":
        raise DataUnavailableError(_fetch_hint(name))
    base = _root(root)
    if name != "digits" and not available(name, base):
        _fetch(name, base)
    return base


def _fetch(name: str, base: Path) -> None:
    """Download with torchvision's dataset classes (mirrors, md5 checks, extraction) into the
    layout our readers expect; we never read data through those classes. A failed download
    removes the folders it created and says where it tried and where the files go by hand."""
    import torchvision.datasets as tvd

    created = [p for p in (base, *base.parents) if not p.exists()]  # innermost first
    base.mkdir(parents=True, exist_ok=True)
    before = set(base.iterdir())  # what was there before is never removed
    try:
        if name in ("mnist", "fashion_mnist"):
            (tvd.MNIST if name == "mnist" else tvd.FashionMNIST)(base, train=True, download=True)
        elif name in ("cifar10", "cifar100"):
            (tvd.CIFAR10 if name == "cifar10" else tvd.CIFAR100)(base, train=True, download=True)
        elif name == "svhn":
            for split in SPLITS:
                if not (base / "svhn" / f"{split}_32x32.mat").exists():
                    tvd.SVHN(base / "svhn", split=split, download=True)
        elif name == "tiny_imagenet":
            from torchvision.datasets.utils import download_and_extract_archive

            download_and_extract_archive(TINY_IMAGENET_URL, download_root=base,
                                         remove_finished=True)
            reorganize_tiny_imagenet_val(base / "tiny-imagenet-200")
    except (OSError, RuntimeError) as err:  # URLError is an OSError; torchvision wraps some
        for path in set(base.iterdir()) - before & _own_entries(name, base):  # it started
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink()
        for folder in created:  # only while empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise DataUnavailableError(_failed_download(name, base, err)) from None


def _own_entries(name: str, base: Path) -> set[Path]:
    """The entries of `base` a download of `name` writes (its folders and archives)."""
    tops = {base / p.relative_to(base).parts[0] for p in expected_files(name, base)
            if p.is_relative_to(base)}
    return tops | {base / url.rsplit("/", 1)[-1] for url in _sources(name)}


def _sources(name: str) -> list[str]:
    """Where torchvision downloads data set `name` from."""
    import torchvision.datasets as tvd

    return {"mnist": tvd.MNIST.mirrors, "fashion_mnist": tvd.FashionMNIST.mirrors,
            "cifar10": [tvd.CIFAR10.url], "cifar100": [tvd.CIFAR100.url],
            "svhn": [tvd.SVHN.split_list[s][0] for s in SPLITS],
            "tiny_imagenet": [TINY_IMAGENET_URL]}.get(name, [])


def _failed_download(name: str, base: Path, err: BaseException) -> str:
    """One line: what was tried, why it failed, and where the files go by hand."""
    reasons = list(dict.fromkeys(re.findall(r"<urlopen error (.*?)>", str(err))))
    reason = "; ".join(reasons) or " ".join(str(err).split()) or type(err).__name__
    folders: dict[Path, list[str]] = {}
    for path in expected_files(name, base):
        folders.setdefault(path.parent, []).append(path.name)
    where = "; ".join(f"{', '.join(files)} into {folder}" for folder, files in folders.items())
    gz = " (raw or .gz)" if name in ("mnist", "fashion_mnist") else ""
    return (f"could not download {name} from {', '.join(_sources(name))} ({reason}). To add it "
            f"by hand, put {where}{gz}, or point INITLAB_DATA at a folder that holds them.")


# --------------------------------------------------------------------------- loading


@functools.lru_cache(maxsize=1)
def _digits_tensors() -> tuple[torch.Tensor, torch.Tensor]:
    """All 1,797 scikit-learn digits as 28x28 uint8, shuffled once with seed 0."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.from_numpy(bunch.images).float().mul(255.0 / 16.0).unsqueeze(1)
    # torch's own antialiased bilinear resize: the same uint8 images as torchvision's resize
    # (checked equal), without importing torchvision (1.5-2.7 s of every smoke render)
    x = torch.nn.functional.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False,
                                        antialias=True)
    images = x.round().clamp(0, 255).to(torch.uint8)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    return images[order], torch.from_numpy(bunch.target).long()[order]


def _load_digits(split: str) -> ImageSet:
    images, labels = _digits_tensors()
    cut = round(0.8 * len(images))
    # Stats of the train part, computed on load (cheap): mean ~0.3049, std ~0.3244. With
    # numpy's single-threaded sums: torch's parallel sums round differently with the thread
    # count, and the stats normalize every batch.
    train = images[:cut].numpy().astype(np.float64) / 255.0
    mean, std = (float(train.mean()),), (float(train.std(ddof=1)),)
    part = slice(0, cut) if split == "train" else slice(cut, None)
    return ImageSet(images[part].clone(), labels[part].clone(), _DIGIT_NAMES, mean, std, "digits")


def _load_image_folder(split: str, options: dict[str, Any]) -> ImageSet:
    if "path" not in options:
        raise ValueError("image_folder needs path=, e.g. load('image_folder', path='/data/birds')"
                         ", a folder holding train/<class>/<image> and test/<class>/<image>")
    path = Path(options["path"]).expanduser()
    size = options.get("size", 224)
    size = (size, size) if isinstance(size, int) else tuple(size)
    folder = _image_folder_split(path, split)
    if not folder.is_dir():
        raise DataUnavailableError(
            f"image_folder: {folder} does not exist. Expected layout: {path}/train/<class>/<image>"
            f" and {path}/test/<class>/<image> (test may be named valid/ or validation/); "
            "pass path= the folder that holds train/.")
    files, labels, classes = list_image_folder(folder)
    if not files:
        raise DataUnavailableError(f"image_folder: no images ({', '.join(IMAGE_EXTENSIONS)}) in "
                                   f"class sub-folders of {folder}")
    return ImageSet(decode_images(files, size), torch.tensor(labels, dtype=torch.int64), classes,
                    *IMAGENET_STATS, "image_folder")


def _read(name: str, root: Path, split: str, files: list[Path],
          options: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, Sequence[str]]:
    """(images, labels, classes) from files that exist."""
    if name in ("mnist", "fashion_mnist"):
        classes = _DIGIT_NAMES if name == "mnist" else FASHION_MNIST_CLASSES
        return (*read_idx_pair(*files), classes)
    if name == "cifar10":
        return (*read_cifar_batches(files[:-1], "labels"),
                read_cifar_names(files[-1], "label_names"))
    if name == "cifar100":
        kind = options.get("labels", "fine")
        return (*read_cifar_batches(files[:1], f"{kind}_labels"),
                read_cifar_names(files[1], f"{kind}_label_names"))
    if name == "svhn":
        return (*read_svhn_mat(files[0]), _DIGIT_NAMES)
    folder = root / "tiny-imagenet-200"  # tiny_imagenet
    images, labels, wnids = load_tiny_imagenet(folder, split)
    return images, labels, tiny_imagenet_names(folder, wnids)


def load(name: str, split: str = "train", root: str | Path | None = None, download: bool = False,
         **options: Any) -> ImageSet:
    """Load one split of a data set as an `ImageSet`.

    name: one of DATASETS. split: "train" or "test" (Tiny ImageNet's "test" is its labelled val
    set). root: data folder, else INITLAB_DATA, else <project>/data. download: fetch missing
    files with torchvision first. options: cifar100 `labels="fine"|"coarse"`; image_folder
    `path=` (required) and `size=` (int or (H, W), default 224).
    Raises DataUnavailableError when files are missing (naming them and the fetch command),
    CorruptDataError when a file cannot be parsed (naming it).
    """
    _check(name, split, options)
    if name == "digits":
        return _load_digits(split)
    if name == "image_folder":
        return _load_image_folder(split, options)
    base = _root(root)
    files = _files(name, base, split, options)
    if download and not all(p.exists() for p in files):
        _fetch(name, base)
        files = _files(name, base, split, options)
    missing = [p for p in files if not p.exists()]
    if missing:
        gz = " (raw or .gz)" if name in ("mnist", "fashion_mnist") else ""
        raise DataUnavailableError(
            f"{name} ({split}) not found under {base}: missing {', '.join(map(str, missing))}{gz}."
            f"\n{_fetch_hint(name)}")
    images, labels, classes = _read(name, base, split, files, options)
    return ImageSet(images, labels, tuple(classes), *_STATS[name], name)
