"""Study 03: does sampling VGG11's conv filters from a Gaussian whose covariance is a trained
network's NFM or AGOP beat the standard initializations?

Two kinds of store runs (STUDIES.md section 03):
- a source run per target data set (`SOURCE_STUDY`, `SourceSettings`): the source VGG (ImageNet
  weights, a checkpoint file, or a VGG trained here on another data set), every conv layer's
  NFM and patch AGOP over target images, and the ansatz correlations, trained and untrained;
- a training run per (data set, init, seed): a fresh VGG initialized by the method (conv
  filters) and VGG's rule (linear layers N(0, 0.01^2), biases 0), trained with SGD on 80% of
  the training set, validated on the other 20% every epoch.
Runs with the same seed share the split, the batch order and the linear layers, so inits are
compared pairwise.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from initlab import data, store
from initlab.agop import agop, ansatz_correlation, matrix_sqrt, nfm
from initlab.devices import derive_seed, pick_device
from initlab.init_agop import MATRIX_METHODS, vgg_style
from initlab.models import build_model, conv_layers
from initlab.models.pretrained import WeightsUnavailableError, load_imagenet
from initlab.profiles import AgopNfmSettings
from initlab.train import TrainingDiverged, evaluate, fit

STUDY = "03_agop_nfm_init"
SOURCE_STUDY = "03_agop_nfm_init_source"
UPSAMPLE_FROM = 128  # image_size at or above this: upsample batches on the device, not in memory


@dataclass(frozen=True)
class SourceSettings:
    """What names a source run: the source network and the target images its AGOP sees."""

    target: str
    pretrained: str = "imagenet"
    pretrained_split: str = "train"
    model: str = "vgg11"
    width: float = 1.0
    image_size: int = 224
    channels: int = 3
    source_epochs: int = 20
    source_lr: float = 1e-3
    batch_size: int = 64
    linear_std: float = 0.01
    agop_images: int = 64
    agop_classes: int = 0
    seed: int = 0


class Resized(nn.Module):
    """Upsample batches to `size` on the device before the network (the paper fed 224x224):
    holding a data set at 224x224 would take 50x the memory of 32x32."""

    def __init__(self, net: nn.Module, size: int):
        super().__init__()
        self.net, self.size = net, size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return self.net(x)


def channels_for(cfg: AgopNfmSettings, dataset: str) -> int:
    """ImageNet VGG needs 3 channels (gray images repeated); else the target's own count."""
    if cfg.pretrained == "imagenet":
        return 3
    return 3 if dataset in ("cifar10", "cifar100", "svhn", "tiny_imagenet") else 1


def prepare(images: data.ImageSet, size: int, channels: int) -> data.ImageSet:
    """Match channels (gray repeated to RGB, RGB averaged to gray) and size: 28x28 sets (whose
    background is 0) are zero-padded to 32x32, other sizes resized; at UPSAMPLE_FROM or more the
    images stay as they are and `Resized` upsamples each batch on the device."""
    x, mean, std = images.images, images.mean, images.std
    if x.shape[1] != channels:
        if channels == 3:
            x, mean, std = x.repeat(1, 3, 1, 1), mean * 3, std * 3
        else:
            x = x.float().mean(1, keepdim=True).round().to(torch.uint8)
            mean, std = (sum(mean) / len(mean),), (sum(std) / len(std),)
    native = x.shape[-1]
    if size < UPSAMPLE_FROM and native != size:
        if native == 28 and size == 32:
            x = F.pad(x, (2, 2, 2, 2))
        else:
            import torchvision.transforms.functional as TF

            x = TF.resize(x, [size, size], antialias=True)
    return dataclasses.replace(images, images=x.contiguous(), mean=mean, std=std)


def new_model(cfg, num_classes: int, channels: int, seed: int, image_size: int | None = None):
    """A fresh VGG (PyTorch's default draw under `seed`, before any initializer)."""
    size = image_size or cfg.image_size
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = build_model(cfg.model, num_classes, channels, cfg.width, image_size=size)
    return Resized(net, size) if size >= UPSAMPLE_FROM else net


def target_data(cfg, dataset: str, seed: int) -> tuple[data.ImageSet, data.ImageSet]:
    """The training set (subsampled to `train_size` if set), prepared, split 80/20 by `seed`."""
    train = data.load(dataset, "train")
    if cfg.train_size and cfg.train_size < len(train):
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(
            derive_seed(seed, "subsample")))
        train = train.subset(order[:cfg.train_size])
    train = prepare(train, cfg.image_size, channels_for(cfg, dataset))
    return train.split(1 - cfg.val_fraction, seed=derive_seed(seed, "split"))


def source_settings(cfg: AgopNfmSettings, dataset: str) -> SourceSettings:
    if cfg.pretrained == dataset and cfg.pretrained_split == "train":
        raise ValueError(f"the source must not be trained on the target's training images: "
                         f"pretrained={dataset!r}; choose another data set (or, for a smoke "
                         "test, pretrained_split='test')")
    fields = {f.name for f in dataclasses.fields(SourceSettings)} - {"target", "channels", "seed"}
    return SourceSettings(target=dataset, channels=channels_for(cfg, dataset),
                          seed=cfg.source_seed, **{k: getattr(cfg, k) for k in fields})


def _imagenet_source(src: SourceSettings) -> nn.Module:
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


def _checkpoint_source(src: SourceSettings) -> nn.Module:
    """A state-dict file of this architecture; its head size and layout are read from it."""
    state = torch.load(Path(src.pretrained).expanduser(), map_location="cpu", weights_only=True)
    state = {k.removeprefix("net."): v for k, v in state.items()}
    head = [k for k in state if k.startswith("classifier.") and k.endswith(".weight")]
    classes = state[max(head, key=lambda k: int(k.split(".")[1]))].shape[0]
    convs = [k for k in state if k.startswith("features.") and state[k].dim() == 4]
    last = state[max(convs, key=lambda k: int(k.split(".")[1]))].shape[0]
    large = state["classifier.0.weight"].shape[1] == last * 49  # torchvision's 7x7 head
    model = new_model(src, classes, src.channels, src.seed, 224 if large else src.image_size)
    (model.net if isinstance(model, Resized) else model).load_state_dict(state)
    return model


def _trained_source(src: SourceSettings, device) -> tuple[nn.Module, pd.DataFrame]:
    """A VGG trained here on `pretrained` (another data set), Adam, VGG init; its curves."""
    train = prepare(data.load(src.pretrained, src.pretrained_split), src.image_size, src.channels)
    held_out = "test" if src.pretrained_split == "train" else "train"
    val = prepare(data.load(src.pretrained, held_out), src.image_size, src.channels)
    model = new_model(src, train.num_classes, src.channels, derive_seed(src.seed, "source"))
    vgg_style(model, "kaiming_normal", seed=derive_seed(src.seed, "source-init"),
              linear_std=src.linear_std)
    history = fit(model, train, val, optimizer="adam", lr=src.source_lr, epochs=src.source_epochs,
                  batch_size=src.batch_size, device=device, seed=derive_seed(src.seed, "source"),
                  name=f"source on {src.pretrained}")
    return model, history.frame


def load_source(src: SourceSettings, device) -> tuple[nn.Module, pd.DataFrame]:
    """The source network by `pretrained`, and its training curves (empty unless trained here)."""
    if src.pretrained == "imagenet":
        return _imagenet_source(src), pd.DataFrame()
    if src.pretrained.endswith((".pt", ".pth")) or Path(src.pretrained).expanduser().is_file():
        return _checkpoint_source(src), pd.DataFrame()
    return _trained_source(src, device)


def agop_images(src: SourceSettings) -> torch.Tensor:
    """`agop_images` seeded target training images, normalized, as the source sees them."""
    train = prepare(data.load(src.target, "train"), src.image_size, src.channels)
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(
        derive_seed(src.seed, "agop-images")))
    return train.subset(order[:src.agop_images]).to_float()


def ansatz_rows(nfms: list[torch.Tensor], agops: list[torch.Tensor], state: str) -> list[dict]:
    """Per layer: Pearson r of the NFM with the AGOP and with AGOP^(1/2)."""
    rows = []
    for i, (n, a) in enumerate(zip(nfms, agops)):
        for power, m in (("AGOP", a), ("AGOP^(1/2)", matrix_sqrt(a))):
            rows.append(dict(layer=i + 1, size=len(n), network=state, matrix=power,
                             correlation=ansatz_correlation(n, m)))
    return rows


def run_source(src: SourceSettings, device: str = "auto") -> dict:
    """The source network's NFM and AGOP per conv layer, and the ansatz check, trained and
    untrained (a fresh VGG of the same shape under VGG's init: what correlation needs no
    training)."""
    device = pick_device(device)
    model, curves = load_source(src, device)
    images = agop_images(src).to(device)
    classes = range(src.agop_classes) if src.agop_classes else None
    chunk = 8 if src.image_size >= UPSAMPLE_FROM else 64
    result: dict = {}
    rows = []
    untrained = new_model(src, _head_size(model), src.channels, derive_seed(src.seed, "untrained"),
                          image_size=_input_size(model, src))
    vgg_style(untrained, "kaiming_normal", seed=derive_seed(src.seed, "untrained-init"),
              linear_std=src.linear_std)
    for state, net in (("trained", model), ("untrained", untrained)):
        net.to(device)
        agops = list(agop(net, None, images, classes=classes, chunk_size=chunk).values())
        nfms = [nfm(conv).cpu() for _, conv in conv_layers(net)]
        rows += ansatz_rows(nfms, agops, state)
        if state == "trained":
            result.update({f"nfm.{i}": m for i, m in enumerate(nfms)})
            result.update({f"agop.{i}": m for i, m in enumerate(agops)})
    result["ansatz"] = pd.DataFrame(rows)
    if not curves.empty:  # trained here: keep the weights (small) and the curves
        result["source_curves"] = curves
        result.update({f"state.{k}": v.cpu() for k, v in model.state_dict().items()})
    return result


def _head_size(model: nn.Module) -> int:
    return [m for m in model.modules() if isinstance(m, nn.Linear)][-1].out_features


def _input_size(model: nn.Module, src: SourceSettings) -> int:
    return model.size if isinstance(model, Resized) else src.image_size


def run(cfg: AgopNfmSettings, device: str = "auto") -> dict:
    """One (data set, init, seed): initialize, train with SGD, validate every epoch."""
    if len(cfg.datasets) != 1 or len(cfg.inits) != 1:
        raise ValueError("a run has one data set and one init; use run_settings(cfg)")
    device = pick_device(device)
    (dataset,), (method,) = cfg.datasets, cfg.inits
    train, val = target_data(cfg, dataset, cfg.seed)
    model = new_model(cfg, train.num_classes, train.in_channels, derive_seed(cfg.seed, "model"))
    options = {}
    if method in MATRIX_METHODS:
        source = store.run(SOURCE_STUDY, source_settings(cfg, dataset),
                           functools.partial(run_source, device=device))
        kind = "agop" if "agop" in method else "nfm"
        options["matrices"] = [source[f"{kind}.{i}"] for i in range(len(conv_layers(model)))]
    vgg_style(model, method, seed=derive_seed(cfg.seed, "init"), linear_std=cfg.linear_std,
              **options)
    model.to(device)
    loss0, acc0 = evaluate(model, val, device)
    try:
        history = fit(model, train, val, optimizer="sgd", lr=cfg.lr, epochs=cfg.epochs,
                      batch_size=cfg.batch_size, momentum=cfg.momentum,
                      weight_decay=cfg.weight_decay, device=device,
                      seed=derive_seed(cfg.seed, "batches"), name=f"{dataset} {method}")
        curves, diverged = history.frame, ""
    except TrainingDiverged as error:  # kept as a result: NaN curves, the message in `status`
        curves, diverged = _nan_curves(cfg.epochs), str(error)
    start = pd.DataFrame([dict(epoch=0, split="val", metric="loss", value=loss0),
                          dict(epoch=0, split="val", metric="accuracy", value=acc0)])
    curves = pd.concat([start, curves], ignore_index=True).assign(dataset=dataset, init=method)
    status = pd.DataFrame([dict(dataset=dataset, init=method, train_images=len(train),
                                val_images=len(val), diverged=diverged)])
    return dict(curves=curves, status=status)


def _nan_curves(epochs: int) -> pd.DataFrame:
    return pd.DataFrame([dict(epoch=e, split=s, metric=m, value=float("nan"))
                         for e in range(1, epochs + 1) for s in ("train", "val")
                         for m in ("loss", "accuracy")])


def run_settings(cfg: AgopNfmSettings) -> list[AgopNfmSettings]:
    """One settings per (data set, init, run r): seed + r; same seed = same split and batches."""
    return [dataclasses.replace(cfg, datasets=(d,), inits=(i,), seed=cfg.seed + r)
            for d in cfg.datasets for i in cfg.inits for r in range(cfg.runs)]


def source_runs(cfg: AgopNfmSettings) -> list[SourceSettings]:
    return [source_settings(cfg, d) for d in cfg.datasets]


def best_validation(curves: pd.DataFrame) -> pd.DataFrame:
    """Best validation accuracy (%) over the training epochs, per data set, init and seed."""
    val = curves.query("split == 'val' and metric == 'accuracy' and epoch >= 1")
    best = val.groupby(["dataset", "init", "seed"], sort=False).value.max(min_count=1)
    return (100 * best).rename("best_val_accuracy").reset_index()


def loss_gap(curves: pd.DataFrame) -> pd.DataFrame:
    """Validation minus training loss per epoch (training loss: the running mean of the epoch,
    with dropout on, as the training loop logs it)."""
    loss = curves.query("metric == 'loss' and epoch >= 1")
    wide = loss.pivot_table(index=["dataset", "init", "seed", "epoch"], columns="split",
                            values="value", dropna=False)
    return (wide["val"] - wide["train"]).rename("gap").reset_index()


# The original report: best validation accuracy (%), VGG11 at 224x224, 3 runs.
REPORTED_DATASETS = ("svhn", "cifar10", "cifar100", "tiny_imagenet")
REPORTED = {
    "normal": (92.35, 74.26, 40.18, 27.73),
    "xavier_normal": (92.66, 76.56, 43.09, 28.49),
    "kaiming_uniform": (93.02, 77.32, 44.76, 33.53),
    "kaiming_normal": (93.13, 77.10, 45.31, 32.38),
    "agop": (91.71, 78.61, 42.84, 29.56),
    "nfm": (92.79, 79.32, 44.09, 31.34),
    "kaiming_nfm": (93.23, 78.69, 48.33, 33.78),
}


def reported_vs_ours(best: pd.DataFrame, inits: tuple[str, ...]) -> pd.DataFrame:
    """Per init: the reported numbers per data set beside ours (mean, std, runs)."""
    reported = pd.DataFrame(REPORTED, index=[f"reported {d}" for d in REPORTED_DATASETS]).T
    ours = best.groupby(["init", "dataset"]).best_val_accuracy.agg(["mean", "std", "count"])
    ours = ours.unstack("dataset")
    ours.columns = [f"ours {d} {stat}" for stat, d in ours.columns]
    stats = ("mean", "std", "count")
    ours = ours[sorted(ours.columns, key=lambda c: (c.split()[1], stats.index(c.split()[2])))]
    order = list(inits) + [i for i in REPORTED if i not in inits]
    table = reported.join(ours, how="outer").reindex(order)
    table.index.name = "init"
    return table
