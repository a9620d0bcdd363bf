"""Study 03's run design: data preparation, run grid, source handling, summaries."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
import torch

from initlab import data, profiles
from initlab.models.pretrained import WeightsUnavailableError
from initlab.studies import agop_nfm_init as study

STUDY = "03_agop_nfm_init"


def gray_set(n: int = 4, size: int = 28, channels: int = 1) -> data.ImageSet:
    images = torch.randint(1, 255, (n, channels, size, size), dtype=torch.uint8)
    return data.ImageSet(images, torch.zeros(n, dtype=torch.int64), ("a",), (0.3,) * channels,
                         (0.2,) * channels, "toy")


def test_prepare_pads_28_to_32_with_zeros_and_matches_channels():
    small = gray_set()
    padded = study.prepare(small, 32, 1)
    assert padded.image_size == (32, 32)
    assert torch.equal(padded.images[:, :, 2:30, 2:30], small.images)
    assert padded.images[:, :, :2].eq(0).all() and padded.images[:, :, :, 30:].eq(0).all()
    rgb = study.prepare(small, 32, 3)
    assert rgb.in_channels == 3 and rgb.mean == (0.3,) * 3
    assert torch.equal(rgb.images[:, 0], rgb.images[:, 2])
    back = study.prepare(gray_set(channels=3, size=32), 32, 1)
    assert back.in_channels == 1 and back.mean == pytest.approx((0.3,))
    assert study.prepare(small, 224, 1).image_size == (28, 28)  # upsampled per batch instead


def test_the_run_grid_is_paired_and_shares_one_source():
    cfg = profiles.load(STUDY, "quick", runs=3)
    runs = study.run_settings(cfg)
    assert len(runs) == len(cfg.datasets) * len(cfg.inits) * 3
    assert {r.seed for r in runs} == {0, 1, 2}
    assert all(len(r.datasets) == 1 and len(r.inits) == 1 for r in runs)
    assert {study.source_settings(r, r.datasets[0]) for r in runs} == set(study.source_runs(cfg))
    with pytest.raises(ValueError, match="must not be trained on the target"):
        study.source_settings(dataclasses.replace(cfg, pretrained="fashion_mnist"),
                              "fashion_mnist")
    with pytest.raises(ValueError, match="inits"):
        profiles.load(STUDY, "smoke", inits="nfm,bogus")


def test_a_checkpoint_file_is_a_source_and_missing_imagenet_weights_say_what_to_do(
        tmp_path, monkeypatch):
    cfg = profiles.load(STUDY, "smoke")
    src = study.source_settings(cfg, "digits")
    model = study.new_model(src, 10, 1, seed=3)
    path = tmp_path / "vgg.pth"
    torch.save(model.state_dict(), path)
    loaded, curves = study.load_source(dataclasses.replace(src, pretrained=str(path)), "cpu")
    assert curves.empty
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(),
                                                   model.state_dict().values()))

    def offline(model, name):
        raise WeightsUnavailableError("ImageNet weights for vgg11 are not available")

    monkeypatch.setattr(study, "load_imagenet", offline)
    imagenet = dataclasses.replace(src, pretrained="imagenet", width=1.0, channels=3)
    with pytest.raises(WeightsUnavailableError, match="-p pretrained path/to/vgg11.pth"):
        study.load_source(imagenet, "cpu")


def test_best_validation_and_loss_gap_read_the_curves():
    rows = []
    for epoch, (train_loss, val_loss, val_acc) in enumerate([(2.0, 2.5, 0.3), (1.0, 1.6, 0.5),
                                                             (0.5, 1.4, 0.4)], start=1):
        rows += [dict(epoch=epoch, split="train", metric="loss", value=train_loss),
                 dict(epoch=epoch, split="val", metric="loss", value=val_loss),
                 dict(epoch=epoch, split="val", metric="accuracy", value=val_acc)]
    rows.append(dict(epoch=0, split="val", metric="accuracy", value=0.9))  # before training
    curves = pd.DataFrame(rows).assign(dataset="d", init="nfm", seed=0)
    best = study.best_validation(curves)
    assert best.best_val_accuracy.tolist() == pytest.approx([50.0])  # epoch 0 is not counted
    assert study.loss_gap(curves).gap.tolist() == pytest.approx([0.5, 0.6, 0.9])
    table = study.reported_vs_ours(best, ("nfm",))
    assert table.loc["nfm", "reported cifar10"] == 79.32
    assert table.loc["nfm", "ours d mean"] == pytest.approx(50.0)
    assert list(table.columns[-3:]) == ["ours d mean", "ours d std", "ours d count"]
