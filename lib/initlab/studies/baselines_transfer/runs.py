"""Study 04: how a simple CNN and a reduced AlexNet learn, what their features look like, and
how much a pretrained backbone helps on a small two-class task (docs/04_baselines_transfer.md).

Three kinds of store runs, each named by only the settings it depends on (their dataclasses
and recipes are in `settings`):
- `BaselineRun`: one model trained on one data set; its learning curves, confusion matrix,
  two most confused class pairs, and t-SNE of its intermediate features and outputs;
- `SourceRun`: the fallback "pretrained" backbone (same architecture, trained by this package
  on another data set: the task's data set without the task's classes by default), used when
  ImageNet weights are not available; its weights are stored in the run;
- `TransferRun`: the four transfer variants under one seed, their validation accuracy and the
  t-SNE of each one's features with a linear probe's accuracy on the 2-D embedding.
`run_all` is what the notebook calls; `describe` says in words what the runs used.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import torch

from initlab import data, store
from initlab.metrics import features
from initlab.models import build_model, count_parameters
from initlab.models.pretrained import load_imagenet
from initlab.seeds import derive_seed
from initlab.studies.baselines_transfer import transfer
from initlab.studies.baselines_transfer.design import STUDY, batches
from initlab.studies.baselines_transfer.settings import (  # noqa: F401 (tests read them here)
    BaselineRun,
    BaselinesTransferSettings,
    SourceRun,
    TransferRun,
    baseline_runs,
    source_run,
    transfer_runs,
)
from initlab.training.fit import fit
from initlab.training.loop import evaluate
from initlab.training.runtime import Runtime

INTERMEDIATE = {"simple_cnn": "penultimate", "reduced_alexnet": "flatten"}
"""The intermediate layer the study plots: SimpleCNN's 128-d layer, AlexNet's flat conv output."""


# --------------------------------------------------------------------------- baselines


def baseline_data(run: BaselineRun) -> tuple[data.ImageSet, data.ImageSet]:
    """(train, validation = the test split, as in the original), fitted to the model's input:
    AlexNet gets 32x32 RGB (1-channel 28x28 sets are zero-padded and repeated)."""
    train, test = (data.load(run.dataset, split) for split in ("train", "test"))
    if run.train_size:
        train = train.chunks(1, run.train_size, seed=derive_seed(run.seed, "train-subset"))[0]
    if run.model == "reduced_alexnet" and (train.in_channels, *train.image_size) != (3, 32, 32):
        train, test = (transfer.as_rgb(s, 32, how="pad") for s in (train, test))
    return train, test


def run_baseline(run: BaselineRun, runtime: Runtime) -> dict:
    """Train, then look inside: curves, confusion, most confused pairs, t-SNE + linear probe."""
    device = runtime.torch_device
    train, test = baseline_data(run)
    options = {"dropout2": run.dropout2} if run.model == "reduced_alexnet" else {}
    model = build_model(run.model, train.num_classes, train.in_channels, run.width,
                        seed=derive_seed(run.seed, run.model, "init"),
                        image_size=train.image_size[0], **options)
    history = fit(model, train, test, recipe=run.recipe(), runtime=runtime,
                  seed=derive_seed(run.seed, run.model, "batches"), name=run.model)
    logits = features.extract(model, test, "output", device)
    matrix = features.confusion(test.labels, logits.argmax(1), test.num_classes)
    acc = history.frame.query("split == 'val' and metric == 'accuracy'")
    best = acc.loc[acc.value.idxmax()] if len(acc) else None
    summary = pd.DataFrame([dict(
        model=run.model, dataset=run.dataset, parameters=count_parameters(model),
        train_images=len(train), epochs=run.epochs,
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


def run_source(run: SourceRun, runtime: Runtime) -> dict:
    """Pretrain the backbone on the source task; store its weights and normalization."""
    train, test = transfer.source_data(run.dataset, run.exclude, run.image_size)
    if run.train_size:
        train = train.chunks(1, run.train_size, seed=derive_seed(run.seed, "source-subset"))[0]
    model = build_model(run.backbone, train.num_classes, 3, run.width,
                        seed=derive_seed(run.seed, "source-init"))
    recipe = run.recipe()
    history = fit(model, train, test, recipe=recipe, runtime=runtime,
                  seed=derive_seed(run.seed, "source-batches"), name="source backbone")
    _, accuracy = evaluate(model, test, runtime, recipe.precision)
    summary = pd.DataFrame([dict(dataset=run.dataset, classes=", ".join(train.classes),
                                 train_images=len(train), test_accuracy=accuracy)])
    stats = pd.DataFrame(dict(mean=train.mean, std=train.std))
    return dict(curves=history.frame, summary=summary, stats=stats, **store.model_tensors(model))


def _backbone_factory(run: TransferRun, source: dict | None) -> transfer.Backbone:
    """backbone(pretrained) -> (headless model, width): ImageNet weights, the stored source
    weights, or (pretrained=False) a fresh draw from the current RNG."""
    def make(pretrained: bool):
        state = None if source is None else store.model_state(source)
        classes = 1000 if state is None else len(state["fc.weight"])
        model = build_model(run.backbone, classes, 3, run.width)
        if pretrained and state is None:
            load_imagenet(model, run.backbone)
        elif pretrained:
            model.load_state_dict(state)
        return transfer.strip_head(model)
    return make


def task_data(run: TransferRun) -> tuple[data.ImageSet, data.ImageSet]:
    """The transfer task: the image folder, or the two-class task built from a data set."""
    if run.folder:
        return transfer.folder_task(run.folder, run.image_size)
    return transfer.class_task(run.dataset, run.classes, run.train_size, run.val_size,
                               run.image_size, seed=derive_seed(run.task_seed, "task"))


def run_transfer(run: TransferRun, runtime: Runtime,
                 source_settings: SourceRun | None = None) -> dict:
    """The four variants under one seed: accuracy, whether each validation image was right,
    curves, and t-SNE of their features."""
    source = None
    if run.pretrained != "imagenet":
        if source_settings is None or store.run_name(source_settings) != run.pretrained:
            raise ValueError(f"run_transfer needs the SourceRun named {run.pretrained}")
        source = store.run(STUDY, source_settings, run_source, runtime=runtime)
        stats = (tuple(source["stats"]["mean"]), tuple(source["stats"]["std"]))
    else:
        stats = data.IMAGENET_STATS
    train, val = (s.with_normalization(*stats) for s in task_data(run))
    backbone, plan = _backbone_factory(run, source), run.plan()
    rows, probes, curves, correct, result = [], [], [], [], {"labels": val.labels}
    embedded: dict[str, tuple[torch.Tensor, float]] = {}  # by the variant whose features
    for variant in transfer.VARIANTS:
        seed = derive_seed(run.seed, "variant", variant)
        accuracy, right, x, frame = transfer.run_variant(variant, backbone, train, val, plan,
                                                         runtime, seed)
        correct.append(pd.DataFrame(dict(variant=variant, image=range(len(val)),
                                         correct=right.numpy())))
        source = transfer.feature_source(variant, plan.head)
        if source not in embedded:
            embedding = features.tsne(x, derive_seed(run.seed, "tsne", variant), run.perplexity,
                                      run.tsne_iterations)
            embedded[source] = (torch.from_numpy(embedding), features.embedding_accuracy(
                embedding, val.labels, derive_seed(run.seed, "probe", variant)))
        result[f"tsne_{variant}"], probe = embedded[source]
        rows.append(dict(variant=variant, accuracy=accuracy))
        probes.append(dict(variant=variant, accuracy=probe, features=source))
        curves.append(frame.assign(variant=variant))
    task = pd.DataFrame([dict(source=run.folder or run.dataset, classes=", ".join(train.classes),
                              train_images=len(train), val_images=len(val),
                              image_size=run.image_size)])
    return dict(result, accuracy=pd.DataFrame(rows), embedding=pd.DataFrame(probes),
                curves=pd.concat(curves, ignore_index=True), task=task,
                correct=pd.concat(correct, ignore_index=True))


# --------------------------------------------------------------------------- the whole study


@dataclasses.dataclass(frozen=True)
class StudyRuns:
    """Every run of the study with its stored result, in the order the notebook shows them."""

    baselines: list[BaselineRun]
    baseline_results: list[dict]
    source: SourceRun | None
    source_result: dict | None
    transfers: list[TransferRun]
    transfer_results: list[dict]

    def baseline_table(self, table: str) -> pd.DataFrame:
        """One stored table of every baseline run, with the run's settings as columns."""
        return store.gather(self.baselines, self.baseline_results, table)

    def first_seed(self) -> tuple[list[BaselineRun], list[dict]]:
        """The baseline runs (and results) of the first seed: what the confusion matrices and
        the t-SNE maps show, one per model."""
        kept = [(r, out) for r, out in zip(self.baselines, self.baseline_results)
                if r.seed == self.baselines[0].seed]
        return [r for r, _ in kept], [out for _, out in kept]

    def transfer_table(self, table: str) -> pd.DataFrame:
        """One stored table of every transfer run (one per seed), with its settings."""
        return store.gather(self.transfers, self.transfer_results, table)


def run_all(cfg: BaselinesTransferSettings, runtime: Runtime, *, train: bool = True) -> StudyRuns:
    """Every run of the study, loaded from the store or (with `train`) computed: the
    baselines, then the fallback backbone (if any), then the transfer runs."""
    baselines, *source, transfers = batches(cfg)
    baseline_results = baselines.run(runtime, train)
    source_result = source[0].run(runtime, train)[0] if source else None
    return StudyRuns(list(baselines.settings), baseline_results, source_run(cfg), source_result,
                     list(transfers.settings), transfers.run(runtime, train))


# --------------------------------------------------------------------------- in words


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


def describe(cfg: BaselinesTransferSettings, check: bool = True) -> str:
    """The data sets and the pretrained backbone of this run, as Markdown for the notebook's
    head: the profile decides them, so the reader needs to see which were used. `check` as
    in `pretrained_backbone`."""
    task = (f"the image folder `{cfg.folder}`" if cfg.folder else
            f"no image folder given, so a two-class task built from `{cfg.task_dataset}` "
            f"(classes {list(cfg.task_classes)}, {cfg.task_train_size} training / "
            f"{cfg.task_val_size} validation images)")
    padded = cfg.alexnet_dataset in ("mnist", "fashion_mnist", "digits")
    alexnet = (f"`{cfg.alexnet_dataset}`" + (" (padded to 32x32, 3 channels)" if padded else "")
               if cfg.alexnet_dataset else "skipped (alexnet_dataset is empty)")
    head = ("a new linear layer" if cfg.head == "linear" else
            f"features -> {transfer.HIDDEN} -> classes (`head=\"mlp\"`)")
    return (f"**Data sets.** SimpleCNN: `{cfg.dataset}`; reduced AlexNet: {alexnet}; transfer: "
            f"{task}, at {cfg.image_size}x{cfg.image_size}.  \n**Pretrained backbone:** "
            f"{pretrained_backbone(cfg, check)}.  \n**Head** of the fine-tuned variants: "
            f"{head}.  \n**Seeds:** {cfg.seeds} per baseline, {cfg.transfer_seeds} for the "
            "transfer variants.")
