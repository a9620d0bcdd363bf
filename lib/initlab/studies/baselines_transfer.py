"""Study 04: how a simple CNN and a reduced AlexNet learn, what their features look like, and
how much a pretrained backbone helps on a small two-class task (STUDIES.md section 04).

Three kinds of store runs, each named by only the settings it depends on (so changing the
transfer settings never retrains a baseline, and the other way round):
- `BaselineRun`: one model trained on one data set; its learning curves, confusion matrix,
  two most confused class pairs, and t-SNE of its intermediate features and outputs;
- `SourceRun`: the fallback "pretrained" backbone (same architecture, trained by this package
  on another data set: the task's data set without the task's classes by default), used when
  ImageNet weights are not available; its weights are stored in the run;
- `TransferRun`: the four transfer variants under one seed, their validation accuracy and the
  t-SNE of each one's features with a linear probe's accuracy on the 2-D embedding.
"""

from __future__ import annotations

import dataclasses
import functools
import time

import pandas as pd
import torch

from initlab import data, features, store, transfer
from initlab.devices import derive_seed, pick_device
from initlab.models import build_model, count_parameters
from initlab.models.pretrained import load_imagenet
from initlab.profiles import BaselinesTransferSettings
from initlab.train import evaluate, fit

STUDY = "04_baselines_transfer"
INTERMEDIATE = {"simple_cnn": "penultimate", "reduced_alexnet": "flatten"}
"""The intermediate layer the study plots: SimpleCNN's 128-d layer, AlexNet's flat conv output."""
IMAGE_SIZE = {"simple_cnn": 28, "reduced_alexnet": 32}
IMAGENET_STATS = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


# --------------------------------------------------------------------------- baselines


@dataclasses.dataclass(frozen=True)
class BaselineRun:
    model: str
    dataset: str
    width: float
    epochs: int
    optimizer: str
    lr: float
    batch_size: int
    train_size: int
    tsne_points: int
    perplexity: float
    tsne_iterations: int
    seed: int


def baseline_runs(cfg: BaselinesTransferSettings) -> list[BaselineRun]:
    """SimpleCNN (SGD, Nesterov) and, unless `alexnet_dataset` is "", the reduced AlexNet (Adam)."""
    common = dict(batch_size=cfg.batch_size, tsne_points=cfg.tsne_points,
                  perplexity=cfg.perplexity, tsne_iterations=cfg.tsne_iterations, seed=cfg.seed)
    runs = [BaselineRun("simple_cnn", cfg.dataset, cfg.simple_width, cfg.simple_epochs, "sgd",
                        cfg.simple_lr, train_size=cfg.simple_train_size, **common)]
    if cfg.alexnet_dataset:
        runs.append(BaselineRun("reduced_alexnet", cfg.alexnet_dataset, cfg.alexnet_width,
                                cfg.alexnet_epochs, "adam", cfg.alexnet_lr,
                                train_size=cfg.alexnet_train_size, **common))
    return runs


def baseline_data(run: BaselineRun) -> tuple[data.ImageSet, data.ImageSet]:
    """(train, validation = the test split, as in the original), fitted to the model's input:
    AlexNet gets 32x32 RGB (1-channel 28x28 sets are zero-padded and repeated)."""
    train, test = (data.load(run.dataset, split) for split in ("train", "test"))
    if run.train_size:
        train = train.chunks(1, run.train_size, seed=derive_seed(run.seed, "train-subset"))[0]
    if run.model == "reduced_alexnet" and (train.in_channels, *train.image_size) != (3, 32, 32):
        train, test = (transfer.as_rgb(s, 32, how="pad") for s in (train, test))
    return train, test


def run_baseline(run: BaselineRun, device: str = "auto") -> dict:
    """Train, then look inside: curves, confusion, most confused pairs, t-SNE + linear probe."""
    device = pick_device(device)
    train, test = baseline_data(run)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(run.seed, run.model, "init"))
        model = build_model(run.model, train.num_classes, train.in_channels, run.width,
                            image_size=train.image_size[0])
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):  # dropout draws from torch's global generator
        torch.manual_seed(derive_seed(run.seed, run.model, "dropout"))
        history = fit(model, train, test, optimizer=run.optimizer, lr=run.lr, epochs=run.epochs,
                      batch_size=run.batch_size, nesterov=run.optimizer == "sgd", device=device,
                      seed=derive_seed(run.seed, run.model, "batches"), name=run.model)
    seconds = time.perf_counter() - start  # of this process: less when fit resumed a checkpoint
    logits = features.extract(model, test, "output", device)
    matrix = features.confusion(test.labels, logits.argmax(1), test.num_classes)
    acc = history.frame.query("split == 'val' and metric == 'accuracy'")
    best = acc.loc[acc.value.idxmax()] if len(acc) else None
    summary = pd.DataFrame([dict(
        model=run.model, dataset=run.dataset, parameters=count_parameters(model),
        train_images=len(train), epochs=run.epochs, seconds=seconds,
        test_accuracy=float((logits.argmax(1) == test.labels).float().mean()),
        best_val_accuracy=float(best.value) if best is not None else float("nan"),
        best_epoch=int(best.epoch) if best is not None else 0)])
    pick = features.sample(len(test), run.tsne_points, derive_seed(run.seed, "tsne-points"))
    subset = test.subset(pick)
    result = dict(curves=history.frame, summary=summary, confused=features.most_confused(
        matrix, test.classes), classes=pd.DataFrame(dict(name=test.classes)),
        confusion=torch.from_numpy(matrix), tsne_labels=subset.labels)
    probes = []
    for layer in ("intermediate", "output"):
        x = features.extract(model, subset, INTERMEDIATE[run.model] if layer == "intermediate"
                             else "output", device)
        embedding = features.tsne(x, derive_seed(run.seed, "tsne", layer), run.perplexity,
                                  run.tsne_iterations)
        result[f"tsne_{layer}"] = torch.from_numpy(embedding)
        probes.append(dict(layer=layer, dims=x.shape[1], accuracy=features.embedding_accuracy(
            embedding, subset.labels, derive_seed(run.seed, "probe", layer))))
    result["embedding"] = pd.DataFrame(probes)
    return result


# --------------------------------------------------------------------------- transfer


@dataclasses.dataclass(frozen=True)
class SourceRun:
    backbone: str
    width: float
    dataset: str
    exclude: tuple[int, ...]  # the target task's classes, left out of pretraining
    image_size: int
    train_size: int
    epochs: int
    lr: float
    batch_size: int
    seed: int


@dataclasses.dataclass(frozen=True)
class TransferRun:
    folder: str
    dataset: str
    classes: tuple[int, ...]
    train_size: int
    val_size: int
    image_size: int
    backbone: str
    width: float
    pretrained: str  # "imagenet" or the store name of the SourceRun
    perplexity: float
    tsne_iterations: int
    task_seed: int  # which images make the task (the same for every seed)
    seed: int
    # how the variants train (transfer.Recipe's fields)
    head: str
    lr: float
    batch_size: int
    scratch_epochs: int
    head_epochs: int
    svm_c: float
    shear: float
    zoom: tuple[float, ...]


def source_run(cfg: BaselinesTransferSettings) -> SourceRun | None:
    """The fallback backbone's run, or None when the study uses ImageNet weights."""
    if cfg.pretrained == "imagenet":
        return None
    if cfg.pretrained != "source":
        raise ValueError(f"pretrained must be 'imagenet' or 'source', got {cfg.pretrained!r}")
    dataset = cfg.source_dataset or cfg.task_dataset
    if cfg.folder and not cfg.source_dataset:
        raise ValueError("pretrained='source' with an image folder needs source_dataset= (the "
                         "data set to pretrain the backbone on)")
    exclude = tuple(cfg.task_classes) if dataset == cfg.task_dataset and not cfg.folder else ()
    return SourceRun(cfg.backbone, cfg.backbone_width, dataset, exclude, cfg.image_size,
                     cfg.source_train_size, cfg.source_epochs, cfg.transfer_lr,
                     4 * cfg.transfer_batch_size, cfg.seed)


def transfer_runs(cfg: BaselinesTransferSettings) -> list[TransferRun]:
    source = source_run(cfg)
    pretrained = "imagenet" if source is None else store.run_name(source)
    recipe = dict(head=cfg.head, lr=cfg.transfer_lr, batch_size=cfg.transfer_batch_size,
                  scratch_epochs=cfg.scratch_epochs, head_epochs=cfg.head_epochs,
                  svm_c=cfg.svm_c, shear=cfg.shear, zoom=tuple(cfg.zoom))
    return [TransferRun(cfg.folder, "" if cfg.folder else cfg.task_dataset,
                        () if cfg.folder else tuple(cfg.task_classes), cfg.task_train_size,
                        cfg.task_val_size, cfg.image_size, cfg.backbone, cfg.backbone_width,
                        pretrained, cfg.perplexity, cfg.tsne_iterations, cfg.seed, cfg.seed + i,
                        **recipe)
            for i in range(cfg.transfer_seeds)]


def run_source(run: SourceRun, device: str = "auto") -> dict:
    """Pretrain the backbone on the source task; store its weights and normalization."""
    device = pick_device(device)
    train, test = transfer.source_data(run.dataset, run.exclude, run.image_size)
    if run.train_size:
        train = train.chunks(1, run.train_size, seed=derive_seed(run.seed, "source-subset"))[0]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(run.seed, "source-init"))
        model = build_model(run.backbone, train.num_classes, 3, run.width)
    history = fit(model, train, test, optimizer="adam", lr=run.lr, epochs=run.epochs,
                  batch_size=run.batch_size, device=device,
                  seed=derive_seed(run.seed, "source-batches"), name="source backbone")
    _, accuracy = evaluate(model, test, device)
    summary = pd.DataFrame([dict(dataset=run.dataset, classes=", ".join(train.classes),
                                 train_images=len(train), test_accuracy=accuracy)])
    stats = pd.DataFrame(dict(mean=train.mean, std=train.std))
    state = {f"state.{k}": v.cpu() for k, v in model.state_dict().items()}
    return dict(curves=history.frame, summary=summary, stats=stats, **state)


def _backbone_factory(run: TransferRun, source: dict | None) -> transfer.Backbone:
    """backbone(pretrained) -> (headless model, width): ImageNet weights, the stored source
    weights, or (pretrained=False) a fresh draw from the current RNG."""
    def make(pretrained: bool):
        classes = 1000 if source is None else len(source["state.fc.weight"])
        model = build_model(run.backbone, classes, 3, run.width)
        if pretrained and source is None:
            load_imagenet(model, run.backbone)
        elif pretrained:
            model.load_state_dict({k[6:]: v for k, v in source.items() if k.startswith("state.")})
        return transfer.strip_head(model)
    return make


def task_data(run: TransferRun) -> tuple[data.ImageSet, data.ImageSet]:
    if run.folder:
        return transfer.folder_task(run.folder, run.image_size)
    return transfer.class_task(run.dataset, run.classes, run.train_size, run.val_size,
                               run.image_size, seed=derive_seed(run.task_seed, "task"))


def run_transfer(run: TransferRun, source_settings: SourceRun | None = None,
                 device: str = "auto") -> dict:
    """The four variants under one seed: accuracy, curves, and t-SNE of their features."""
    device = pick_device(device)
    source = None
    if run.pretrained != "imagenet":
        if source_settings is None or store.run_name(source_settings) != run.pretrained:
            raise ValueError(f"run_transfer needs the SourceRun named {run.pretrained}")
        source = store.run(STUDY, source_settings, functools.partial(run_source, device=device))
        stats = (tuple(source["stats"]["mean"]), tuple(source["stats"]["std"]))
    else:
        stats = IMAGENET_STATS
    train, val = (s.with_normalization(*stats) for s in task_data(run))
    backbone = _backbone_factory(run, source)
    steps = transfer.Recipe(**{f.name: getattr(run, f.name)
                               for f in dataclasses.fields(transfer.Recipe)})
    rows, probes, curves, result = [], [], [], {"labels": val.labels}
    for variant in transfer.VARIANTS:
        seed = derive_seed(run.seed, "variant", variant)
        accuracy, x, frame = transfer.run_variant(variant, backbone, train, val, steps, device,
                                                  seed)
        embedding = features.tsne(x, derive_seed(run.seed, "tsne", variant), run.perplexity,
                                  run.tsne_iterations)
        result[f"tsne_{variant}"] = torch.from_numpy(embedding)
        rows.append(dict(variant=variant, accuracy=accuracy))
        probes.append(dict(variant=variant, accuracy=features.embedding_accuracy(
            embedding, val.labels, derive_seed(run.seed, "probe", variant))))
        curves.append(frame.assign(variant=variant))
    task = pd.DataFrame([dict(source=run.folder or run.dataset, classes=", ".join(train.classes),
                              train_images=len(train), val_images=len(val),
                              image_size=run.image_size)])
    return dict(result, accuracy=pd.DataFrame(rows), embedding=pd.DataFrame(probes),
                curves=pd.concat(curves, ignore_index=True), task=task)


def pretrained_backbone(cfg: BaselinesTransferSettings, check: bool = True) -> str:
    """Which backbone "pretrained" means in this run, in words. With `check`, fails at once
    (before any training) when ImageNet weights are asked for but absent, saying how to fall
    back."""
    from initlab.models.pretrained import WeightsUnavailableError, imagenet_state_dict

    source = source_run(cfg)
    if source is not None:
        classes = f"without classes {list(source.exclude)}" if source.exclude else "all classes"
        return (f"a {cfg.backbone} (width {cfg.backbone_width}) trained by this study on "
                f"`{source.dataset}` ({classes}, {cfg.source_epochs} epochs): the fallback for "
                "ImageNet weights")
    try:
        if check:
            imagenet_state_dict(cfg.backbone)
    except WeightsUnavailableError as error:
        raise WeightsUnavailableError(
            f"{error}\nStudy 04 without ImageNet weights: `initlab run {STUDY} -p pretrained "
            "source` pretrains the same architecture on source_dataset (default: the task's "
            "data set without the task's classes).") from error
    return f"torchvision's ImageNet weights for {cfg.backbone}"


# The original report. Baselines: best validation accuracy (%) and its epoch.
REPORTED_BASELINES = {"simple_cnn": ("mnist", 99.01, 10), "reduced_alexnet": ("cifar10", 72.0, 14)}
# Transfer (Alien vs Predator, 200 validation images): accuracy, and a linear classifier's
# accuracy on the 2-D t-SNE embedding of each variant's features.
REPORTED_TRANSFER = {"scratch": 0.72, "svm": 0.905, "head": 0.935, "head_aug": 0.95}
REPORTED_EMBEDDING = {"scratch": 0.70, "svm": 0.79, "head": 0.84, "head_aug": 0.93}
VARIANT_NAMES = {"scratch": "from scratch", "svm": "frozen backbone + linear SVM",
                 "head": "fine-tuned head", "head_aug": "fine-tuned head + augmentation"}
