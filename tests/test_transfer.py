"""Transfer learning pieces of study 04: shear/zoom augmentation, tasks, frozen backbones."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torchvision.io import write_png
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from initlab import profiles
from initlab.data import CorruptDataError, ImageSet, augment
from initlab.models import build_model
from initlab.studies.baselines_transfer import runs as study
from initlab.studies.baselines_transfer import transfer
from initlab.training.fit import fit
from initlab.training.recipe import Recipe
from initlab.training.runtime import Runtime

CPU = Runtime("cpu", progress="off")


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_affine_matches_torchvision_per_image(mode):
    n, h, w = 16, 28, 20  # not square: the shear term is rescaled per axis
    x = torch.rand(n, 2, h, w, generator=gen(0)) * 2 - 1
    shear, scale = torch.rand(n, generator=gen(1)) * 20 - 10, torch.rand(n, generator=gen(2)) + 0.5
    ours = augment._affine_by(x, shear, scale, -1.0, mode)

    def reference(img, i, fill):
        return TF.affine(img, angle=0.0, translate=[0, 0], scale=float(scale[i]),
                         shear=[float(shear[i]), 0.0], interpolation=InterpolationMode(mode),
                         fill=fill)

    ref = torch.stack([reference(x[i], i, -1.0) for i in range(n)])
    # torchvision blends pixels sampled partly outside the image differently (see warp.warp)
    mask = torch.stack([reference(torch.ones(2, h, w), i, 0.0) for i in range(n)])
    inside = (mask == 0) | (mask == 1)
    assert inside.float().mean() > 0.85
    torch.testing.assert_close(ours[inside], ref[inside], atol=2e-5, rtol=0)


def test_affine_draws_within_its_ranges_and_replicates_borders():
    x = torch.rand(64, 1, 16, 16, generator=gen(0))
    assert torch.allclose(augment.affine(x, gen(1), shear=0.0, scale=(1.0, 1.0)), x, atol=1e-5)
    out = augment.affine(x, gen(1))
    assert torch.equal(out, augment.affine(x, gen(1)))  # seeded
    assert (out - x).abs().mean() > 0.05
    # border replication never invents values outside the image's range (no fill frame)
    assert out.min() >= x.min() - 1e-6 and out.max() <= x.max() + 1e-6
    flat = torch.full((4, 3, 12, 12), 0.7)
    assert torch.allclose(augment.affine(flat, gen(2), shear=30.0, scale=(0.5, 0.6)), flat)
    filled = augment.affine(flat, gen(2), shear=0.0, scale=(0.5, 0.5), fill=-1.0)
    assert filled[:, :, 0, 0].eq(-1.0).all()
    assert torch.allclose(filled[:, :, 6, 6], torch.tensor(0.7))
    aug = transfer.augmentation()
    assert aug(x, gen(3)).shape == x.shape


def grey_set(n: int = 12, classes: int = 3, side: int = 28) -> ImageSet:
    images = torch.randint(0, 256, (n, 1, side, side), dtype=torch.uint8, generator=gen(0))
    labels = torch.arange(n) % classes
    return ImageSet(images, labels, tuple("abcdefgh"[:classes]), (0.3,), (0.2,), "grey")


def test_as_rgb_pads_or_resizes_and_repeats_the_stats():
    grey = grey_set()
    padded = transfer.as_rgb(grey, 32, how="pad")
    assert padded.images.shape == (12, 3, 32, 32) and padded.mean == (0.3,) * 3
    assert torch.equal(padded.images[:, 1, 2:30, 2:30], grey.images[:, 0])
    assert padded.images[:, :, :2].eq(0).all() and padded.images[:, :, :, 30:].eq(0).all()
    resized = transfer.as_rgb(grey, 64)
    assert resized.images.shape == (12, 3, 64, 64) and resized.images.dtype == torch.uint8
    with pytest.raises(ValueError, match="do not fit"):
        transfer.as_rgb(grey, 16, how="pad")


def test_balanced_sample_and_the_digits_task():
    part = transfer.balanced_sample(grey_set(30, 3), 7, seed=1)
    assert torch.bincount(part.labels).tolist() == [3, 2, 2]
    assert torch.equal(part.images, transfer.balanced_sample(grey_set(30, 3), 7, seed=1).images)
    train, val = transfer.class_task("digits", (3, 8), 40, 20, 24, seed=0)
    assert train.classes == ("3", "8") and train.images.shape == (40, 3, 24, 24)
    assert torch.bincount(train.labels).tolist() == [20, 20] and len(val) == 20
    with pytest.raises(ValueError, match="has 36 images, 50 wanted"):
        transfer.class_task("digits", (3, 8), 10, 100, 24, seed=0)


def test_source_task_leaves_out_the_target_classes(tmp_path):
    train, test = transfer.source_data("digits", (3, 8), 16)
    assert train.classes == tuple(str(d) for d in (0, 1, 2, 4, 5, 6, 7, 9))
    assert train.images.shape[1:] == (3, 16, 16) and test.num_classes == 8
    cfg = profiles.load(study.STUDY, "smoke")
    assert study.source_run(cfg).exclude == (3, 8)
    assert study.source_run(dataclasses.replace(cfg, pretrained="imagenet")) is None
    for split in ("train", "validation"):
        (tmp_path / split).mkdir()
    with pytest.raises(ValueError, match="^source_dataset: .* needs the data set"):
        dataclasses.replace(cfg, folder=str(tmp_path))
    with pytest.raises(ValueError, match="^folder: no such directory '/somewhere'"):
        dataclasses.replace(cfg, folder="/somewhere")
    runs = study.transfer_runs(cfg)
    assert [r.seed for r in runs] == [0, 1] and len({r.pretrained for r in runs}) == 1


def test_a_frozen_backbone_keeps_its_weights_and_batchnorm_statistics():
    torch.manual_seed(0)
    backbone, dim = transfer.strip_head(build_model("resnet18", 5, 3, width=0.125))
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    net = transfer.transfer_net(backbone, dim, 2, "mlp", frozen=True)
    head_before = [p.clone() for p in net.head.parameters()]
    task = transfer.as_rgb(grey_set(16, 2, 32), 32)
    fit(net, task, recipe=Recipe(epochs=2, batch_size=8), runtime=CPU, seed=0)
    after = net.backbone.module.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # incl. BN running stats
    assert not net.backbone.module.training
    assert any(not torch.equal(a, b) for a, b in zip(head_before, net.head.parameters()))
    assert sum(p.requires_grad for p in net.parameters()) == 4  # two linear layers


def test_every_variant_runs_and_reports_what_it_classifies_from():
    train = transfer.as_rgb(grey_set(24, 2, 32), 32)
    val = transfer.as_rgb(grey_set(10, 2, 32), 32)

    def backbone(pretrained: bool):
        torch.manual_seed(123 if pretrained else torch.seed() % 1000)
        return transfer.strip_head(build_model("resnet18", 4, 3, width=0.125))

    plan = transfer.TransferPlan.adam(1e-3, batch_size=8, scratch_epochs=1, head_epochs=1,
                                      head="mlp")  # the default, "linear", has no hidden layer
    dims = {"svm": 64, "scratch": transfer.HIDDEN, "head": transfer.HIDDEN,
            "head_aug": transfer.HIDDEN}
    for variant in transfer.VARIANTS:
        accuracy, correct, x, curves = transfer.run_variant(variant, backbone, train, val,
                                                            plan, CPU, seed=0)
        assert 0.0 <= accuracy <= 1.0 and x.shape == (10, dims[variant]), variant
        assert curves.empty == (variant == "svm")
        # per-image correctness: one per validation image, and its mean is the accuracy
        assert correct.dtype == torch.bool and correct.shape == (10,)
        assert correct.double().mean().item() == pytest.approx(accuracy, abs=1e-12)


def test_an_alien_vs_predator_shaped_folder_loads_and_names_a_corrupt_file(tmp_path):
    root = tmp_path / "alien-vs-predator"
    for split, n in (("train", 3), ("validation", 2)):
        for cls in ("alien", "predator"):
            (root / split / cls).mkdir(parents=True)
            for i in range(n):
                img = torch.randint(0, 256, (3, 20 + i, 30), dtype=torch.uint8, generator=gen(i))
                write_png(img, str(root / split / cls / f"{i}.png"))
    train, val = transfer.folder_task(str(root), 16)
    assert train.classes == ("alien", "predator") and len(train) == 6 and len(val) == 4
    assert train.images.shape == (6, 3, 16, 16)
    (root / "validation" / "predator" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(CorruptDataError, match="broken.png"):
        transfer.folder_task(str(root), 16)


def test_the_study_runs_on_an_image_folder_with_a_digits_pretrained_backbone(tmp_path):
    root = tmp_path / "folder"
    for split, n in (("train", 8), ("validation", 4)):
        for label, cls in enumerate(("alien", "predator")):
            (root / split / cls).mkdir(parents=True)
            for i in range(n):
                img = torch.randint(0, 128, (3, 24, 24), dtype=torch.uint8, generator=gen(i))
                write_png(img + 100 * label, str(root / split / cls / f"{i}.png"))
    cfg = dataclasses.replace(
        profiles.load(study.STUDY, "smoke"), folder=str(root), source_dataset="digits",
        image_size=24, source_epochs=1, scratch_epochs=1, head_epochs=1, transfer_seeds=1)
    source = study.source_run(cfg)
    assert source.exclude == () and "digits" in study.pretrained_backbone(cfg)
    (run,) = study.transfer_runs(cfg)
    result = study.run_transfer(run, CPU, source_settings=source)
    assert result["task"].classes[0] == "alien, predator"
    assert result["task"].train_images[0] == 16 and result["task"].val_images[0] == 8
    assert list(result["accuracy"].variant) == list(transfer.VARIANTS)
    assert result["accuracy"].accuracy.between(0, 1).all()
    assert all(result[f"tsne_{v}"].shape == (8, 2) for v in transfer.VARIANTS)
    with pytest.raises(ValueError, match="needs the SourceRun"):
        study.run_transfer(run, CPU, source_settings=None)


def test_resnet50_is_a_backbone_too():
    backbone, dim = transfer.strip_head(build_model("resnet50", 7, 3))
    assert dim == 2048
    net = transfer.transfer_net(backbone, dim, 2, "mlp", frozen=True).eval()
    with torch.no_grad():
        assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 2)
    with pytest.raises(ValueError, match="no linear `fc`"):
        transfer.strip_head(build_model("simple_cnn", 10, 1))


def test_each_fit_maps_onto_a_training_recipe():
    cfg = dataclasses.replace(profiles.load(study.STUDY, "smoke"), simple_lr=0.02,
                              alexnet_lr=3e-4, transfer_lr=5e-4, transfer_batch_size=16)
    simple, alexnet, *_ = (run.recipe() for run in study.baseline_runs(cfg))  # first seed
    f32 = dict(precision="float32")  # the default on every device
    assert simple == Recipe("sgd", 0.02, momentum=0.9, nesterov=True, epochs=cfg.simple_epochs,
                            batch_size=cfg.batch_size, **f32)
    assert alexnet == Recipe("adam", 3e-4, nesterov=False, epochs=cfg.alexnet_epochs,
                             batch_size=cfg.batch_size, **f32)
    assert study.source_run(cfg).recipe() == Recipe("adam", 5e-4, epochs=cfg.source_epochs,
                                                    batch_size=64, **f32)
    plan = study.transfer_runs(cfg)[0].plan()
    assert plan.recipe("scratch") == Recipe("adam", 5e-4, epochs=cfg.scratch_epochs,
                                            batch_size=16, **f32)
    assert plan.recipe("head") == plan.recipe("head_aug") == Recipe(
        "adam", 5e-4, epochs=cfg.head_epochs, batch_size=16, **f32)
    assert (plan.head, plan.svm_c, plan.shear, plan.zoom) == ("linear", 1.0, 10.0, (0.8, 1.2))
    with pytest.raises(ValueError, match="trains no network"):
        plan.recipe("svm")


def test_the_description_names_the_data_sets_and_the_backbone():
    cfg = profiles.load(study.STUDY, "smoke")
    words = study.describe(cfg)
    assert "SimpleCNN: `digits`" in words and "(padded to 32x32, 3 channels)" in words
    assert "classes [3, 8], 100 training / 60 validation images" in words
    assert "trained by this study on `digits` (without classes [3, 8]" in words
    skipped = study.describe(dataclasses.replace(cfg, alexnet_dataset=""))
    assert "skipped (alexnet_dataset is empty)" in skipped


def test_run_all_without_training_only_reads_the_store(tmp_path):
    from initlab import store

    cfg = profiles.load(study.STUDY, "smoke")
    with pytest.raises(store.MissingRunError, match="not in the store"):
        study.run_all(cfg, CPU, train=False)
    assert not (tmp_path / "store" / study.STUDY).exists()  # nothing trained, nothing written
