"""Study 04's four transfer variants and how they train (`TransferPlan`), without torch: a
transfer run's settings map onto a plan (`settings.TransferRun.plan`), which `initlab plan`
reads to count the training and `transfer` follows to train (docs/04_baselines_transfer.md).
"""

from __future__ import annotations

import dataclasses

from initlab.training.recipe import Recipe

VARIANTS = ("scratch", "svm", "head", "head_aug")
HEADS = ("linear", "mlp")


@dataclasses.dataclass(frozen=True)
class TransferPlan:
    """How the four variants train: a training `Recipe` for `scratch` and one for the new
    head of `head`/`head_aug`, plus what no `Recipe` says (the head's kind, the SVM's C, the
    augmentation's ranges). One value, so a run's settings map onto it field by field."""

    scratch: Recipe  # backbone and head together, from random init
    fine_tune: Recipe  # a new head on the frozen pretrained backbone (head, head_aug)
    head: str = "linear"  # linear (the protocol) | mlp (features -> 128 -> classes)
    svm_c: float = 1.0
    shear: float = 10.0  # augmentation of head_aug: shear (degrees), zoom range, flips
    zoom: tuple[float, ...] = (0.8, 1.2)

    @classmethod
    def adam(cls, lr: float, batch_size: int, scratch_epochs: int, head_epochs: int,
             precision: str = "auto", **options) -> TransferPlan:
        """The study's plan: every trained variant uses Adam at `lr` with `batch_size`."""
        recipe = Recipe("adam", lr, batch_size=batch_size, precision=precision)
        return cls(dataclasses.replace(recipe, epochs=scratch_epochs),
                   dataclasses.replace(recipe, epochs=head_epochs), **options)

    def recipe(self, variant: str) -> Recipe:
        """The training recipe of a trained variant (`svm` trains no network)."""
        if variant not in VARIANTS or variant == "svm":
            raise ValueError(f"variant {variant!r} trains no network with a recipe")
        return self.scratch if variant == "scratch" else self.fine_tune
