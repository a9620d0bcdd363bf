"""Initializers, one registry: `initialize(model, method, **options)`.

`registry` holds it; each module below registers its methods on import: `standard` (Kaiming,
Xavier, ...), `filters` (Gabor, similar filters, aligned mean), `clustered` (k-means of trained
filters), `matrix` (NFM/AGOP covariances), `weights` (pretrained, shrink-and-perturb, sign flip,
distortion).
"""

from initlab.inits import clustered, filters, matrix, standard, weights  # noqa: F401
from initlab.inits.registry import initialize, methods, register

__all__ = ["initialize", "methods", "register"]
