"""Study settings: the dataclass (defaults = the original protocol, `paper`) and what `smoke`
and `quick` change. A run is named by its settings (see `store.run_name`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from initlab.data.noise import NOISES
from initlab.settings import check_choices, check_positive, not_hashed
from initlab.training.recipe import PRECISIONS, Recipe


@dataclass(frozen=True)
class WarmStartSettings:
    """Study 01: warm start from similar filters (docs/01_warm_start.md)."""
    PROTOCOL: ClassVar[int] = 2  # bump when a run would compute other numbers (store checks)

    dataset: str = "mnist"
    noises: tuple[str, ...] = tuple(NOISES)  # one disjoint noisy subset, and one model, per noise
    subset_size: int = 10_000
    train_size: int = 0  # 0 = the whole training set for the warm-started runs
    epochs: int = 1
    batch_size: int = 64
    lr: float = 1e-3
    metrics: tuple[str, ...] = ("cosine", "pearson", "frobenius")
    shrink: float = 0.4  # shrink-and-perturb baseline (Ash and Adams, 2020)
    perturb: float = 0.1
    precision: str = "auto"  # auto: bf16 autocast on CUDA, float32 elsewhere
    seed: int = 0  # an iteration's seed is seed + iteration index
    iterations: int = not_hashed(10)

    PROFILES: ClassVar[dict[str, dict[str, Any]]] = {
        "smoke": dict(dataset="digits", subset_size=230, epochs=3, iterations=2),
        "quick": dict(iterations=3),
        "paper": dict(),
    }

    def __post_init__(self) -> None:
        check_choices("noises", self.noises, tuple(NOISES))
        check_choices("metrics", self.metrics, ("cosine", "pearson", "frobenius"))
        check_choices("precision", self.precision, PRECISIONS)
        check_positive(self, "subset_size", "epochs", "batch_size", "lr", "iterations")

    def recipe(self) -> Recipe:
        """Adam at `lr` for `epochs` in batches of `batch_size`: the original trained the six
        noisy models and every warm-started network alike, so one recipe serves both."""
        return Recipe(optimizer="adam", lr=self.lr, epochs=self.epochs, batch_size=self.batch_size,
                      precision=self.precision)
