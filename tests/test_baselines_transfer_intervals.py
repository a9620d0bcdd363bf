"""Study 04's transfer interval over seeds and validation images (issue 24), checked against
brute force (every resample of a tiny design enumerated) and scipy's bootstrap."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from initlab.studies.baselines_transfer import intervals, results

# 2 seeds x 4 validation images: 2^2 x 4^4 = 1,024 equally likely ordered resamples
TINY = np.array([[1, 1, 0, 1],
                 [0, 1, 0, 1]], dtype=float)


def exact_means(matrix: np.ndarray) -> np.ndarray:
    """The resampled mean under every ordered draw of seeds and images (brute force)."""
    s, n = matrix.shape
    means = []
    for rows in itertools.product(range(s), repeat=s):
        for cols in itertools.product(range(n), repeat=n):
            means.append(matrix[np.ix_(rows, cols)].mean())
    return np.array(means)


def test_resampled_means_follow_the_exact_bootstrap_distribution():
    exact = exact_means(TINY)
    sampled = intervals.resampled_means(TINY, intervals.draws(TINY.shape, 40_000, seed=1))
    grid = np.unique(exact)  # the mean takes values k / 8
    exact_cdf = np.array([(exact <= g + 1e-12).mean() for g in grid])
    sampled_cdf = np.array([(sampled <= g + 1e-12).mean() for g in grid])
    assert np.abs(exact_cdf - sampled_cdf).max() < 0.015  # Kolmogorov distance, 40,000 draws
    assert set(np.round(sampled * 8, 9)) <= set(np.round(grid * 8, 9))
    low, high = intervals.interval(TINY, 40_000, seed=1)
    exact_low, exact_high = np.quantile(exact, [0.025, 0.975])
    assert abs(low - exact_low) <= 1 / 8 + 1e-9 and abs(high - exact_high) <= 1 / 8 + 1e-9


def test_one_seed_is_scipys_percentile_bootstrap_over_images():
    rng = np.random.default_rng(0)
    row = (rng.random(200) < 0.9).astype(float)  # 200 validation images at about 90%
    low, high = intervals.interval(row[None], 20_000, seed=2)
    ref = stats.bootstrap((row,), np.mean, n_resamples=20_000, method="percentile",
                          random_state=3).confidence_interval
    assert low == pytest.approx(ref.low, abs=0.006) and high == pytest.approx(ref.high, abs=0.006)
    # the binomial error of 200 images the seed-only interval misses: about +-4 points at 90%
    half = 1.96 * np.sqrt(row.mean() * (1 - row.mean()) / 200)
    assert (high - low) / 2 == pytest.approx(half, abs=0.006)


def test_identical_seeds_keep_the_image_error_and_the_seeds_add_theirs():
    rng = np.random.default_rng(4)
    row = (rng.random(200) < 0.9).astype(float)
    same = np.repeat(row[None], 5, axis=0)  # the SVM: every seed gets the same predictions
    one, five = intervals.interval(row[None], seed=5), intervals.interval(same, seed=5)
    assert five == pytest.approx(one, abs=1e-12) and five[1] - five[0] > 0.05
    noisy = same.copy()
    noisy[:, :20] = rng.random((5, 20)) < 0.5  # 20 images that training seeds flip
    low, high = intervals.interval(noisy, seed=5)
    assert low <= noisy.mean() <= high


def correct_frame() -> pd.DataFrame:
    """Gathered `correct` tables: 3 seeds x 6 images per variant, rows shuffled."""
    values = {"scratch": [[1, 0, 0, 1, 0, 1], [0, 0, 1, 1, 0, 1], [1, 0, 1, 1, 0, 0]],
              "svm": [[1, 1, 0, 1, 1, 1]] * 3,
              "head": [[1, 1, 1, 1, 0, 1], [1, 1, 0, 1, 1, 1], [1, 1, 1, 1, 1, 1]],
              "head_aug": [[1, 1, 1, 1, 1, 1]] * 3}
    rows = [dict(variant=v, seed=s, image=i, correct=bool(x)) for v, m in values.items()
            for s, r in enumerate(m) for i, x in enumerate(r)]
    return pd.DataFrame(rows).sample(frac=1.0, random_state=0)


def test_paired_differences_are_image_by_image_with_the_same_draws():
    frame = correct_frame()
    found = intervals.matrices(frame)
    assert found["scratch"].tolist()[1] == [0, 0, 1, 1, 0, 1]  # seeds and images in order
    table = intervals.paired(frame, "scratch", n=5000, seed=0).set_index("variant")
    for variant in ("svm", "head", "head_aug"):
        difference = found[variant] - found["scratch"]
        low, high = intervals.interval(difference, 5000, seed=0)
        row = table.loc[variant]
        assert row.difference == pytest.approx(100 * difference.mean())
        assert (row.boot_low, row.boot_high) == pytest.approx((100 * low, 100 * high))
        assert (row.seeds, row.images) == (3, 6)


def test_the_transfer_table_carries_the_bootstrap_beside_the_t_interval():
    frame = correct_frame()
    per_seed = (frame.groupby(["variant", "seed"]).correct.mean().mul(100).rename("accuracy")
                .reset_index())
    table = results.beside_reported(per_seed, results.REPORTED_TRANSFER, frame)
    assert list(table.columns[-2:]) == ["boot95_low", "boot95_high"]
    svm = table.loc["frozen backbone + linear SVM"]
    assert svm.sd == 0 and svm.ci95_low == svm.ci95_high  # seeds alone: no spread at all
    assert svm.boot95_high - svm.boot95_low > 20  # 6 images: a wide interval
    paired = results.paired_bootstrap(frame)
    assert paired.variant.tolist() == [results.VARIANT_NAMES[v] for v in ("svm", "head",
                                                                          "head_aug")]
    assert (paired.boot95_low <= paired.difference).all()
    assert (paired.difference <= paired.boot95_high).all()
