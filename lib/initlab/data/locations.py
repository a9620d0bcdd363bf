"""Where each data set's files live, and whether they are there: names, splits, expected
paths. Nothing here imports torch or numpy, so `initlab data check` answers at once; loading
and downloading are in `sets`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff")

DATASETS: tuple[str, ...] = ("digits", "mnist", "fashion_mnist", "cifar10", "cifar100", "svhn",
                             "tiny_imagenet", "image_folder")
SPLITS: tuple[str, ...] = ("train", "test")

# Debian/Ubuntu's `dataset-fashion-mnist` package installs the .gz IDX files here.
FASHION_MNIST_SYSTEM_DIRS: tuple[Path, ...] = (Path("/usr/share/datasets/fashion-mnist"),)

_OPTIONS = {"cifar100": {"labels"}, "image_folder": {"path", "size"}}
_IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
_TEST_FOLDERS = ("test", "valid", "validation", "val")


class DataUnavailableError(RuntimeError):
    """The files of a data set are not on disk (and could not be downloaded)."""


# --------------------------------------------------------------------------- where files live


def _root(root: str | Path | None) -> Path:
    if root is not None:
        return Path(root).expanduser()
    from initlab import paths  # lazily: keeps `import initlab.data` free of project lookups

    return paths.data_dir()


def _check(name: str, split: str | None = None, options: dict[str, Any] | None = None) -> None:
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; valid names: {', '.join(DATASETS)}")
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    unknown = set(options or {}) - _OPTIONS.get(name, set())
    if unknown:
        accepted = ", ".join(sorted(_OPTIONS.get(name, set()))) or "none"
        raise TypeError(f"{name} does not take option(s) {', '.join(sorted(unknown))}; "
                        f"accepted: {accepted}")
    if name == "cifar100" and (options or {}).get("labels", "fine") not in ("fine", "coarse"):
        raise ValueError(f"cifar100 labels= must be 'fine' or 'coarse', got {options['labels']!r}")


def _idx_files(name: str, root: Path, split: str) -> list[Path]:
    """The IDX pair in the first folder holding both (raw or .gz), else the canonical paths."""
    primary = root / ("MNIST" if name == "mnist" else "FashionMNIST") / "raw"
    folders = [primary, *(FASHION_MNIST_SYSTEM_DIRS if name == "fashion_mnist" else ())]
    for folder in folders:
        found = [next((p for p in (folder / f, folder / f"{f}.gz") if p.is_file()), None)
                 for f in _IDX_FILES[split]]
        if all(found):
            return found
    return [primary / f for f in _IDX_FILES[split]]


def _image_folder_split(path: Path, split: str) -> Path:
    if split == "train":
        return path / "train"
    return next((path / d for d in _TEST_FOLDERS if (path / d).is_dir()), path / "test")


def _files(name: str, root: Path, split: str, options: dict[str, Any]) -> list[Path]:
    if name in ("mnist", "fashion_mnist"):
        return _idx_files(name, root, split)
    if name == "cifar10":
        folder = root / "cifar-10-batches-py"
        batches = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
        return [folder / b for b in batches] + [folder / "batches.meta"]
    if name == "cifar100":
        return [root / "cifar-100-python" / split, root / "cifar-100-python" / "meta"]
    if name == "svhn":
        return [root / "svhn" / f"{split}_32x32.mat"]
    if name == "tiny_imagenet":
        folder = root / "tiny-imagenet-200"
        cache = folder / f"{split}.pt"
        if cache.exists():
            return [cache]
        return [folder / "wnids.txt", folder / ("train" if split == "train" else "val")]
    if name == "image_folder":
        return [_image_folder_split(Path(options["path"]), split)] if "path" in options else []
    return []  # digits: embedded in scikit-learn


def expected_files(name: str, root: str | Path | None = None, **options: Any) -> list[Path]:
    """The files (or folders) `load` reads for both splits: those found where they exist,
    else where they are expected. Empty for `digits` (embedded) and for `image_folder` without
    `path=`."""
    _check(name, None, options)
    base = _root(root)
    return [p for split in SPLITS for p in _files(name, base, split, options)]


def available(name: str, root: str | Path | None = None, **options: Any) -> bool:
    """Whether both splits can be loaded without downloading."""
    if name == "digits":
        return True
    if name == "image_folder" and "path" not in options:
        return False
    files = expected_files(name, root, **options)
    return bool(files) and all(p.exists() for p in files)


def _fetch_hint(name: str) -> str:
    if name == "image_folder":
        return ("image_folder is not downloadable: pass path= a folder holding train/<class>/"
                "<image> and test/<class>/<image> (or valid/, validation/ for test).")
    hint = (f"Fetch it with `initlab data download {name}` (or load(..., download=True)), or "
            "point root= or INITLAB_DATA at a folder that holds it.")
    if name == "fashion_mnist":
        hint += (" On Debian/Ubuntu, `apt-get install dataset-fashion-mnist` also works (files "
                 "in /usr/share/datasets/fashion-mnist).")
    return hint
