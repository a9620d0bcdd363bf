"""Seeds: every random choice in the package takes one, and a run derives its children here.

`derive_seed(seed, *tags)` depends on the tags' text, not on the order in which choices are
made, so adding a random step to a study leaves the other steps' draws unchanged.
"""

from __future__ import annotations

import hashlib


def derive_seed(seed: int, *tags: object) -> int:
    """A stable child seed for one random choice inside a run (e.g. `derive_seed(s, "noise", 3)`).

    Child seeds depend on the tags' text, not on the order choices are made in, so adding a
    random step to a study leaves the other steps' draws unchanged.
    """
    text = ":".join([str(seed), *map(str, tags)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") % 2**63
