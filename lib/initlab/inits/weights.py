"""Weight-based inits, which start from existing weights: a trained network's weights
(`pretrained`), shrink-and-perturb, and perturbations of a trained network (sign flip,
distortion).

Study 05 asks whether a perturbed network, retrained, returns to where it was: `sign_flip`
maps theta to -theta (a large, structured jump: ||theta - (-theta)|| = 2 ||theta||) and
`distortion` adds 1e-6 to every parameter (a tiny one). `pretrained` is the studies'
"pretrained" init where no ImageNet weights exist (LeNet-5, narrow models, offline machines).
Sign flip and distortion act on parameters only: batch-norm running statistics stay as they were.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from initlab.inits.registry import register


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


@register("pretrained")
@torch.no_grad()
def pretrained(model: nn.Module, source: nn.Module | Mapping[str, torch.Tensor],
               keep_head: bool = True) -> nn.Module:
    """Load a same-architecture network's parameters and buffers (`source`: a model or a state
    dict) into `model`. With keep_head=False the last linear layer keeps the model's own fresh
    values: the source's classes are not the target's, even when both have 10."""
    state = source.state_dict() if isinstance(source, nn.Module) else source
    own = model.state_dict()
    skip = set() if keep_head else set(head_keys(model))
    missing = sorted(set(own) - set(state) - skip)
    wrong = [k for k in own if k in state and k not in skip and own[k].shape != state[k].shape]
    if missing or wrong:
        raise ValueError(f"source does not fit the model: missing {missing[:5]}, shape "
                         f"mismatch at {wrong[:5]} (same architecture and width needed; "
                         "keep_head=False replaces a head of another size)")
    model.load_state_dict({k: (own[k] if k in skip else state[k].to(own[k].device))
                           for k in own})
    return model


@register("shrink_perturb")
@torch.no_grad()
def shrink_perturb(
    model: nn.Module, source: nn.Module, shrink: float = 0.4, perturb: float = 0.1
) -> nn.Module:
    """theta <- shrink * theta_source + perturb * theta_model (Ash and Adams, 2020).

    `model` must be freshly initialized: its current parameters are the 'fresh' draw.
    """
    source_params = dict(source.named_parameters())
    for name, param in model.named_parameters():
        param.mul_(perturb).add_(source_params[name].to(param.device), alpha=shrink)
    return model
