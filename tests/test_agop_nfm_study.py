"""Study 03's run design: data preparation, run grid, source handling, recipes."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from initlab import data, profiles
from initlab.models.pretrained import WeightsUnavailableError
from initlab.studies.agop_nfm_init import runs, sources
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
    loaded, curves = sources.load_source(dataclasses.replace(src, pretrained=str(path)),
                                         Runtime("cpu"))
    assert curves.empty
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(),
                                                   model.state_dict().values()))

    def offline(model, name):
        raise WeightsUnavailableError("ImageNet weights for vgg11 are not available")

    monkeypatch.setattr(sources, "load_imagenet", offline)
    imagenet = dataclasses.replace(src, pretrained="imagenet", width=1.0, channels=3)
    with pytest.raises(WeightsUnavailableError, match="-p pretrained path/to/vgg11.pth"):
        sources.load_source(imagenet, Runtime("cpu"))


def test_recipes_come_from_the_settings():
    cfg = profiles.load(STUDY, "smoke", lr=0.02, momentum=0.5, weight_decay=1e-3, batch_size=32)
    assert cfg.recipe() == Recipe("sgd", lr=0.02, momentum=0.5, weight_decay=1e-3,
                                  epochs=cfg.epochs, batch_size=32)
    src = sources.source_settings(cfg, "digits")
    assert src.recipe == Recipe("adam", lr=cfg.source_lr, epochs=cfg.source_epochs,
                                batch_size=32)
    assert src.recipe.weight_decay == 0.0


def test_a_run_needs_one_dataset_and_one_init():
    cfg = profiles.load(STUDY, "smoke")
    with pytest.raises(ValueError, match="one data set and one init"):
        runs.run(cfg, Runtime("cpu"))
