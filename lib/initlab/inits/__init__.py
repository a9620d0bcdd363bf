"""Initializers, one registry: `initialize(model, method, **options)`.

`registry` holds it, and what a user's own initializer needs: `register`, `resolve` (a name or
'module.path:function'), `check_methods`, `fingerprint` and `InitSpec` (one init in a run's
settings); `options` reads per-init options (`parse_options`, the settings value
`InitOptions`); `names` lists the package's methods and their options' choices. The modules
below register their methods when the registry is first asked for a function (importing this
package imports no torch, so settings check init names at once): `standard` (Kaiming, Xavier,
...), `orthogonal` (orthogonal, LSUV), `filters` (Gabor, similar filters, aligned mean),
`clustered` (k-means of trained filters), `matrix` (NFM/AGOP covariances), `weights`
(pretrained, shrink-and-perturb, sign flip, distortion).
"""

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
