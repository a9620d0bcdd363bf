"""initlab.data: tiny files in each real on-disk format, written here independently of the
readers, must load back exactly; missing or damaged files must say what to do."""

from __future__ import annotations

import gzip
import pickle
import struct
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.io import write_jpeg, write_png

from initlab import data
from initlab.data import CorruptDataError, DataUnavailableError, ImageSet

RNG = np.random.default_rng(0)
# torchvision 0.29 deprecates write_jpeg/write_png; they still write the real formats
pytestmark = pytest.mark.filterwarnings("ignore:The image decoding and encoding:DeprecationWarning")


@pytest.fixture(autouse=True)
def isolated_data_root(tmp_path, monkeypatch):
    """Nothing reads the real data/ folder or the system Fashion-MNIST unless a test asks."""
    monkeypatch.setenv("INITLAB_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(data.locations, "FASHION_MNIST_SYSTEM_DIRS", ())
    return tmp_path / "data"


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def toy_set(n: int = 20, classes: int = 4) -> ImageSet:
    """Image i has all pixels equal to i, so a subset's images name their source indices."""
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 3, 2, 2).contiguous()
    labels = torch.arange(n) % classes
    return ImageSet(images, labels, tuple("abcdefgh"[:classes]), (0.5,) * 3, (0.25,) * 3, "toy")


def ids(part: ImageSet) -> list[int]:
    return part.images[:, 0, 0, 0].tolist()


# --------------------------------------------------------------------------- ImageSet


def test_imageset_validation():
    good = toy_set()
    assert (len(good), good.num_classes, good.in_channels, good.image_size) == (20, 4, 3, (2, 2))
    with pytest.raises(TypeError, match="uint8"):
        ImageSet(good.images.float(), good.labels, good.classes, good.mean, good.std, "x")
    with pytest.raises(ValueError, match="4-D"):
        ImageSet(good.images[:, 0], good.labels, good.classes, (0.5,), (0.2,), "x")
    with pytest.raises(ValueError, match="20 images but 19 labels"):
        ImageSet(good.images, good.labels[:-1], good.classes, good.mean, good.std, "x")
    with pytest.raises(ValueError, match="one per channel"):
        ImageSet(good.images, good.labels, good.classes, (0.5,), (0.2,), "x")
    with pytest.raises(ValueError, match="labels must lie"):
        ImageSet(good.images, good.labels, good.classes[:2], good.mean, good.std, "x")


def test_subset_split_chunks():
    s = toy_set()
    assert ids(s.subset([3, 1])) == [3, 1]
    assert ids(s.subset(torch.tensor([5]))) == [5]
    assert ids(s.subset(slice(2, 5))) == [2, 3, 4]
    assert s.subset([]).images.shape == (0, 3, 2, 2)

    a, b = s.split(0.3, seed=1)
    assert (len(a), len(b)) == (6, 14)
    assert sorted(ids(a) + ids(b)) == list(range(20))
    assert ids(s.split(0.3, seed=1)[0]) == ids(a)
    assert ids(s.split(0.3, seed=2)[0]) != ids(a)
    assert torch.equal(a.labels, torch.tensor(ids(a)) % 4)  # labels travel with their images
    with pytest.raises(ValueError):
        s.split(1.5, seed=0)

    parts = s.chunks(3, 5, seed=7)
    assert [len(p) for p in parts] == [5, 5, 5]
    flat = [i for p in parts for i in ids(p)]
    assert len(set(flat)) == 15
    assert [ids(p) for p in s.chunks(3, 5, seed=7)] == [ids(p) for p in parts]
    with pytest.raises(ValueError, match="cannot cut"):
        s.chunks(3, 7, seed=0)


def test_select_classes_relabels_in_ascending_order():
    s = toy_set()
    part = s.select_classes([3, 1])
    assert part.classes == ("b", "d")
    assert len(part) == 10
    assert torch.equal(part.labels, torch.tensor([0 if i % 4 == 1 else 1 for i in ids(part)]))
    kept = s.select_classes([3, 1], relabel=False)
    assert kept.classes == s.classes and set(kept.labels.tolist()) == {1, 3}
    with pytest.raises(ValueError):
        s.select_classes([4])


def test_to_float_and_with_normalization():
    s = toy_set()
    raw = s.to_float(normalize=False)
    assert raw.dtype == torch.float32 and torch.allclose(raw, s.images.float() / 255)
    assert torch.allclose(s.to_float(), (raw - 0.5) / 0.25)
    t = s.with_normalization([0.0] * 3, [1.0] * 3)
    assert t.mean == (0.0, 0.0, 0.0) and torch.allclose(t.to_float(), raw)
    assert s.mean == (0.5,) * 3  # frozen: the original is untouched


# --------------------------------------------------------------------------- digits


def test_digits_split_is_a_deterministic_partition():
    train, test = data.load("digits", "train"), data.load("digits", "test")
    assert (len(train), len(test)) == (1438, 359)
    for part in (train, test):
        assert part.images.shape[1:] == (1, 28, 28) and part.images.dtype == torch.uint8
        assert part.classes == tuple(str(d) for d in range(10))
    assert set(train.labels.tolist()) == set(range(10)) == set(test.labels.tolist())
    # The 1,797 8x8 originals are all distinct, so the 28x28 ones must be too, split disjointly.
    keys_train = {x.numpy().tobytes() for x in train.images}
    keys_test = {x.numpy().tobytes() for x in test.images}
    assert len(keys_train) == 1438 and len(keys_test) == 359 and not keys_train & keys_test
    again = data.load("digits", "train")
    assert torch.equal(again.images, train.images) and torch.equal(again.labels, train.labels)
    assert test.mean == train.mean  # both normalized with the train stats
    x = train.to_float()
    assert abs(x.mean().item()) < 1e-4 and abs(x.std().item() - 1) < 1e-3


# --------------------------------------------------------------------------- MNIST (IDX)


def write_idx(path: Path, array: np.ndarray) -> None:
    payload = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    payload += struct.pack(f">{array.ndim}I", *array.shape) + array.astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)


def make_mnist(folder: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """train as raw files, test as .gz: both must be read."""
    made = {}
    for split, prefix, n, suffix in (("train", "train", 5, ""), ("test", "t10k", 3, ".gz")):
        images = RNG.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = RNG.integers(0, 10, n, dtype=np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
        made[split] = images, labels
    return made


def test_mnist_idx_raw_and_gz_round_trip(tmp_path):
    made = make_mnist(tmp_path / "MNIST" / "raw")
    assert data.available("mnist", root=tmp_path)
    for split, (images, labels) in made.items():
        s = data.load("mnist", split, root=tmp_path)
        assert s.images.shape == (len(images), 1, 28, 28) and s.labels.dtype == torch.int64
        assert np.array_equal(s.images[:, 0].numpy(), images)
        assert np.array_equal(s.labels.numpy(), labels)
        assert s.mean == (0.1307,) and s.std == (0.3081,) and s.name == "mnist"


def test_root_defaults_to_initlab_data(isolated_data_root):
    make_mnist(isolated_data_root / "MNIST" / "raw")
    assert len(data.load("mnist")) == 5


def test_fashion_mnist_from_torchvision_layout(tmp_path):
    make_mnist(tmp_path / "FashionMNIST" / "raw")
    s = data.load("fashion_mnist", "test", root=tmp_path)
    assert len(s) == 3 and s.classes[0] == "T-shirt/top" and s.mean == (0.2860,)


@pytest.mark.parametrize("damage", ["truncate", "truncate_gz", "magic"])
def test_corrupt_idx_names_the_file(tmp_path, damage):
    folder = tmp_path / "MNIST" / "raw"
    make_mnist(folder)
    split = "test" if damage == "truncate_gz" else "train"
    path = folder / ("t10k-images-idx3-ubyte.gz" if split == "test" else "train-images-idx3-ubyte")
    raw = path.read_bytes()
    path.write_bytes(b"\x01\x02\x03\x04" + raw[4:] if damage == "magic" else raw[: len(raw) // 2])
    with pytest.raises(CorruptDataError) as info:
        data.load("mnist", split, root=tmp_path)
    assert str(path) in str(info.value)


def test_missing_data_says_where_and_how(tmp_path):
    with pytest.raises(DataUnavailableError) as info:
        data.load("mnist", root=tmp_path)
    message = str(info.value)
    assert str(tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte") in message
    assert "initlab data download mnist" in message
    with pytest.raises(DataUnavailableError, match="apt-get install dataset-fashion-mnist"):
        data.load("fashion_mnist", root=tmp_path)
    assert not data.available("cifar10", root=tmp_path)
    assert tmp_path / "cifar-10-batches-py" / "test_batch" in data.expected_files("cifar10",
                                                                                   tmp_path)
    assert data.available("digits") and data.expected_files("digits") == []


@pytest.mark.parametrize("name", ["mnist", "cifar10", "svhn"])
def test_failed_download_says_what_it_tried_and_leaves_nothing_behind(tmp_path, no_network,
                                                                      name):
    (tmp_path / "kept").mkdir()  # what was there before stays
    with pytest.raises(DataUnavailableError) as info:
        data.load(name, "test", root=tmp_path / "data", download=True)
    message = str(info.value)
    assert message.startswith(f"could not download {name} from http")
    assert "(network disabled in tests)" in message and "\n" not in message
    last = data.expected_files(name, tmp_path / "data")[-1]
    assert f"{last.name} into {last.parent}" in message and "by hand" in message
    assert "initlab data download" not in message  # the command that just failed
    assert [p.name for p in tmp_path.iterdir()] == ["kept"]  # no empty data/MNIST/raw
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "other").mkdir()
    with pytest.raises(DataUnavailableError):
        data.download(name, tmp_path / "data")
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["other"]


def test_bad_name_split_option():
    with pytest.raises(ValueError, match="valid names: digits, mnist"):
        data.load("imagenet")
    with pytest.raises(ValueError, match="valid splits: train, test"):
        data.load("digits", "val")
    with pytest.raises(TypeError, match="accepted: none"):
        data.load("digits", labels="coarse")
    with pytest.raises(ValueError, match="image_folder needs path="):
        data.load("image_folder")


# --------------------------------------------------------------------------- CIFAR pickles


def pickle_to(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(obj, protocol=2))


def test_cifar10_pickles_round_trip(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    rows, labels = [], []
    for i in range(1, 6):
        x = RNG.integers(0, 256, (2, 3072), dtype=np.uint8)
        y = [int(v) for v in RNG.integers(0, 10, 2)]
        pickle_to(folder / f"data_batch_{i}", {"batch_label": f"b{i}", "data": x, "labels": y})
        rows.append(x)
        labels += y
    test_x = RNG.integers(0, 256, (3, 3072), dtype=np.uint8)
    # bytes keys, as a Python 3 pickle.load(encoding="bytes") user would see them
    pickle_to(folder / "test_batch", {b"data": test_x, b"labels": [1, 2, 3]})
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
             "truck"]
    pickle_to(folder / "batches.meta", {"label_names": names, "num_vis": 3072})

    train = data.load("cifar10", root=tmp_path)
    assert train.images.shape == (10, 3, 32, 32) and train.classes == tuple(names)
    assert torch.equal(train.images, torch.from_numpy(np.concatenate(rows)).view(10, 3, 32, 32))
    assert train.labels.tolist() == labels
    test = data.load("cifar10", "test", root=tmp_path)
    assert test.labels.tolist() == [1, 2, 3]
    # channel planes: the first 1024 bytes are red, pixel (0, 0) first
    assert test.images[0, 0, 0, 0] == test_x[0, 0] and test.images[0, 1, 0, 0] == test_x[0, 1024]
    assert test.mean == (0.4914, 0.4822, 0.4465)


def test_cifar100_fine_and_coarse(tmp_path):
    folder = tmp_path / "cifar-100-python"
    fine_names = [f"fine{i}" for i in range(100)]
    coarse_names = [f"coarse{i}" for i in range(20)]
    pickle_to(folder / "meta", {"fine_label_names": fine_names,
                                "coarse_label_names": coarse_names})
    for split, n in (("train", 6), ("test", 4)):
        fine = [int(v) for v in RNG.integers(0, 100, n)]
        coarse = [data.CIFAR100_COARSE_OF_FINE[f] for f in fine]
        x = RNG.integers(0, 256, (n, 3072), dtype=np.uint8)
        pickle_to(folder / split, {"data": x, "fine_labels": fine, "coarse_labels": coarse})
    s = data.load("cifar100", "test", root=tmp_path)
    c = data.load("cifar100", "test", root=tmp_path, labels="coarse")
    assert s.num_classes == 100 and c.num_classes == 20 and c.classes[0] == "coarse0"
    assert torch.equal(s.images, c.images) and len(s) == 4
    assert c.labels.tolist() == [data.CIFAR100_COARSE_OF_FINE[f] for f in s.labels.tolist()]
    with pytest.raises(ValueError, match="fine' or 'coarse"):
        data.load("cifar100", root=tmp_path, labels="medium")


def test_cifar100_coarse_map():
    fine_of = data.CIFAR100_COARSE_OF_FINE
    assert len(fine_of) == 100
    assert np.bincount(fine_of).tolist() == [5] * 20
    # spot checks against the published names (fine and coarse indices in alphabetical order)
    apple, aquarium_fish, whale, tractor, maple_tree, worm = 0, 1, 95, 89, 47, 99
    assert fine_of[apple] == 4  # fruit_and_vegetables
    assert fine_of[aquarium_fish] == 1  # fish
    assert fine_of[whale] == 0  # aquatic_mammals
    assert fine_of[tractor] == 19  # vehicles_2
    assert fine_of[maple_tree] == 17  # trees
    assert fine_of[worm] == 13  # non-insect_invertebrates


def test_corrupt_cifar_pickle(tmp_path):
    path = tmp_path / "cifar-100-python" / "train"
    pickle_to(path, {"data": np.zeros((2, 3072), np.uint8), "fine_labels": [0, 1]})
    path.write_bytes(path.read_bytes()[:40])
    pickle_to(tmp_path / "cifar-100-python" / "meta", {"fine_label_names": ["a", "b"]})
    with pytest.raises(CorruptDataError, match=str(path)):
        data.load("cifar100", root=tmp_path)


# --------------------------------------------------------------------------- SVHN


def test_svhn_mat_round_trip(tmp_path):
    import scipy.io

    x = RNG.integers(0, 256, (32, 32, 3, 4), dtype=np.uint8)
    y = np.array([[10], [1], [9], [10]], dtype=np.uint8)  # 10 is the digit 0
    (tmp_path / "svhn").mkdir()
    scipy.io.savemat(tmp_path / "svhn" / "train_32x32.mat", {"X": x, "y": y})
    s = data.load("svhn", root=tmp_path)
    assert s.labels.tolist() == [0, 1, 9, 0] and s.images.shape == (4, 3, 32, 32)
    assert np.array_equal(s.images[2].numpy(), x[..., 2].transpose(2, 0, 1))
    assert s.classes[0] == "0" and s.in_channels == 3


# --------------------------------------------------------------------------- Tiny ImageNet


def test_tiny_imagenet_layout_reorganization_and_cache(tmp_path):
    folder = tmp_path / "tiny-imagenet-200"
    wnids = ["n02", "n01", "n03"]  # wnids.txt is not sorted; labels follow sorted wnids
    folder.mkdir()
    (folder / "wnids.txt").write_text("\n".join(wnids) + "\n")
    (folder / "words.txt").write_text("n01\tgoldfish, Carassius auratus\nn02\tbullfrog\n"
                                      "n09\tunused\n")
    for wnid in wnids:
        for i in range(2):
            gray = wnid == "n03" and i == 1  # Tiny ImageNet has some grayscale JPEGs
            img = torch.randint(0, 256, (1 if gray else 3, 64, 64), dtype=torch.uint8)
            path = folder / "train" / wnid / "images" / f"{wnid}_{i}.JPEG"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_jpeg(img, str(path))
    val_wnids = ["n03", "n01", "n01", "n02"]
    (folder / "val" / "images").mkdir(parents=True)
    lines = []
    for i, wnid in enumerate(val_wnids):
        write_jpeg(torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8),
                   str(folder / "val" / "images" / f"val_{i}.JPEG"))
        lines.append(f"val_{i}.JPEG\t{wnid}\t0\t0\t63\t63")
    (folder / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")

    train = data.load("tiny_imagenet", root=tmp_path)
    assert train.images.shape == (6, 3, 64, 64) and train.images.dtype == torch.uint8
    assert train.labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert train.classes == ("goldfish", "bullfrog", "n03")
    assert train.mean == (0.485, 0.456, 0.406)
    assert (folder / "train.pt").exists()

    expected = [sorted(wnids).index(w) for w in val_wnids]
    test = data.load("tiny_imagenet", "test", root=tmp_path)  # not yet reorganized
    assert test.labels.tolist() == expected

    assert data.reorganize_tiny_imagenet_val(folder) == 4
    assert data.reorganize_tiny_imagenet_val(folder) == 0  # idempotent
    assert not (folder / "val" / "images").exists()
    for i, wnid in enumerate(val_wnids):
        assert (folder / "val" / wnid / "images" / f"val_{i}.JPEG").exists()
    (folder / "test.pt").unlink()
    again = data.load("tiny_imagenet", "test", root=tmp_path)  # from the new layout
    assert again.labels.tolist() == expected and torch.equal(again.images, test.images)

    import shutil

    shutil.rmtree(folder / "train")  # the cache alone now serves the train split
    cached = data.load("tiny_imagenet", root=tmp_path)
    assert torch.equal(cached.images, train.images) and cached.classes == train.classes


# --------------------------------------------------------------------------- image_folder


def test_image_folder(tmp_path):
    made = {}
    for split in ("train", "valid"):
        for cls in ("dog", "cat"):
            folder = tmp_path / "pets" / split / cls
            folder.mkdir(parents=True)
            for i in range(2):
                img = torch.randint(0, 256, (3, 8, 8), dtype=torch.uint8)
                write_png(img, str(folder / f"{i}.png"))
                made[(split, cls, i)] = img
    write_png(torch.randint(0, 256, (1, 20, 12), dtype=torch.uint8),
              str(tmp_path / "pets" / "train" / "dog" / "2.png"))  # gray, other size

    train = data.load("image_folder", path=tmp_path / "pets", size=8)
    assert train.classes == ("cat", "dog") and train.labels.tolist() == [0, 0, 1, 1, 1]
    assert train.images.shape == (5, 3, 8, 8)
    assert torch.equal(train.images[0], made[("train", "cat", 0)])
    assert torch.equal(train.images[3], made[("train", "dog", 1)])
    test = data.load("image_folder", "test", path=tmp_path / "pets", size=(8, 8))
    assert torch.equal(test.images[2], made[("valid", "dog", 0)])
    assert data.load("image_folder", path=tmp_path / "pets", size=16).image_size == (16, 16)
    assert data.available("image_folder", path=tmp_path / "pets")

    (tmp_path / "pets" / "train" / "cat" / "bad.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(CorruptDataError, match="bad.png"):
        data.load("image_folder", path=tmp_path / "pets", size=8)
    with pytest.raises(DataUnavailableError, match="Expected layout"):
        data.load("image_folder", path=tmp_path / "pets" / "train")


# --------------------------------------------------------------------------- the real thing

SYSTEM_FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not SYSTEM_FASHION.is_dir(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_debian_package(tmp_path, monkeypatch):
    monkeypatch.setattr(data.locations, "FASHION_MNIST_SYSTEM_DIRS", (SYSTEM_FASHION,))
    assert data.available("fashion_mnist", root=tmp_path)
    train = data.load("fashion_mnist", root=tmp_path)
    test = data.load("fashion_mnist", "test", root=tmp_path)
    assert train.images.shape == (60_000, 1, 28, 28) and len(test) == 10_000
    assert train.labels.bincount().tolist() == [6000] * 10
    assert train.num_classes == 10 and train.classes[-1] == "Ankle boot"
    assert abs(train.images.float().mean().item() / 255 - 0.2860) < 1e-3


class _WritesAFile:
    """A pickle payload that would create a file when unpickled by plain `pickle.load`."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


@pytest.mark.parametrize("protocol", [2, 4])
def test_a_cifar_pickle_that_runs_code_is_refused(tmp_path, protocol):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    target = tmp_path / "pwned.txt"
    payload = {"data": np.zeros((1, 3072), np.uint8), "labels": [0], "x": _WritesAFile(target)}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]:
        with open(folder / name, "wb") as handle:
            pickle.dump(payload, handle, protocol=protocol)
    with pytest.raises(CorruptDataError, match=r"refused to load (io|builtins)\.open"):
        data.load("cifar10", root=tmp_path)
    assert not target.exists()
