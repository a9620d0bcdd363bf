"""ImageNet weights from torchvision, when the user has them (or a network to fetch them).

Offline, torchvision's download fails deep inside urllib; `WeightsUnavailableError` says instead
which file is missing, where torchvision looks for it, and what to do without it (the studies
fall back to a checkpoint trained by this package on another data set, a setting of each study).
"""

from __future__ import annotations

import urllib.error

import torch
from torch import nn

IMAGENET_WEIGHTS = {"resnet18": "ResNet18_Weights", "resnet50": "ResNet50_Weights",
                    "vgg11": "VGG11_Weights", "vgg19": "VGG19_Weights"}
HEADS = ("fc.", "classifier.6.")  # the class-specific last layer, replaced for a new task


class WeightsUnavailableError(RuntimeError):
    """ImageNet weights are neither cached nor downloadable."""


def imagenet_state_dict(name: str) -> dict[str, torch.Tensor]:
    """torchvision's IMAGENET1K_V1 state dict for `name`, from the cache or downloaded."""
    if name not in IMAGENET_WEIGHTS:
        choices = ", ".join(IMAGENET_WEIGHTS)
        raise ValueError(f"no ImageNet weights for {name!r}; available: {choices}")
    import torchvision  # 1.5 s to import: only where weights are wanted (`initlab plan` is not)

    weights = getattr(torchvision.models, IMAGENET_WEIGHTS[name]).IMAGENET1K_V1
    try:
        return weights.get_state_dict(progress=False)
    except (urllib.error.URLError, OSError, RuntimeError) as error:
        file = weights.url.rsplit("/", 1)[-1]
        raise WeightsUnavailableError(
            f"ImageNet weights for {name} are not available ({error}). Put {file} into "
            f"{torch.hub.get_dir()}/checkpoints/ (on a machine with network: python -c "
            f"\"import torchvision; torchvision.models.{name}(weights='IMAGENET1K_V1')\"), or "
            "use the study's fallback: a checkpoint of the same architecture trained by initlab "
            "on another data set (see the study's `pretrained` setting)."
        ) from error


@torch.no_grad()
def load_imagenet(model: nn.Module, name: str) -> nn.Module:
    """Load ImageNet weights into `model` (width 1, 3 channels), keeping its own head when the
    class count differs (a new task gets a new, freshly initialized last layer)."""
    state = imagenet_state_dict(name)
    own = model.state_dict()
    keep = {k: v for k, v in state.items() if not (k.startswith(HEADS) and own[k].shape != v.shape)}
    missing = set(own) - set(keep)
    if any(not k.startswith(HEADS) for k in missing):
        raise ValueError(f"{name}: weights do not fit this model (width 1 and 3 channels needed)")
    model.load_state_dict({**own, **keep})
    return model
