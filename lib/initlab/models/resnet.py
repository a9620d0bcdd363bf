"""ResNet-18 in torchvision's layout (so ImageNet weights load by name), with a width factor,
a CIFAR stem option and study 02's "custom" variant; ResNet-50 straight from torchvision.

Module names match torchvision's (`conv1`, `bn1`, `layer1.0.conv1`, ..., `fc`), so
`load_state_dict` of torchvision's checkpoints works at width 1.
"""

from __future__ import annotations

import torch
from torch import nn

from initlab.models.registry import register


class BasicBlock(nn.Module):
    """Two 3x3 convs with batch norm; the residual addition can be switched off (custom)."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, residual: bool = True):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
            )
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)


class ResNet18(nn.Module):
    """torchvision's resnet18 (7x7 stride-2 stem + max-pool) or `stem="cifar"` (3x3, no pool)."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3, width: float = 1.0,
                 stem: str = "imagenet", custom: bool = False):
        super().__init__()
        if stem not in ("imagenet", "cifar"):
            raise ValueError(f"unknown stem {stem!r}; choose imagenet or cifar")
        planes = [max(1, round(c * width)) for c in (64, 128, 256, 512)]
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(in_channels, planes[0], 7, 2, 3, bias=False)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
        else:
            self.conv1 = nn.Conv2d(in_channels, planes[0], 3, 1, 1, bias=False)
            self.maxpool = nn.Identity()
        self.bn1 = nn.BatchNorm2d(planes[0])
        self.relu = nn.ReLU(inplace=True)
        inplanes = planes[0]
        for i, p in enumerate(planes):
            stride = 1 if i == 0 else 2
            residual = not (custom and i == 0)  # custom: layer1 without residual additions
            blocks = [BasicBlock(inplanes, p, stride, residual), BasicBlock(p, p, 1, residual)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            inplanes = p
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(inplanes, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        """torchvision's init: Kaiming normal (fan_out) convs, BN weight 1 and bias 0."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate representation (after global pooling)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


@register("resnet18")
def resnet18(num_classes: int = 10, in_channels: int = 3, width: float = 1.0,
             stem: str = "imagenet", custom: bool = False, **_ignored) -> ResNet18:
    """11,181,642 parameters with 10 classes at width 1 (the torchvision layout)."""
    return ResNet18(num_classes, in_channels, width, stem, custom)


@register("resnet50")
def resnet50(num_classes: int = 10, in_channels: int = 3, width: float = 1.0, **_ignored):
    """torchvision's ResNet-50 (width 1 and 3 input channels only): a transfer backbone."""
    import torchvision

    if width != 1.0 or in_channels != 3:
        raise ValueError("resnet50 supports width=1.0 and in_channels=3 only")
    return torchvision.models.resnet50(num_classes=num_classes)


def resnet_conv_layers(model: ResNet18) -> list[tuple[str, nn.Conv2d]]:
    """The 17 main conv layers in order (stem, then each block's conv1, conv2): no 1x1 shortcuts."""
    return [(n, m) for n, m in model.named_modules()
            if isinstance(m, nn.Conv2d) and "downsample" not in n]
