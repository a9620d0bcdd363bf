"""VGG-11 and VGG-19 in torchvision's layout (`features.N`, `classifier.N`) with a width
factor and optional batch norm. The head is torchvision's (7x7 average pool, two 4096-wide
layers: ImageNet weights load, whatever the input size) or a small one (a pool to
image_size // 32 and two 512-wide layers, the usual CIFAR variant); by default the input size
picks it (224: torchvision's), and `head` names it outright.
"""

from __future__ import annotations

import torch
from torch import nn

from initlab.models.registry import register
from initlab.models.vgg_configs import CONFIGS

HEADS = ("auto", "torchvision", "small")


class VGG(nn.Module):
    def __init__(self, config: list, num_classes: int, in_channels: int, width: float,
                 image_size: int, batch_norm: bool, head: str = "auto"):
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"unknown VGG head {head!r}; choose one of {', '.join(HEADS)}")
        layers: list[nn.Module] = []
        channels = in_channels
        for item in config:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
                continue
            out = max(1, round(item * width))
            layers.append(nn.Conv2d(channels, out, 3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU(inplace=True))
            channels = out
        self.features = nn.Sequential(*layers)
        large = head == "torchvision" or (head == "auto" and image_size >= 224)
        pool = 7 if large else max(1, image_size // 32)
        hidden = max(1, round((4096 if large else 512) * width))
        self.avgpool = nn.AdaptiveAvgPool2d(pool)
        self.classifier = nn.Sequential(
            nn.Linear(channels * pool * pool, hidden), nn.ReLU(inplace=True), nn.Dropout(0.5),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(0.5),
            nn.Linear(hidden, num_classes),
        )

    def penultimate(self, x: torch.Tensor) -> torch.Tensor:
        """Activations entering the last linear layer."""
        x = torch.flatten(self.avgpool(self.features(x)), 1)
        return self.classifier[:-1](x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def _factory(name: str):
    def build(num_classes: int = 10, in_channels: int = 3, width: float = 1.0,
              image_size: int = 32, batch_norm: bool = False, head: str = "auto",
              **_ignored) -> VGG:
        return VGG(CONFIGS[name], num_classes, in_channels, width, image_size, batch_norm, head)

    build.__doc__ = (f"{name}: torchvision's layout; `image_size` 224 or head='torchvision' "
                     "gives torchvision's 4096-wide head, head='small' a 512-wide one.")
    return build


register("vgg11")(_factory("vgg11"))
register("vgg19")(_factory("vgg19"))
