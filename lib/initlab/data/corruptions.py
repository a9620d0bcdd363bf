"""Study 01's six noises by name and their parameter sets, without torch: the study's settings
check `noises` and `corruption` against these when they are built (`initlab list` builds every
study's), and `noise` holds the functions.
"""

from __future__ import annotations

NOISE_NAMES: tuple[str, ...] = ("perspective", "blur", "gaussian", "erasing", "elastic", "rotation")
"""The study's six noises, in the study's subset order (`noise.NOISES`: each name's function)."""

CORRUPTIONS: dict[str, dict[str, dict]] = {
    # computer-vision-projectv2.ipynb (every commit) and its README: torchvision v2 on images
    # normalized to [-1, 1]. ElasticTransform and RandomRotation keep torchvision's fill 0
    # (mid-grey there, not background), and RandomRotation(degrees=(0, 30)) turns one way.
    "original": {
        "perspective": dict(distortion_scale=0.3, fill=-1.0),
        "blur": dict(kernel_size=5, sigma=(1.0, 2.0)),
        "gaussian": dict(std=0.5),
        "erasing": dict(p=0.5, fill=-1.0),
        "elastic": dict(alpha=50.0, sigma=5.0, fill=0.0),
        "rotation": dict(degrees=(0.0, 30.0), fill=0.0),
    },
    # initlab's earlier, stronger set (the functions' defaults): perspective 0.6 and blur
    # sigma (1, 5) as the original's first draft notebook, N(0, 1) noise, elastic alpha 125,
    # rotation within +-30 degrees, every fill the background -1.
    "strong": {"perspective": {}, "blur": {}, "gaussian": {}, "erasing": {}, "elastic": {},
               "rotation": {}},
}
"""The parameter sets of the six noises (study 01's `corruption` setting)."""
