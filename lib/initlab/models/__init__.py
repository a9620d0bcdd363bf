"""Every architecture the studies use, behind one registry (`registry.build_model`).

Importing the package imports each family module once, which registers its architectures.
"""

from initlab.models import resnet, small, vgg  # noqa: F401  (registers the architectures)
from initlab.models.registry import build_model, conv_layers, count_parameters, model_names

__all__ = ["build_model", "conv_layers", "count_parameters", "model_names"]
