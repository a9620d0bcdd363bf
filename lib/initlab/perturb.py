"""Initializations that start from existing weights: perturbations of a trained network (sign
flip, distortion) and a checkpoint of the same architecture trained on another data set.

Study 05 asks whether a perturbed network, retrained, returns to where it was: `sign_flip`
maps theta to -theta (a large, structured jump: ||theta - (-theta)|| = 2 ||theta||) and
`distortion` adds 1e-6 to every parameter (a tiny one). `pretrained_checkpoint` is the study's
"pretrained" init where no ImageNet weights exist (LeNet-5, narrow models, offline machines).
All three act in place on parameters only: batch-norm running statistics stay as they were.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from initlab.initializers import register


@register("sign_flip")
@torch.no_grad()
def sign_flip(model: nn.Module) -> nn.Module:
    """theta -> -theta for every parameter (weights, biases, norm scales and shifts)."""
    for param in model.parameters():
        param.neg_()
    return model


@register("distortion")
@torch.no_grad()
def distortion(model: nn.Module, epsilon: float = 1e-6) -> nn.Module:
    """theta -> theta + epsilon for every parameter (the original's 1e-6 by default)."""
    for param in model.parameters():
        param.add_(epsilon)
    return model


def head_keys(model: nn.Module) -> list[str]:
    """State-dict keys of the last `nn.Linear` (the class-specific head a new task replaces)."""
    last = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not last:
        raise ValueError(f"{type(model).__name__} has no nn.Linear head")
    prefix = f"{last[-1]}." if last[-1] else ""
    return [k for k in model.state_dict() if k.startswith(prefix) and
            k[len(prefix):] in ("weight", "bias")]


@register("pretrained_checkpoint")
@torch.no_grad()
def pretrained_checkpoint(model: nn.Module, state: Mapping[str, torch.Tensor],
                          keep_head: bool = False) -> nn.Module:
    """Load a same-architecture checkpoint (`state`, a state dict with buffers) into `model`.

    With keep_head=False (the default, as for ImageNet weights) the last linear layer keeps the
    model's own fresh values: the source's classes are not the target's, even when both have 10.
    """
    own = model.state_dict()
    skip = set() if keep_head else set(head_keys(model))
    missing = sorted(set(own) - set(state) - skip)
    wrong = [k for k in own if k in state and k not in skip and own[k].shape != state[k].shape]
    if missing or wrong:
        raise ValueError(f"checkpoint does not fit the model: missing {missing[:5]}, "
                         f"shape mismatch at {wrong[:5]} (same architecture and width needed)")
    model.load_state_dict({k: (own[k] if k in skip else state[k].to(own[k].device))
                           for k in own})
    return model
