"""Study 03's run design: data preparation, run grid, source handling, recipes."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from initlab import data, profiles
from initlab.inits import initialize
from initlab.models import build_model
from initlab.models.pretrained import WeightsUnavailableError
from initlab.studies.agop_nfm_init import runs, settings, sources
from initlab.training.recipe import Recipe
from initlab.training.runtime import Runtime

STUDY = "03_agop_nfm_init"


def gray_set(n: int = 4, size: int = 28, channels: int = 1) -> data.ImageSet:
    images = torch.randint(1, 255, (n, channels, size, size), dtype=torch.uint8)
    return data.ImageSet(images, torch.zeros(n, dtype=torch.int64), ("a",), (0.3,) * channels,
                         (0.2,) * channels, "toy")


def test_prepare_pads_28_to_32_with_zeros_and_matches_channels():
    small = gray_set()
    padded = sources.prepare(small, 32, 1)
    assert padded.image_size == (32, 32)
    assert torch.equal(padded.images[:, :, 2:30, 2:30], small.images)
    assert padded.images[:, :, :2].eq(0).all() and padded.images[:, :, :, 30:].eq(0).all()
    rgb = sources.prepare(small, 32, 3)
    assert rgb.in_channels == 3 and rgb.mean == (0.3,) * 3
    assert torch.equal(rgb.images[:, 0], rgb.images[:, 2])
    back = sources.prepare(gray_set(channels=3, size=32), 32, 1)
    assert back.in_channels == 1 and back.mean == pytest.approx((0.3,))
    assert sources.prepare(small, 224, 1).image_size == (28, 28)  # upsampled per batch instead


def test_the_run_grid_is_paired_and_shares_one_source():
    cfg = profiles.load(STUDY, "quick", runs=3)
    grid = runs.run_settings(cfg)
    assert len(grid) == len(cfg.datasets) * len(cfg.inits) * 3
    assert {r.seed for r in grid} == {0, 1, 2}
    assert all(len(r.datasets) == 1 and len(r.inits) == 1 for r in grid)
    assert ({sources.source_settings(r, r.datasets[0]) for r in grid}
            == set(sources.source_runs(cfg)))
    with pytest.raises(ValueError, match="must not be trained on the target"):
        sources.source_settings(dataclasses.replace(cfg, pretrained="fashion_mnist"),
                              "fashion_mnist")
    with pytest.raises(ValueError, match="inits"):
        profiles.load(STUDY, "smoke", inits="nfm,bogus")


def test_a_checkpoint_file_is_a_source_and_missing_imagenet_weights_say_what_to_do(
        tmp_path, monkeypatch):
    cfg = profiles.load(STUDY, "smoke")
    src = sources.source_settings(cfg, "digits")
    model = sources.new_model(src, 10, 1, seed=3)
    path = tmp_path / "vgg.pth"
    torch.save(model.state_dict(), path)
    loaded, curves, stats = sources.load_source(
        dataclasses.replace(src, pretrained=str(path)), Runtime("cpu"))
    assert curves.empty and stats is None  # a file does not say how its inputs were scaled
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(),
                                                   model.state_dict().values()))

    def offline(model, name):
        raise WeightsUnavailableError("ImageNet weights for vgg11 are not available")

    monkeypatch.setattr(sources, "load_imagenet", offline)
    imagenet = dataclasses.replace(src, pretrained="imagenet", width=1.0, channels=3)
    with pytest.raises(WeightsUnavailableError, match="-p pretrained path/to/vgg11.pth"):
        sources.load_source(imagenet, Runtime("cpu"))


def test_recipes_come_from_the_settings():
    cfg = profiles.load(STUDY, "smoke", lr=0.02, momentum=0.5, weight_decay=1e-3, batch_size=32,
                        precision="float32", lr_every=3, lr_factor=0.1)
    assert cfg.recipe() == Recipe("sgd", lr=0.02, momentum=0.5, weight_decay=1e-3,
                                  epochs=cfg.epochs, batch_size=32, lr_every=3, lr_factor=0.1,
                                  precision="float32")
    src = sources.source_settings(cfg, "digits")
    assert src.recipe == Recipe("adam", lr=cfg.source_lr, epochs=cfg.source_epochs,
                                batch_size=32, precision="float32")
    assert src.recipe.weight_decay == 0.0
    assert profiles.load(STUDY, "paper").recipe().precision == "float32"  # on every device
    with pytest.raises(ValueError, match="precision"):
        profiles.load(STUDY, "smoke", precision="float16")


def test_the_agop_sample_comes_from_the_training_fold_only():
    for train_size, seed in ((0, 0), (0, 5), (300, 1), (1000, 2)):
        cfg = profiles.load(STUDY, "smoke", train_size=train_size, agop_images=64)
        train, val = runs.fold_indices(cfg, 1438, seed)
        sample = runs.agop_indices(cfg, train, seed)
        assert len(sample) == 64 and len(set(sample.tolist())) == 64
        assert not set(sample.tolist()) & set(val.tolist())
        assert set(sample.tolist()) <= set(train.tolist())
        assert not set(train.tolist()) & set(val.tolist())
        assert len(train) + len(val) == (train_size or 1438)
    # the run's three image sets are exactly these folds of the training split
    cfg = profiles.load(STUDY, "smoke")
    fold, held_out, images = runs.target_data(cfg, "digits", 3)
    full = sources.prepare(data.load("digits", "train"), cfg.image_size, 1)
    train, val = runs.fold_indices(cfg, len(full), 3)
    assert torch.equal(images.images, full.images[runs.agop_indices(cfg, train, 3)])
    assert torch.equal(fold.images, full.images[train])
    assert torch.equal(held_out.images, full.images[val])
    assert len(images) == cfg.agop_images


@pytest.fixture
def one_thread():
    """One CPU thread, as the runner sets it (two threads contend badly on a busy machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_agop_images_are_normalized_as_the_source_was_trained(monkeypatch, one_thread):
    cfg = profiles.load(STUDY, "smoke", source_epochs=1, datasets="fashion_mnist",
                        pretrained_split="train")  # quick's pair: digits source, Fashion target
    src = sources.source_settings(cfg, "fashion_mnist")
    result = sources.run_source(src, Runtime("cpu", progress="off"))
    source_set = sources.prepare(data.load("digits", "train"), 32, 1)
    mean, std = sources.stored_stats(result)
    assert (mean, std) == (pytest.approx(source_set.mean), pytest.approx(source_set.std))
    target = sources.prepare(data.load("fashion_mnist", "train"), 32, 1)
    assert source_set.mean != pytest.approx(target.mean)  # so the check below can fail
    assert not any(k.startswith("agop.") for k in result)
    sample = target.subset(range(5))
    x = sources.source_view(sample, sources.stored_stats(result))
    by_hand = (sample.images.float() / 255 - source_set.mean[0]) / source_set.std[0]
    assert torch.allclose(x, by_hand, atol=1e-6)
    net = sources.source_network(src, result)  # rebuilt from the stored weights
    trained = {k.removeprefix("model/"): v for k, v in result.items() if k.startswith("model/")}
    assert all(torch.equal(net.state_dict()[k], v) for k, v in trained.items())
    monkeypatch.setattr(sources, "load_imagenet", lambda model, name: None)
    imagenet = dataclasses.replace(src, pretrained="imagenet", width=1.0, channels=3)
    assert sources.load_source(imagenet, Runtime("cpu")).stats == data.IMAGENET_STATS


def test_the_study_labels_map_to_registered_inits():
    assert settings.init_call("xavier_normal") == ("xavier_normal", {"gain": math.sqrt(2)})
    assert settings.init_call("xavier_normal_gain1") == ("xavier_normal", {"gain": 1.0})
    assert settings.init_call("kaiming_nfm") == ("kaiming_nfm", {})
    assert set(settings.AGOP_NFM_INITS) <= set(settings.STUDY_INITS)
    assert profiles.load(STUDY, "paper").inits == settings.AGOP_NFM_INITS


def test_a_run_needs_one_dataset_and_one_init():
    cfg = profiles.load(STUDY, "smoke")
    with pytest.raises(ValueError, match="one data set and one init"):
        runs.run(cfg, Runtime("cpu"))


def test_relative_rms_tracks_the_conv_stacks_gain():
    from initlab.studies.agop_nfm_init import signal

    model = build_model("vgg11", 10, 1, 0.25, seed=0, image_size=32)
    x = torch.randn(8, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    scales = {}
    for init in ("kaiming_normal", "uniform"):
        initialize(model, init, seed=1)
        scales[init] = signal.relative_rms(model, x)
    assert 0.3 < scales["kaiming_normal"] < 5  # Kaiming keeps the scale (ReLU halves it)
    assert scales["uniform"] < 1e-4 * scales["kaiming_normal"]  # 8 layers of gain << 1
    with torch.no_grad():
        for conv in (m for m in model.modules() if isinstance(m, torch.nn.Conv2d)):
            conv.weight.mul_(2.0)  # every conv layer's gain doubles: 2^8 with zero biases
    assert signal.relative_rms(model, x) == pytest.approx(256 * scales["uniform"], rel=1e-4)
