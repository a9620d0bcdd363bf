"""Small CNNs: study 01's tiny_cnn, LeNet-5, study 04's SimpleCNN and reduced AlexNet."""

from __future__ import annotations

from torch import nn

from initlab.models.registry import register


def _scaled(channels: int, width: float) -> int:
    return max(1, round(channels * width))


@register("tiny_cnn")
def tiny_cnn(num_classes: int = 10, in_channels: int = 1, width: float = 1.0, image_size: int = 28):
    """Study 01's network: two 3x3 convs (2 and 4 channels), two linear layers.

    On 28x28 MNIST: 3,418 parameters. Its ten 3x3 kernels are what the study compares.
    """
    c1, c2, hidden = _scaled(2, width), _scaled(4, width), _scaled(16, width)
    side = image_size // 4
    return nn.Sequential(
        nn.Conv2d(in_channels, c1, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(c2 * side * side, hidden),
        nn.ReLU(),
        nn.Linear(hidden, num_classes),
    )


@register("lenet5")
def lenet5(num_classes: int = 10, in_channels: int = 3, width: float = 1.0, image_size: int = 32):
    """Study 05's LeNet-5 (conv, pool, ReLU order as in the study): 62,006 parameters on 32x32x3."""
    c1, c2 = _scaled(6, width), _scaled(16, width)
    side = ((image_size - 4) // 2 - 4) // 2
    return nn.Sequential(
        nn.Conv2d(in_channels, c1, 5), nn.MaxPool2d(2), nn.ReLU(),
        nn.Conv2d(c1, c2, 5), nn.MaxPool2d(2), nn.ReLU(),
        nn.Flatten(),
        nn.Linear(c2 * side * side, _scaled(120, width)), nn.ReLU(),
        nn.Linear(_scaled(120, width), _scaled(84, width)), nn.ReLU(),
        nn.Linear(_scaled(84, width), num_classes),
    )


@register("simple_cnn")
def simple_cnn(num_classes: int = 10, in_channels: int = 1, width: float = 1.0,
               image_size: int = 28):
    """Study 04's MNIST baseline: 813,802 parameters on 28x28x1."""
    c, hidden = _scaled(32, width), _scaled(128, width)
    side = image_size // 2
    return nn.Sequential(
        nn.Conv2d(in_channels, c, 3, padding=1), nn.ReLU(),
        nn.Conv2d(c, c, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
        nn.Linear(c * side * side, hidden), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(hidden, num_classes),
    )


@register("reduced_alexnet")
def reduced_alexnet(num_classes: int = 10, in_channels: int = 3, width: float = 1.0,
                    image_size: int = 32, dropout2: float = 0.5):
    """Study 04's CIFAR-10 AlexNet: 6,199,498 parameters on 32x32x3.

    `dropout2` is the second dropout's p: the report's code wrote it `Dropout(0,5)`, which is
    p = 0 (its 72% came from that network); 0.5 is the value the report describes."""
    c1, c2, c3, c5 = (_scaled(c, width) for c in (48, 128, 192, 128))
    hidden = _scaled(2048, width)
    side = image_size // 16
    return nn.Sequential(
        nn.Conv2d(in_channels, c1, 5, stride=2, padding=2), nn.MaxPool2d(2), nn.ReLU(),
        nn.Conv2d(c1, c2, 5, padding=2), nn.MaxPool2d(2), nn.ReLU(),
        nn.Conv2d(c2, c3, 3, padding=1), nn.ReLU(),
        nn.Conv2d(c3, c3, 3, padding=1), nn.ReLU(),
        nn.Conv2d(c3, c5, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(),
        nn.Dropout(0.5), nn.Linear(c5 * side * side, hidden), nn.ReLU(),
        nn.Dropout(dropout2), nn.Linear(hidden, hidden), nn.ReLU(),
        nn.Linear(hidden, num_classes),
    )
