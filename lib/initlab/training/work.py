"""What a run trains, in numbers: the `Training` records a study gives for each of its runs
(its `work.trainings(settings)`), which `initlab plan` adds up and times before anything runs.

A record names the model as `models.build_model` builds it and says how many images it sees
for how many epochs; it never loads data (the sizes come from `initlab.catalog`), so a plan
for the `paper` profile works on a laptop without the paper's data sets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Training:
    """One model trained inside a run: `build_model(arch, classes, channels, width,
    **options)` fed `channels x size x size` images, `images` of them per epoch for `epochs`
    epochs in batches of `batch_size`. `frozen`: only a new head learns on a frozen backbone,
    so each image costs a forward pass of the backbone (no backward). `shared`: the (study,
    settings) of a store run this training produces, which other runs share (a source model
    trained inside the first run that needs it): `initlab plan` counts it once, and not at
    all when it is stored."""

    arch: str
    classes: int
    channels: int
    size: int
    images: int
    epochs: int
    batch_size: int
    width: float = 1.0
    options: tuple[tuple[str, Any], ...] = ()
    frozen: bool = False
    shared: tuple[str, Any] | None = None

    @property
    def passes(self) -> int:
        """Image passes: every training image once per epoch."""
        return self.images * self.epochs

    @property
    def model(self) -> tuple:
        """What the cost of one image depends on (the key of a calibration measurement)."""
        return (self.arch, self.classes, self.channels, self.size, self.width, self.options,
                self.frozen)
