"""Intervals for transfer accuracy that include the validation sample, not only the seeds.

Every transfer run reuses one backbone and one fixed split of the task's images (the original's
694 training / 200 validation), so a t-interval over seeds measures only how training draws
move the accuracy: the SVM, which no seed changes, gets an interval of zero width, and the
binomial error of 200 validation images (about 3 points at 90%) is not represented. The
reader's question, how accurate a variant is on images of this task, has both sources.

Each run stores whether each validation image was right (`correct`), one (seeds x images)
0/1 matrix per variant. `two_way` resamples seeds and images independently with replacement
(the bootstrap of a crossed two-way design) and takes percentiles of the resampled mean;
`paired` does the same for a variant minus the baseline variant, image by image and seed by
seed, with the same draws, so what both share cancels. One seed reduces it to the plain
percentile bootstrap over images.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DRAWS = 10_000
LEVEL = 0.95


def draws(shape: tuple[int, int], n: int = DRAWS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(row counts (n, seeds), column counts (n, images)): how often each seed and each image
    is drawn in each of `n` resamples with replacement (seeded)."""
    rows, cols = shape
    rng = np.random.default_rng(seed)
    return (rng.multinomial(rows, np.full(rows, 1 / rows), size=n),
            rng.multinomial(cols, np.full(cols, 1 / cols), size=n))


def resampled_means(matrix: np.ndarray, counts: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The mean of `matrix` (seeds x images) under each resample: sum_s sum_i w_s m_si v_i /
    (S N), w and v the resample's counts of seed s and image i."""
    rows, cols = counts
    s, n = matrix.shape
    return np.einsum("bs,sn,bn->b", rows, matrix.astype(float), cols) / (s * n)


def interval(matrix: np.ndarray, n: int = DRAWS, seed: int = 0,
             level: float = LEVEL) -> tuple[float, float]:
    """Percentile interval at `level` of the mean of `matrix` over seeds and images."""
    means = resampled_means(matrix, draws(matrix.shape, n, seed))
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def matrices(correct: pd.DataFrame) -> dict[str, np.ndarray]:
    """variant -> (seeds x images) 0/1 matrix, from the gathered `correct` tables (columns
    variant, seed, image, correct), seeds and images in ascending order."""
    return {variant: rows.pivot(index="seed", columns="image", values="correct")
            .sort_index().to_numpy(dtype=float)
            for variant, rows in correct.groupby("variant", sort=False)}


def two_way(correct: pd.DataFrame, n: int = DRAWS, seed: int = 0) -> pd.DataFrame:
    """Per variant: accuracy (%) over seeds and images, n seeds, n images and the two-way
    bootstrap interval (%)."""
    rows = []
    for variant, matrix in matrices(correct).items():
        low, high = interval(matrix, n, seed)
        rows.append(dict(variant=variant, accuracy=100 * matrix.mean(), seeds=matrix.shape[0],
                         images=matrix.shape[1], boot_low=100 * low, boot_high=100 * high))
    return pd.DataFrame(rows)


def paired(correct: pd.DataFrame, baseline: str, n: int = DRAWS, seed: int = 0) -> pd.DataFrame:
    """Per variant but `baseline`: its accuracy minus the baseline's (points) and the two-way
    bootstrap interval of that difference, image by image and seed by seed."""
    found = matrices(correct)
    rows = []
    for variant, matrix in found.items():
        if variant == baseline:
            continue
        difference = matrix - found[baseline]
        low, high = interval(difference, n, seed)
        rows.append(dict(variant=variant, difference=100 * difference.mean(),
                         seeds=matrix.shape[0], images=matrix.shape[1], boot_low=100 * low,
                         boot_high=100 * high))
    return pd.DataFrame(rows)
