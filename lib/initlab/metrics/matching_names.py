"""`matching`'s choices by name, without torch: study 02's settings check their alignment
settings against these when they are built (`initlab list` builds every study's)."""

from __future__ import annotations

METHODS = ("greedy", "optimal")  # how further models are matched to the groups
ORDERS = ("groups", "filters")  # greedy: which side walks in index order (groups: the original)
