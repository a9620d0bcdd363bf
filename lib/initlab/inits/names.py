"""The package's init methods and their options' choices by name, without torch.

A study's settings name inits and option values as strings, and `profiles.load` checks them
when the settings are built (`initlab list` builds every study's, `initlab run` before any
notebook starts). Those checks need only these names, so they live here rather than in the
modules that implement the methods (each imports torch); `registry` imports a method's
module when the method is first used, and `registry.register` refuses a package method whose
name is not listed here under its module.
"""

from __future__ import annotations

# module under initlab.inits -> the methods it registers
METHODS: dict[str, tuple[str, ...]] = {
    "standard": ("kaiming_uniform", "kaiming_normal", "xavier_normal", "normal", "uniform",
                 "default"),
    "orthogonal": ("orthogonal", "lsuv"),
    "filters": ("gabor", "similar_filters", "aligned"),
    "clustered": ("clustered",),
    "matrix": ("nfm", "agop", "kaiming_nfm", "kaiming_agop"),
    "weights": ("sign_flip", "distortion", "pretrained", "shrink_perturb"),
}
BUILTINS: frozenset[str] = frozenset(name for names in METHODS.values() for name in names)
# the methods that take a batch of training inputs (`data`, `registry.wants_data`): a run
# names them by an `InitSpec` even without options; the others' runs need none (`for_run`)
DATA_METHODS: frozenset[str] = frozenset({"lsuv"})

# clustered: the space k-means works in, and whether centres are rescaled to Kaiming's norm
DISTANCES = ("euclidean", "fourier_real", "fourier_abs")
RESCALES = ("none", "kaiming")

# gabor's grid. centred: offsets from the kernel's centre. original: study 02's code, numpy's
# linspace(-size // 2, size // 2, size): off-centre and stretched ([-2, -0.5, 1] for size 3)
GABOR_GRIDS = ("centred", "original")
# per_model: each model's own seeded draw. shared: the original's numpy seeds 0, 1, 2, ... per
# output channel, counted over the layers, so every model gets the same filters
GABOR_DRAWS = ("per_model", "shared")
ALIGNED_MEANS = ("raw", "unit")  # aligned: unit is the original's mean of unit-norm filters

# matrix inits (docstring of `matrix`): "original" and "raw" are the original code's recipe
KAIMING_SCALES = ("variance", "original")
PD_SHIFTS = ("unit_trace", "raw")
