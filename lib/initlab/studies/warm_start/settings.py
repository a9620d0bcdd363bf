"""Study settings: the dataclass (defaults = the original protocol, `paper`) and what `smoke`
and `quick` change. A run is named by its settings (see `store.run_name`).

Each difference from the original code is one field whose value selects the original's
behaviour (`AS_RUN`, applied by `profiles.load(..., as_run=True)`); docs/01_warm_start.md
lists them with the original's file and function and says why `paper` takes which value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from initlab import catalog
from initlab.data import DATASETS
from initlab.data.corruptions import CORRUPTIONS, NOISE_NAMES
from initlab.settings import check_bools, check_choices, check_range, not_hashed
from initlab.training.recipe import PRECISIONS, Recipe

METRICS = ("cosine", "pearson", "frobenius")
SOURCES = ("subsets", "full_first")
FROBENIUS_PAIRS = ("closest", "farthest")
COPY_FROM = ("member", "index_range")
MAX_EPOCHS = 1000
MAX_ITERATIONS = 1000


@dataclass(frozen=True)
class WarmStartSettings:
    """Study 01: warm start from similar filters (docs/01_warm_start.md)."""
    PROTOCOL: ClassVar[int] = 3  # bump when a run would compute other numbers (store checks)

    dataset: str = "mnist"
    noises: tuple[str, ...] = NOISE_NAMES  # one disjoint noisy subset, and one model, per noise
    corrupt: bool = True  # False: the original, whose noise line compared instead of assigning
    corruption: str = "original"  # the noises' parameters (data.corruptions.CORRUPTIONS)
    # "subsets": source model k on subset k; "full_first": the original's, model 0 on the whole
    # clean training set and models 1.. on the first subsets (the last noise is left unused)
    sources: str = "subsets"
    subset_size: int = 10_000
    train_size: int = 0  # 0 = the whole training set for the warm-started runs
    epochs: int = 1  # every warm-started network (and random init unless random_epochs)
    source_epochs: int = 6  # the source models (the original's README and code: 6)
    random_epochs: int = 0  # 0 = epochs; the original trained its random baseline for 2
    batch_size: int = 64
    lr: float = 1e-3
    metrics: tuple[str, ...] = METRICS
    frobenius_pair: str = "closest"  # "farthest": the original's argmax of a distance
    copy_from: str = "member"  # "index_range": the original's models[i + 1] for a pair (i, j)
    shrink: float = 0.4  # shrink-and-perturb baseline (Ash and Adams, 2020)
    perturb: float = 0.1
    precision: str = "float32"  # every device; "bf16"/"auto" (bf16 on CUDA) on request
    seed: int = 0  # an iteration's seed is seed + iteration index
    iterations: int = not_hashed(10)
    as_run: bool = not_hashed(False)  # True: every AS_RUN value below (profiles.load)

    AS_RUN: ClassVar[dict[str, Any]] = dict(
        corrupt=False, corruption="original", sources="full_first", source_epochs=6,
        random_epochs=2, frobenius_pair="farthest", copy_from="index_range")
    """The original code as it produced the reported Table 2 (docs/01_warm_start.md)."""

    PROFILES: ClassVar[dict[str, dict[str, Any]]] = {
        "smoke": dict(dataset="digits", subset_size=230, epochs=3, source_epochs=3,
                      iterations=2),
        "quick": dict(iterations=3),
        "paper": dict(),
    }

    def __post_init__(self) -> None:
        check_choices("dataset", self.dataset, tuple(d for d in DATASETS if d in catalog.SHAPES))
        check_choices("noises", self.noises, NOISE_NAMES)
        check_choices("corruption", self.corruption, tuple(CORRUPTIONS))
        check_choices("sources", self.sources, SOURCES)
        check_choices("metrics", self.metrics, METRICS)
        check_choices("frobenius_pair", self.frobenius_pair, FROBENIUS_PAIRS)
        check_choices("copy_from", self.copy_from, COPY_FROM)
        check_choices("precision", self.precision, PRECISIONS)
        check_bools(self, "corrupt")
        if len(self.noises) < 2:
            raise ValueError(f"noises: at least two are needed (models are compared in pairs), "
                             f"got {len(self.noises)}")
        if not self.metrics or len(set(self.metrics)) != len(self.metrics):
            raise ValueError(f"metrics must name each metric once, got {self.metrics!r}")
        for name in ("epochs", "source_epochs"):
            check_range(self, name, 1, MAX_EPOCHS)
        check_range(self, "random_epochs", 0, MAX_EPOCHS)
        check_range(self, "iterations", 1, MAX_ITERATIONS)
        check_range(self, "lr", high=10.0, above=0.0)
        check_range(self, "shrink", 0.0, 1.0)
        check_range(self, "perturb", 0.0, 1.0)
        check_range(self, "seed", 0)
        self._check_sizes()

    def _check_sizes(self) -> None:
        """Subsets, the clean set and the batch against the data set's training split."""
        available = catalog.shape(self.dataset).train
        check_range(self, "train_size", 0, available)
        subsets = len(self.noises) - (self.sources == "full_first")
        check_range(self, "subset_size", 1)
        if subsets * self.subset_size > available:
            raise ValueError(f"subset_size: {subsets} disjoint subsets of {self.subset_size} need "
                             f"{subsets * self.subset_size} images; {self.dataset} has "
                             f"{available} for training")
        check_range(self, "batch_size", 1, self.subset_size)

    @property
    def baseline_epochs(self) -> int:
        """How long random init trains: `random_epochs`, or `epochs` when that is 0."""
        return self.random_epochs or self.epochs

    def recipe(self, epochs: int | None = None) -> Recipe:
        """Adam at `lr` in batches of `batch_size` for `epochs` (default: the warm starts'):
        the original trained the source models and the warm-started networks alike, only for
        different numbers of epochs."""
        return Recipe(optimizer="adam", lr=self.lr, epochs=epochs or self.epochs,
                      batch_size=self.batch_size, precision=self.precision)
