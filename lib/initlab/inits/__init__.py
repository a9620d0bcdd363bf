"""Initializers, one registry: `initialize(model, method, **options)`.

`registry` holds it, and what a user's own initializer needs: `register`, `resolve` (a name or
'module.path:function'), `check_methods`, `fingerprint` and `InitSpec` (one init in a run's
settings); `options` reads per-init options (`parse_options`, the settings value
`InitOptions`). Each module below registers its methods on import: `standard` (Kaiming,
Xavier, ...), `orthogonal` (orthogonal, LSUV), `filters` (Gabor, similar filters, aligned
mean), `clustered` (k-means of trained filters), `matrix` (NFM/AGOP covariances), `weights`
(pretrained, shrink-and-perturb, sign flip, distortion).
"""

from initlab.inits import clustered, filters, matrix, orthogonal, standard, weights  # noqa: F401
from initlab.inits.registry import (
    InitOptions,
    InitSpec,
    check_methods,
    check_options,
    fingerprint,
    initialize,
    methods,
    options_for,
    parse_options,
    register,
    resolve,
    wants_data,
)

__all__ = ["InitOptions", "InitSpec", "check_methods", "check_options", "fingerprint",
           "initialize", "methods", "options_for", "parse_options", "register", "resolve",
           "wants_data"]
