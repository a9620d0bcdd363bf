"""Study 03's settings are checked when they are built (issue 23): every field's range and
its relations to the others fail in `profiles.load`, in one line naming the field, before any
source is trained or any notebook starts."""

from __future__ import annotations

import math

import pytest

from initlab import profiles

STUDY = "03_agop_nfm_init"

BAD = [  # (field, value) that no run can use, each with its reason
    ("datasets", "nosuch"), ("datasets", "digits,digits"), ("datasets", "image_folder"),
    ("inits", "nosuch"), ("inits", "nfm,nfm"), ("init_options", "{nfm: {gain: 2}}"),
    ("model", "resnet18"), ("pretrained_split", "val"),
    ("agop_fresh_head", "nosuch"), ("agop_normalization", "imagenet"), ("agop_bias", "none"),
    ("kaiming_scale", "std"), ("pd_shift", "none"), ("precision", "float16"),
    ("width", 0.0), ("width", -1.0), ("width", math.nan), ("width", math.inf), ("width", 8.0),
    ("image_size", 16), ("image_size", 0), ("image_size", -3), ("image_size", 10**6),
    ("train_size", -1), ("train_size", 10**12), ("train_size", 2000),  # digits has 1,438
    ("val_fraction", 0.0), ("val_fraction", 1.0), ("val_fraction", math.nan),
    ("val_fraction", -0.2), ("val_fraction", 0.0001),  # 0 validation images of 1,438
    ("epochs", 0), ("epochs", -2), ("epochs", 10**12),
    ("batch_size", 0), ("batch_size", 10**12), ("batch_size", 1200),  # fold: 1,150
    ("lr", 0.0), ("lr", -1.0), ("lr", math.nan), ("lr", math.inf), ("lr", 1e-400),
    ("momentum", -5.0), ("momentum", 1.0), ("momentum", math.nan),
    ("weight_decay", -1.0), ("weight_decay", math.inf),
    ("lr_every", -1), ("lr_every", 10**12),
    ("lr_factor", 0.0), ("lr_factor", -0.1), ("lr_factor", 2.0), ("lr_factor", math.nan),
    ("linear_std", 0.0), ("linear_std", -1.0), ("linear_std", math.inf),
    ("pretrained", "/no/such/path.pth"), ("pretrained", "nosuch"),
    ("pretrained_split", "train"),  # smoke's source is digits, its target too
    ("source_epochs", 0), ("source_epochs", 10**12), ("source_lr", 0.0),
    ("source_lr", math.nan), ("agop_images", 0), ("agop_images", -1),
    ("agop_images", 1151), ("agop_classes", -1), ("agop_classes", 11),  # digits' source: 10
    ("agop_classes", 10**12), ("head_classes", -1), ("head_classes", 5),  # < 10 classes
    ("head_classes", 10**12), ("source_seed", -1), ("seed", -1), ("runs", 0),
    ("runs", -1), ("runs", 10**12),
]


@pytest.mark.parametrize(("name", "value"), BAD, ids=[f"{n}={v!r}" for n, v in BAD])
def test_a_bad_value_fails_when_the_settings_are_built(name, value):
    with pytest.raises((ValueError, TypeError)) as error:
        profiles.load(STUDY, "smoke", **{name: value})
    message = str(error.value)
    assert name in message.splitlines()[0] and len(message.splitlines()) == 1


def test_relations_between_fields_name_the_field_they_fail_on():
    with pytest.raises(ValueError, match="^width: torchvision's ImageNet"):
        profiles.load(STUDY, "smoke", pretrained="imagenet")  # width 1/8
    with pytest.raises(ValueError, match="^agop_classes: 20 logits .* cifar10 .* has 10$"):
        profiles.load(STUDY, "paper", agop_classes=20, agop_fresh_head="cifar10")
    with pytest.raises(ValueError, match="^head_classes must be 0 .* from 200"):
        profiles.load(STUDY, "paper", head_classes=100)  # tiny_imagenet has 200 classes
    with pytest.raises(ValueError, match="must not be trained on the target"):
        profiles.load(STUDY, "quick", pretrained="fashion_mnist")


def test_values_that_runs_can_use_pass():
    for profile in ("smoke", "quick", "paper"):
        for as_run in (False, True):
            profiles.load(STUDY, profile, as_run=as_run)
    profiles.load(STUDY, "smoke", pretrained="imagenet", width=1.0, agop_classes=1000)
    profiles.load(STUDY, "smoke", head_classes=0, agop_classes=0, lr_every=8, momentum=0.0,
                  weight_decay=0.0, train_size=100, batch_size=80, agop_images=80)
    profiles.load(STUDY, "paper", head_classes=200, agop_fresh_head="cifar10", agop_classes=10)
