"""What every data set holds, as published: classes, image shape and split sizes.

`initlab plan` counts a study's training work from these numbers, so that the cost of the
`paper` profile can be seen on a machine that has none of its data sets (`data.load` would
need the files). `tests/test_plan.py` checks them against every data set present.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shape:
    """A data set's classes, channels, image side and the sizes of its train and test splits."""

    classes: int
    channels: int
    size: int
    train: int
    test: int

    def per_class(self, split: str = "train") -> int:
        """Images per class (the sets are balanced, up to a few images)."""
        return (self.train if split == "train" else self.test) // self.classes


SHAPES: dict[str, Shape] = {
    "digits": Shape(10, 1, 28, 1438, 359),  # scikit-learn's 1,797 8x8 digits, 80/20, at 28x28
    "mnist": Shape(10, 1, 28, 60_000, 10_000),
    "fashion_mnist": Shape(10, 1, 28, 60_000, 10_000),
    "cifar10": Shape(10, 3, 32, 50_000, 10_000),
    "cifar100": Shape(100, 3, 32, 50_000, 10_000),
    "svhn": Shape(10, 3, 32, 73_257, 26_032),
    "tiny_imagenet": Shape(200, 3, 64, 100_000, 10_000),  # test = the labelled validation set
}


def shape(name: str) -> Shape:
    """The published shape of data set `name` (an image folder has none: its files decide)."""
    if name not in SHAPES:
        raise ValueError(f"no published size for data set {name!r} (known: "
                         f"{', '.join(SHAPES)}); an image folder's size is its files'")
    return SHAPES[name]
