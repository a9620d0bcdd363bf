"""Study 03's source network and its matrices: one source run per target data set.

A source run (`design.SOURCE_STUDY`, `SourceSettings`, listed by `design.source_runs`) holds the
source VGG's NFM per conv layer, the normalization its inputs need, its weights when it was
trained here, and the ansatz check of a trained and an untrained VGG. The source is
torchvision's ImageNet VGG, a state-dict file, or a VGG trained here on another data set
(docs/03_agop_nfm_init.md). The target runs (`runs.py`) read the NFMs through `store.run`; a
run with an AGOP init rebuilds the source network (`source_network`) and takes the AGOP over
images of its own training fold (`fold_agop`).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from initlab import catalog, data, store
from initlab.inits.matrix import vgg_style
from initlab.metrics.agop import agop, ansatz_correlation, matrix_sqrt, nfm
from initlab.models import build_model, conv_layers
from initlab.models.pretrained import WeightsUnavailableError, load_imagenet
from initlab.seeds import derive_seed
from initlab.studies.agop_nfm_init.design import (  # noqa: F401 (tests read them here)
    source_runs,
    source_settings,
)
from initlab.studies.agop_nfm_init.settings import AgopNfmSettings, SourceSettings
from initlab.training.fit import fit
from initlab.training.runtime import Runtime

UPSAMPLE_FROM = 128  # image_size at or above this: upsample batches on the device, not in memory

Settings = AgopNfmSettings | SourceSettings
Stats = tuple[tuple[float, ...], tuple[float, ...]]  # per-channel mean and std, [0, 1] units


class Loaded(NamedTuple):
    """A source network, its training curves (empty unless trained here) and the input
    normalization it was trained with (None: unknown)."""
    model: nn.Module
    curves: pd.DataFrame
    stats: Stats | None


class Resized(nn.Module):
    """Upsample batches to `size` on the device before the network (the paper fed 224x224):
    holding a data set at 224x224 would take 50x the memory of 32x32."""

    def __init__(self, net: nn.Module, size: int) -> None:
        super().__init__()
        self.net, self.size = net, size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return self.net(x)


def prepare(images: data.ImageSet, size: int, channels: int) -> data.ImageSet:
    """Match channels (gray repeated to RGB, RGB averaged to gray) and size: 28x28 sets (whose
    background is 0) are zero-padded to 32x32, other sizes resized; at UPSAMPLE_FROM or more the
    images stay as they are and `Resized` upsamples each batch on the device."""
    images = images.with_channels(channels)
    native = images.image_size[0]
    if size >= UPSAMPLE_FROM or native == size:
        return images
    return images.padded(size) if (native, size) == (28, 32) else images.resized(size)


def new_model(cfg: Settings, num_classes: int, channels: int, seed: int,
              image_size: int | None = None) -> nn.Module:
    """A fresh VGG (PyTorch's default draw under `seed`, before any initializer)."""
    size = image_size or cfg.image_size
    net = build_model(cfg.model, num_classes, channels, cfg.width, seed=seed, image_size=size)
    return Resized(net, size) if size >= UPSAMPLE_FROM else net


def _imagenet_source(src: SourceSettings) -> nn.Module:
    """torchvision's ImageNet VGG (the paper's source); offline, the error says what to use."""
    if src.width != 1.0 or src.channels != 3:
        raise ValueError("ImageNet VGG weights need width=1 and 3 channels")
    model = new_model(src, 1000, 3, src.seed, image_size=224)
    try:
        load_imagenet(model.net if isinstance(model, Resized) else model, src.model)
    except WeightsUnavailableError as error:
        raise WeightsUnavailableError(
            f"{error}\nFor this study: `-p pretrained path/to/vgg11.pth` uses a local torchvision "
            "state-dict file; `-p pretrained cifar10` (any other data set) trains a source VGG "
            "here first.") from error
    return model


def _from_state(src: SourceSettings, state: dict[str, torch.Tensor]) -> nn.Module:
    """A VGG of this architecture with `state` loaded; its head size and layout (224x224 or
    small) are read from the state dict."""
    state = {k.removeprefix("net."): v for k, v in state.items()}
    head = [k for k in state if k.startswith("classifier.") and k.endswith(".weight")]
    classes = state[max(head, key=lambda k: int(k.split(".")[1]))].shape[0]
    convs = [k for k in state if k.startswith("features.") and state[k].dim() == 4]
    last = state[max(convs, key=lambda k: int(k.split(".")[1]))].shape[0]
    large = state["classifier.0.weight"].shape[1] == last * 49  # torchvision's 7x7 head
    model = new_model(src, classes, src.channels, src.seed, 224 if large else src.image_size)
    (model.net if isinstance(model, Resized) else model).load_state_dict(state)
    return model


def _checkpoint_source(src: SourceSettings) -> nn.Module:
    """A state-dict file of this architecture."""
    path = Path(src.pretrained).expanduser()
    return _from_state(src, torch.load(path, map_location="cpu", weights_only=True))


def _trained_source(src: SourceSettings, runtime: Runtime) -> Loaded:
    """A VGG trained here on `pretrained` (another data set), Adam, VGG init; its curves and
    its training set's normalization."""
    train = prepare(data.load(src.pretrained, src.pretrained_split), src.image_size, src.channels)
    held_out = "test" if src.pretrained_split == "train" else "train"
    val = prepare(data.load(src.pretrained, held_out), src.image_size, src.channels)
    model = new_model(src, train.num_classes, src.channels, derive_seed(src.seed, "source"))
    vgg_style(model, "kaiming_normal", seed=derive_seed(src.seed, "source-init"),
              linear_std=src.linear_std)
    history = fit(model, train, val, recipe=src.recipe, runtime=runtime,
                  seed=derive_seed(src.seed, "source"), name=f"source on {src.pretrained}")
    return Loaded(model, history.frame, (train.mean, train.std))


def _is_file(src: SourceSettings) -> bool:
    return src.pretrained.endswith((".pt", ".pth")) or Path(src.pretrained).expanduser().is_file()


def load_source(src: SourceSettings, runtime: Runtime) -> Loaded:
    """The source network by `pretrained`, its training curves (empty unless trained here) and
    the normalization it was trained with: ImageNet's for torchvision's weights, its training
    set's for a source trained here, None for a state-dict file (which does not record it)."""
    if src.pretrained == "imagenet":
        return Loaded(_imagenet_source(src), pd.DataFrame(), data.IMAGENET_STATS)
    if _is_file(src):
        return Loaded(_checkpoint_source(src), pd.DataFrame(), None)
    return _trained_source(src, runtime)


def source_network(src: SourceSettings, result: dict) -> nn.Module:
    """The source network again, for a target run: from torchvision or the file, or (trained
    here) from the weights its source run stored."""
    if src.pretrained == "imagenet":
        return _imagenet_source(src)
    if _is_file(src):
        return _checkpoint_source(src)
    return _from_state(src, store.model_state(result))


def source_view(images: data.ImageSet, stats: Stats) -> torch.Tensor:
    """`images` as float, normalized with the source's statistics (not the target's)."""
    return images.with_normalization(*stats).to_float()


def stored_stats(result: dict) -> Stats:
    """The normalization a source run recorded (`run_source`)."""
    frame = result["normalization"]
    return tuple(frame["mean"]), tuple(frame["std"])


def agop_view(src: SourceSettings, images: data.ImageSet, stats: Stats) -> torch.Tensor:
    """The AGOP's input: `images` normalized with the source's `stats`, or (the original's
    `agop_normalization="target"`) with the target data set's own mean and std."""
    return source_view(images, stats) if src.agop_normalization == "source" else images.to_float()


def with_fresh_head(net: nn.Module, classes: int, seed: int) -> nn.Module:
    """A copy of `net` whose last linear layer is a new one with `classes` outputs, drawn as
    PyTorch draws an `nn.Linear` (the original's `net.classifier[6] = nn.Linear(4096, 10)` for
    CIFAR-10), under `seed`."""
    net = copy.deepcopy(net)
    name, last = [(n, m) for n, m in net.named_modules() if isinstance(m, nn.Linear)][-1]
    parent = net.get_submodule(name.rpartition(".")[0]) if "." in name else net
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = nn.Linear(last.in_features, classes)
    setattr(parent, name.rpartition(".")[2], head.to(last.weight))
    return net


def layer_agops(net: nn.Module, images: torch.Tensor, src: SourceSettings) -> list[torch.Tensor]:
    """Every conv layer's patch AGOP of `net` over `images` (float, normalized, on the device),
    over the first `agop_classes` logits (0: all) of the source's head or of a fresh one
    (`agop_head`), with or without the measured layer's bias (`agop_bias`)."""
    if src.agop_head == "fresh":
        net = with_fresh_head(net, catalog.shape(src.target).classes,
                              derive_seed(src.seed, "fresh-head", src.target))
    classes = range(src.agop_classes) if src.agop_classes else None
    chunk = 8 if src.image_size >= UPSAMPLE_FROM else 64
    found = agop(net, None, images, classes=classes, chunk_size=chunk,
                 keep_bias=src.agop_bias == "kept")
    return list(found.values())


def fold_agop(src: SourceSettings, result: dict, images: data.ImageSet,
              runtime: Runtime) -> list[torch.Tensor]:
    """The source's AGOP per conv layer over `images` (a sample of a target run's training
    fold), normalized as the source run recorded (or, as the original, as the target)."""
    device = runtime.torch_device
    net = source_network(src, result).to(device)
    return layer_agops(net, agop_view(src, images, stored_stats(result)).to(device), src)


def ansatz_rows(nfms: list[torch.Tensor], agops: list[torch.Tensor], state: str) -> list[dict]:
    """Per layer: Pearson r of the NFM with the AGOP and with AGOP^(1/2)."""
    rows = []
    for i, (n, a) in enumerate(zip(nfms, agops)):
        for power, m in (("AGOP", a), ("AGOP^(1/2)", matrix_sqrt(a))):
            rows.append(dict(layer=i + 1, size=len(n), network=state, matrix=power,
                             correlation=ansatz_correlation(n, m)))
    return rows


def untrained_twin(model: nn.Module, src: SourceSettings) -> nn.Module:
    """A fresh VGG of the source's shape under VGG's init: the ansatz control (what correlation
    between NFM and AGOP needs no training)."""
    head = [m for m in model.modules() if isinstance(m, nn.Linear)][-1].out_features
    size = model.size if isinstance(model, Resized) else src.image_size
    twin = new_model(src, head, src.channels, derive_seed(src.seed, "untrained"), image_size=size)
    return vgg_style(twin, "kaiming_normal", seed=derive_seed(src.seed, "untrained-init"),
                     linear_std=src.linear_std)


def ansatz_images(src: SourceSettings) -> data.ImageSet:
    """The ansatz check's sample: `agop_images` seeded images of the target's training split.
    It describes the source network only (nothing is trained or chosen on it), so unlike a
    run's AGOP sample it need not avoid any run's validation fold."""
    train = prepare(data.load(src.target, "train"), src.image_size, src.channels)
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(
        derive_seed(src.seed, "agop-images")))
    return train.subset(order[:src.agop_images])


def run_source(src: SourceSettings, runtime: Runtime) -> dict:
    """The source network's NFM per conv layer, its input normalization, and the ansatz check,
    trained and untrained; a source trained here also keeps its weights (small) and curves."""
    device = runtime.torch_device
    model, curves, stats = load_source(src, runtime)
    sample = ansatz_images(src)
    stats = stats or (sample.mean, sample.std)  # a state-dict file: the target's own
    images = agop_view(src, sample, stats).to(device)
    result: dict = {"normalization": pd.DataFrame(dict(mean=stats[0], std=stats[1]))}
    rows = []
    for state, net in (("trained", model), ("untrained", untrained_twin(model, src))):
        net.to(device)
        nfms = [nfm(conv).cpu() for _, conv in conv_layers(net)]
        rows += ansatz_rows(nfms, layer_agops(net, images, src), state)
        if state == "trained":
            result.update({f"nfm.{i}": m for i, m in enumerate(nfms)})
    result["ansatz"] = pd.DataFrame(rows)
    if not curves.empty:
        result["source_curves"] = curves
        result.update(store.model_tensors(model))
    return result
