"""Which source model each warm-start kernel is copied from, by this study's rule or the
original code's (docs/01_warm_start.md, differences table).

For every kernel index the sources' kernels are compared pair by pair (`similarity.pairwise`,
pairs (0, 1), (0, 2), ..., in the original's order) and one pair is picked:
- `frobenius_pair="closest"` takes the smallest Frobenius distance; "farthest" is the
  original's `get_max_index`, which took the argmax of every metric, a distance included.
Then the kernel is copied from one model:
- `copy_from="member"`: one of the pair's two models, by a seeded coin (what the original's
  README describes, and what `inits.similar_filters` does);
- `copy_from="index_range"`: the original's `select_filters`, which maps pair index ranges
  0-4, 5-8, 9-11, 12-13, 14 to models 1, 2, 3, 4, 5: for a pair (i, j) that is model i + 1,
  a member of the pair only when j = i + 1, and model 0 is never copied from.
With the defaults this equals `initialize(model, "similar_filters", ...)` bit for bit.
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from initlab.metrics.matching import stacked_kernels
from initlab.metrics.similarity import HIGHER_IS_MORE_SIMILAR, pairwise, set_kernel_slices


def best_pairs(scores: torch.Tensor, metric: str, frobenius_pair: str = "closest") -> torch.Tensor:
    """Per kernel index (column of `scores`, pairs x kernels), the index of the chosen pair."""
    if frobenius_pair not in ("closest", "farthest"):
        raise ValueError(f"frobenius_pair must be closest or farthest, got {frobenius_pair!r}")
    if HIGHER_IS_MORE_SIMILAR[metric] or frobenius_pair == "farthest":
        return scores.argmax(0)
    return scores.argmin(0)


def source_models(pairs: list[tuple[int, int]], best: torch.Tensor, copy_from: str = "member",
                  seed: int = 0) -> torch.Tensor:
    """Per kernel index, the model its kernel is copied from (see the module docstring)."""
    if copy_from == "member":
        coin = torch.randint(0, 2, (len(best),), generator=torch.Generator().manual_seed(seed))
        return torch.tensor([pairs[p][c] for p, c in zip(best.tolist(), coin.tolist())])
    if copy_from == "index_range":
        return torch.tensor([pairs[p][0] + 1 for p in best.tolist()])
    raise ValueError(f"copy_from must be member or index_range, got {copy_from!r}")


def choose(filter_sets: torch.Tensor, metric: str, frobenius_pair: str = "closest",
           copy_from: str = "member", seed: int = 0) -> pd.DataFrame:
    """One row per kernel index of `filter_sets` (models x kernels x k x k): the chosen pair,
    the model copied from, and whether that model is one of the pair."""
    pairs, scores = pairwise(filter_sets, metric)
    best = best_pairs(scores, metric, frobenius_pair)
    chosen = source_models(pairs, best, copy_from, seed)
    rows = [dict(filter=f, model_a=pairs[p][0], model_b=pairs[p][1], source=s,
                 member=s in pairs[p], value=float(scores[p, f]))
            for f, (p, s) in enumerate(zip(best.tolist(), chosen.tolist()))]
    return pd.DataFrame(rows)


@torch.no_grad()
def copy_kernels(model: nn.Module, sources: list[nn.Module], metric: str, aligned: bool = False,
                 seed: int = 0, frobenius_pair: str = "closest",
                 copy_from: str = "member") -> pd.DataFrame:
    """Set `model`'s kernels to the chosen sources' (biases and linear layers keep their
    values); returns the choice per kernel (`choose`)."""
    if len(sources) < 2:
        raise ValueError(f"a warm start needs at least two source models, got {len(sources)}")
    filter_sets = stacked_kernels(sources, aligned)
    choice = choose(filter_sets, metric, frobenius_pair, copy_from, seed)
    kernels = filter_sets[torch.tensor(choice.source.values), torch.arange(filter_sets.shape[1])]
    set_kernel_slices(model, kernels.to(next(model.parameters()).dtype))
    return choice
