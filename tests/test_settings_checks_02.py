"""Study 02's settings are checked when they are built (`profiles.load`, which the CLI calls
before any notebook starts): every field's range and its relations to the others, one
ValueError line naming the field. The first cases are the values a tester found failing
late (inside a notebook, after runs were stored, or never: `clusters 100000` ran for minutes).
"""

from __future__ import annotations

import dataclasses
import math
import typing

import pytest

from initlab import profiles
from initlab.studies.clustered_init.settings import ClusteredInitSettings

STUDY = "02_clustered_init"


def rejects(field: str, value, profile: str = "smoke", **others) -> str:
    """One line naming `field`: a ValueError from the class's checks, or a TypeError from the
    coercion of user values, which refuses nan, infinity and 1e-400 (0.0 once parsed) itself."""
    with pytest.raises((ValueError, TypeError), match=field) as error:
        profiles.load(STUDY, profile, **{field: value}, **others)
    assert "\n" not in str(error.value)
    return str(error.value)


@pytest.mark.parametrize("field, value", [
    ("lr", "1e-400"),  # reads as 0.0: trained with lr 0 before
    ("lr", -1.0), ("momentum", -5.0), ("image_size", -3), ("width", 0), ("stem", "nosuch"),
    ("gabor_layers", 99), ("sweep_clusters", 0), ("n_sources", 50), ("target_epochs", -2),
    ("clusters", 100_000),
])
def test_the_values_found_failing_late_are_rejected_up_front(field, value):
    rejects(field, value)


# every numeric field: values outside its range (non-finite ones for the floats)
BAD = {
    "width": [math.nan, math.inf, -1.0, 0.0, 5.0], "lr": [math.nan, 0.0, 11.0],
    "momentum": [math.nan, -0.1, 1.0], "weight_decay": [math.nan, -1e-4, 2.0],
    "source_lr_factor": [math.nan, 0.0, 1.5], "target_lr_factor": [math.inf, -0.2, 2.0],
    "noise": [math.nan, -1.0, 11.0],
    "image_size": [-1, 4, 513], "train_size": [-1, 1, 10**9], "test_size": [-1, 1, 10**9],
    "batch_size": [-1, 0, 10**9], "lr_every": [-1, 10**9], "source_models": [-1, 0, 11],
    "source_epochs": [-1, 0, 10**9], "targets": [-1, 0, 11], "runs": [-1, 0, 10**9],
    "target_epochs": [-1, 0, 10**9], "gabor_layers": [0, 18], "sweep_sources": [0, 4],
    "sweep_clusters": [-1, 0, 10**9], "sweep_layers": [0, 18], "n_sources": [-1, 0, 4],
    "clusters": [-1, 0, 10**9], "layers": [-1, 0, 18], "kmeans_sample": [-1, 1],
    "align_sources": [-1, 1, 11], "align_layers": [0, 6], "tiny_sources": [-1, 0, 4],
    "tiny_clusters": [-1, 0, 10**9], "tiny_train_size": [-1, 199, 100_001],
    "tiny_test_size": [-1, 199, 10_001], "tiny_epochs": [-1, 0, 10**9],
    "tiny_runs": [-1, 0, 10**9], "seed": [-1, 2**31],
}


def test_every_numeric_field_has_bad_values_listed():
    hints = typing.get_type_hints(ClusteredInitSettings)
    numeric = {f.name for f in dataclasses.fields(ClusteredInitSettings)
               if hints[f.name] in (int, float, tuple[int, ...])}
    assert numeric == set(BAD)


@pytest.mark.parametrize("field, value", [(f, v) for f, values in BAD.items() for v in values])
def test_numeric_fields_reject_values_outside_their_range(field, value):
    rejects(field, value)


@pytest.mark.parametrize("field, value", [
    ("dataset", "svhn"), ("dataset", "tiny_imagenet"), ("lr_schedule", "cosine"),
    ("precision", "fp16"), ("rescale", "xavier"), ("tiny_distance", "cosine"),
    ("align_order", "rows"), ("align_mean", "median"), ("gabor_grid", "shifted"),
    ("gabor_draw", "global"), ("tiny_imagenet", "maybe"), ("distances", "manhattan"),
    ("distances", ()), ("distances", "euclidean,euclidean"), ("align_matchings", "hungarian"),
    ("sweep_sources", ()), ("sweep_clusters", ()), ("sweep_layers", ()),
])
def test_choices_and_lists_are_checked(field, value):
    rejects(field, value)


def test_relations_between_fields():
    # a condition can draw only on the source models the design trains
    assert "source_models = 3" in rejects("tiny_sources", 4)
    rejects("n_sources", 3, source_models=2, sweep_sources=2)
    # K is bounded by the stem kernels of N sources (smoke: 8 filters x 1 channel each; the
    # smallest N of the K-fixed sweep is 2): 16 is the most, at any kmeans_sample
    profiles.load(STUDY, "smoke", clusters=16)
    assert "16 stem kernels" in rejects("clusters", 17)
    assert "24 stem kernels" in rejects("sweep_clusters", 25)  # at N = n_sources = 3
    rejects("tiny_clusters", 17)  # tiny_sources = 2
    profiles.load(STUDY, "smoke", clusters=32, width=0.25)  # wider stems hold more
    # k-means on a sample needs at least one slice per cluster
    rejects("kmeans_sample", 5, sweep_clusters="1,10", clusters=2, width=1.0)
    profiles.load(STUDY, "smoke", kmeans_sample=3)
    # subsamples: at least one image per class of a task, at most what a task holds
    assert "10..5000" in rejects("train_size", 9, profile="quick", dataset="cifar100")
    assert "2..12000" in rejects("train_size", 12_001, profile="quick",
                                 dataset="fashion_mnist")
    profiles.load(STUDY, "quick", dataset="fashion_mnist", train_size=12_000, test_size=2000)
    # the target tasks a data set has: 10 pairs of classes 5-9, 45 pairs of superclasses
    rejects("targets", 11)
    profiles.load(STUDY, "smoke", dataset="cifar100", targets=45)
    # aligned conditions need a matching
    rejects("align_matchings", ())
    profiles.load(STUDY, "smoke", align_layers=(), align_matchings=())


def test_valid_edge_values_are_accepted():
    cfg = profiles.load(STUDY, "smoke", lr_every=0, image_size=0, kmeans_sample=0, noise=0.0,
                        momentum=0.0, weight_decay=0.0, gabor_layers=(), align_layers=(),
                        seed=2**31 - 1, source_lr_factor=1.0, layers=17, align_sources=10)
    assert cfg.lr_every == 0 and cfg.gabor_layers == ()
    assert profiles.load(STUDY, "smoke", kmeans_sample=10**12).kmeans_sample == 10**12  # = all
    for profile in ("smoke", "quick", "paper"):
        profiles.load(STUDY, profile)
        profiles.load(STUDY, profile, as_run=True)
    profiles.load(STUDY, "quick", dataset="fashion_mnist")


def test_booleans_must_be_booleans():
    with pytest.raises(TypeError, match="augment"):
        profiles.load(STUDY, "smoke", augment="perhaps")
    with pytest.raises(ValueError, match="as_run"):
        ClusteredInitSettings(as_run="yes")
