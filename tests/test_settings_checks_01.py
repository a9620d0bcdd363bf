"""Study 01's settings are checked when they are built (issue 23): every field's range and its
relations to the others, one ValueError line naming the field, before any kernel starts."""

from __future__ import annotations

import math

import pytest

from initlab import profiles
from initlab.studies.warm_start.settings import WarmStartSettings

STUDY = "01_warm_start"

BAD = [
    ("lr", math.nan), ("lr", math.inf), ("lr", 0.0), ("lr", -1e-3), ("lr", 100.0),
    ("epochs", 0), ("epochs", 10**6), ("source_epochs", 0), ("source_epochs", -1),
    ("random_epochs", -1), ("random_epochs", 10**6), ("iterations", 0), ("iterations", 10**6),
    ("batch_size", 0), ("batch_size", 231),  # smoke's subsets hold 230 images
    ("subset_size", 0), ("subset_size", 240),  # 6 x 240 > digits' 1,438 training images
    ("train_size", -1), ("train_size", 1439),
    ("shrink", math.nan), ("shrink", -0.1), ("shrink", 1.5),
    ("perturb", math.inf), ("perturb", -0.1), ("perturb", 2.0),
    ("seed", -1),
    ("dataset", "no-such-set"), ("dataset", "image_folder"),
    ("noises", ("blur",)), ("noises", ("blur", "salt")),
    ("metrics", ()), ("metrics", ("cosine", "cosine")), ("metrics", ("euclid",)),
    ("corruption", "gentle"), ("sources", "all"), ("frobenius_pair", "middle"),
    ("copy_from", "anywhere"), ("precision", "fp8"),
]


@pytest.mark.parametrize(("name", "value"), BAD, ids=[f"{n}={v}" for n, v in BAD])
def test_a_bad_value_fails_in_one_line_naming_the_setting(name, value):
    with pytest.raises((ValueError, TypeError)) as error:  # TypeError: not a finite float
        profiles.load(STUDY, "smoke", **{name: value})
    message = str(error.value)
    assert name in message.splitlines()[0] and len(message.splitlines()) == 1


def test_lr_nan_from_the_command_line_fails_before_any_notebook():
    """Issue 23: `-p lr nan` used to fail inside the notebook."""
    with pytest.raises((ValueError, TypeError), match="lr.* finite number") as error:
        profiles.load(STUDY, "smoke", lr="nan")
    assert len(str(error.value).splitlines()) == 1
    with pytest.raises(ValueError, match="^lr must be a finite number"):  # built directly
        WarmStartSettings(lr=math.nan)


def test_full_first_needs_one_subset_fewer_and_edges_are_valid():
    # full_first trains 5 subsets: 5 x 287 = 1,435 <= 1,438 digits, while 6 x 287 is too many
    assert profiles.load(STUDY, "smoke", sources="full_first", subset_size=287).subset_size == 287
    with pytest.raises(ValueError, match="^subset_size"):
        profiles.load(STUDY, "smoke", subset_size=287)
    edges = profiles.load(STUDY, "smoke", train_size=1438, random_epochs=0, shrink=0.0,
                          perturb=1.0, batch_size=230, seed=10**12, lr=10.0)
    assert edges.baseline_epochs == edges.epochs == 3
    assert profiles.load(STUDY, "smoke", random_epochs=2).baseline_epochs == 2
    assert profiles.load(STUDY, "paper").subset_size * 6 == 60_000
