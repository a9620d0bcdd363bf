"""One ResNet-18 epoch at CIFAR size: initlab's `fit` vs a textbook DataLoader loop, and the
fraction of the device's peak FLOP/s that `fit` reaches. Meant for a GPU; runs on a CPU with a
small `--size` to check the script itself.

    .venv/bin/python bench/resnet_epoch.py --device cuda [--size 50000] [--peak-tflops 989]

Images are random uint8 tensors of CIFAR's shape (timing does not depend on their content,
and CIFAR need not be present). Both loops: SGD, batch 128, flip + rotation augmentation.
The FLOP count is forward + backward of one batch (torch.utils.flop_counter), times batches.
"""

from __future__ import annotations

import argparse
import os
import sys

import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, os.path.dirname(__file__))
from common import per_sample_dataset, timed  # noqa: E402

from initlab.data import ImageSet, augment, noise  # noqa: E402
from initlab.models import build_model  # noqa: E402
from initlab.training.fit import fit  # noqa: E402
from initlab.training.recipe import Recipe  # noqa: E402
from initlab.training.runtime import Runtime, pick_device  # noqa: E402

MEAN, STD = (0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761)


def synthetic(size: int) -> ImageSet:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (size, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (size,), generator=g)
    return ImageSet(images, labels, tuple(map(str, range(10))), MEAN, STD, "synthetic")


def flip_rotate(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return noise.rotate(augment.hflip(x, g), g, 15.0)


def textbook_epoch(data: ImageSet, device: torch.device, workers: int) -> None:
    model = build_model("resnet18", 10, 3).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    dataset = per_sample_dataset(data.images, data.labels, MEAN, STD)
    loader = DataLoader(dataset, batch_size=128, shuffle=True, num_workers=workers,
                        pin_memory=device.type == "cuda")
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()


def ours_epoch(data: ImageSet, device: torch.device) -> None:
    model = build_model("resnet18", 10, 3)
    recipe = Recipe(optimizer="sgd", lr=0.01, weight_decay=1e-4, epochs=1, batch_size=128)
    fit(model, data, recipe=recipe, runtime=Runtime(str(device), progress="off"),
        augment=flip_rotate)
    if device.type == "cuda":
        torch.cuda.synchronize()


def flops_per_batch(device: torch.device) -> int:
    model = build_model("resnet18", 10, 3).to(device)
    x = torch.randn(128, 3, 32, 32, device=device)
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), torch.zeros(128, dtype=torch.long, device=device)).backward()
    return counter.get_total_flops()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="auto")
    parser.add_argument("--size", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    parser.add_argument("--peak-tflops", type=float, default=989.0,
                        help="the device's dense bf16 peak (H100 SXM: 989)")
    args = parser.parse_args()
    device = pick_device(args.device)
    data = synthetic(args.size)
    name = torch.cuda.get_device_name() if device.type == "cuda" else device.type
    print(f"# ResNet-18, {args.size} CIFAR-size images, batch 128, one epoch, on {name}")
    ours_epoch(synthetic(1024), device)  # warm-up: kernels, allocator
    t_book = timed(lambda: textbook_epoch(data, device, args.workers))
    t_ours = timed(lambda: ours_epoch(data, device))
    flops = flops_per_batch(device) * -(-args.size // 128)
    print(f"textbook (DataLoader, {args.workers} workers, v2 per sample): {t_book:7.2f} s")
    print(f"initlab fit (device-resident, batched augmentation):   {t_ours:7.2f} s")
    print(f"speed-up: {t_book / t_ours:.2f}x")
    achieved = flops / t_ours / 1e12
    print(f"achieved: {achieved:.1f} TFLOP/s = {100 * achieved / args.peak_tflops:.1f}% "
          f"of {args.peak_tflops:.0f} TFLOP/s peak")


if __name__ == "__main__":
    main()
