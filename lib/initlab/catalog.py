"""What every data set holds, as published: classes, image shape and split sizes, and
CIFAR-100's superclasses.

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


# The standard CIFAR-100 fine -> coarse (superclass) map, fine labels in alphabetical order of
# `fine_label_names` (apple=0 -> fruit_and_vegetables=4, ..., worm=99 -> non-insect_invert.=13).
CIFAR100_COARSE_OF_FINE: tuple[int, ...] = (
    4, 1, 14, 8, 0, 6, 7, 7, 18, 3, 3, 14, 9, 18, 7, 11, 3, 9, 7, 11,
    6, 11, 5, 10, 7, 6, 13, 15, 3, 15, 0, 11, 1, 10, 12, 14, 16, 9, 11, 5,
    5, 19, 8, 8, 15, 13, 14, 17, 18, 10, 16, 4, 17, 4, 2, 0, 17, 4, 18, 17,
    10, 3, 2, 12, 12, 16, 12, 1, 9, 19, 2, 10, 0, 1, 16, 12, 9, 13, 15, 13,
    16, 19, 2, 4, 6, 19, 5, 5, 8, 19, 18, 1, 2, 15, 6, 0, 17, 8, 14, 13,
)


def shape(name: str) -> Shape:
    """The published shape of data set `name` (an image folder has none: its files decide)."""
    if name not in SHAPES:
        raise ValueError(f"no published size for data set {name!r} (known: "
                         f"{', '.join(SHAPES)}); an image folder's size is its files'")
    return SHAPES[name]
