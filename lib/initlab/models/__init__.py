"""Every architecture the studies use, behind one registry (`registry.build_model`).

The names below load on first use (PEP 562) and the registry imports each family module, which
registers its architectures, on its first lookup: importing the package (for its torch-free
`vgg_configs`, say) imports no torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["build_model", "conv_layers", "count_parameters", "model_names"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'initlab.models' has no attribute {name!r}")
    value = getattr(importlib.import_module("initlab.models.registry"), name)
    globals()[name] = value  # looked up once
    return value
