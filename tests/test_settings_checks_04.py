"""Study 04's settings are checked when they are built (issue 23): every field's range and its
relations to the others, one ValueError line naming the field, before any kernel starts."""

from __future__ import annotations

import math

import pytest

from initlab import profiles

STUDY = "04_baselines_transfer"

BAD = [
    ("task_classes", (3, 99)), ("task_classes", (3, -1)), ("task_classes", (3,)),
    ("task_classes", (3, 3)), ("folder", "/no/such/path"),
    ("simple_lr", math.nan), ("alexnet_lr", math.inf), ("transfer_lr", 0.0),
    ("simple_width", 0.0), ("alexnet_width", -1.0), ("backbone_width", math.nan),
    ("simple_epochs", 0), ("alexnet_epochs", 10**6), ("source_epochs", -1),
    ("scratch_epochs", 0), ("head_epochs", 0),
    ("alexnet_dropout2", -0.1), ("alexnet_dropout2", 1.0), ("alexnet_dropout2", math.nan),
    ("simple_train_size", -1), ("simple_train_size", 1439), ("alexnet_train_size", 10**6),
    ("source_train_size", -1), ("source_train_size", 10**6),
    ("batch_size", 0), ("batch_size", 1439),
    ("tsne_points", 3), ("tsne_points", 360),  # digits' test split holds 359 images
    ("perplexity", 0.0), ("perplexity", math.nan), ("tsne_iterations", 100),
    ("task_train_size", 1), ("task_train_size", 10**6),
    ("task_val_size", 9), ("task_val_size", 10**6),  # the probe's 5 folds need 5 per class
    ("transfer_batch_size", 0), ("transfer_batch_size", 101),  # 100 training images
    ("image_size", 4), ("image_size", 5000), ("svm_c", 0.0), ("svm_c", math.inf),
    ("shear", -1.0), ("shear", 90.0), ("zoom", (0.8,)), ("zoom", (1.2, 0.8)),
    ("zoom", (0.0, 1.2)), ("zoom", (math.nan, 1.2)),
    ("seed", -1), ("seeds", 0), ("seeds", 10**6), ("transfer_seeds", 0),
    ("dataset", "image_folder"), ("task_dataset", "nosuch"), ("alexnet_dataset", "nosuch"),
    ("alexnet_dataset", "tiny_imagenet"), ("source_dataset", "nosuch"),
    ("backbone", "vgg"), ("head", "deep"), ("pretrained", "random"), ("precision", "fp8"),
]


@pytest.mark.parametrize(("name", "value"), BAD, ids=[f"{n}={v}" for n, v in BAD])
def test_a_bad_value_fails_in_one_line_naming_the_setting(name, value):
    with pytest.raises((ValueError, TypeError)) as error:  # TypeError: not a finite float
        profiles.load(STUDY, "smoke", **{name: value})
    message = str(error.value)
    assert name in message.splitlines()[0] and len(message.splitlines()) == 1


def test_the_testers_cases_fail_up_front_and_say_what_is_wrong():
    """Issue 23: `task_classes [3, 99]` stored 5 runs first; `folder /no/such/path`
    complained about source_dataset."""
    with pytest.raises(ValueError, match="^task_classes: digits has classes 0..9, got 99$"):
        profiles.load(STUDY, "smoke", task_classes="3, 99")
    with pytest.raises(ValueError, match="^folder: no such directory '/no/such/path'"):
        profiles.load(STUDY, "smoke", folder="/no/such/path")
    with pytest.raises(ValueError, match="^folder: .* needs a train/"):
        profiles.load(STUDY, "smoke", folder="/")


def test_relations_and_edges(tmp_path):
    for split in ("train", "val"):
        (tmp_path / split).mkdir()
    with pytest.raises(ValueError, match="^source_dataset"):  # a folder, pretrained on what?
        profiles.load(STUDY, "smoke", folder=str(tmp_path))
    folder = profiles.load(STUDY, "smoke", folder=str(tmp_path), source_dataset="digits",
                           task_classes=(3, 99))  # a folder's classes are its subfolders
    assert folder.folder == str(tmp_path)
    with pytest.raises(ValueError, match="^backbone_width: resnet50"):
        profiles.load(STUDY, "smoke", backbone="resnet50")
    assert profiles.load(STUDY, "paper", backbone="resnet50").backbone_width == 1.0
    edges = profiles.load(STUDY, "smoke", alexnet_dropout2=0.0, alexnet_dataset="",
                          tsne_points=359, transfer_batch_size=100, seed=10**12,
                          task_val_size=10, zoom=(1.0, 1.0), shear=0.0)
    assert edges.alexnet_dataset == "" and edges.task_val_size == 10
    assert profiles.load(STUDY, "quick").task_classes == (0, 6)
