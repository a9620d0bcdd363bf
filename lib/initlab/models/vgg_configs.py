"""The VGGs' layer configurations (conv widths, "M" a 2x2 max-pool), without torch: study 03's
settings check their `model` against these names when they are built (`initlab list`)."""

from __future__ import annotations

CONFIGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"],
}
