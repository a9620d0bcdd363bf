"""Study 01's noisy-subset training: initlab's path vs a textbook PyTorch loop.

The textbook loop is what the original code did (with its bug fixed): a Dataset whose
torchvision.transforms.v2 noise runs per sample on the CPU, a DataLoader, one model at a time.
initlab's path: data held as uint8 on the device, noise batched on the device, the six models
trained at once with fit_many. Same models, optimizer, batch size and number of images.

    .venv/bin/python bench/noisy_subsets.py [--size 10000] [--device cpu]
Prints both wall times and the ratio (goal: >= 5x on a CPU).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys

import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

sys.path.insert(0, os.path.dirname(__file__))
from common import header, study_data, timed  # noqa: E402

from initlab.data import noise
from initlab.models import build_model  # noqa: E402
from initlab.training.fit_many import fit_many  # noqa: E402
from initlab.training.recipe import Recipe  # noqa: E402
from initlab.training.runtime import Runtime  # noqa: E402

TEXTBOOK_NOISES = [  # the study's six noises as torchvision transforms, per sample
    v2.RandomPerspective(distortion_scale=0.6, p=1.0, fill=-1),
    v2.GaussianBlur(kernel_size=5, sigma=(1.0, 5.0)),
    v2.Lambda(lambda x: x + torch.randn_like(x)),
    v2.RandomErasing(p=0.5, value=-1),
    v2.ElasticTransform(alpha=125.0, fill=-1),
    v2.RandomRotation(30, fill=-1),
]


class NoisyImages(Dataset):
    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i):
        x = (self.images[i].float() / 255 - 0.5) / 0.5
        return self.transform(x), self.labels[i]


def textbook(subsets) -> None:
    for i, subset in enumerate(subsets):
        torch.manual_seed(i)
        model = build_model("tiny_cnn", 10)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loader = DataLoader(NoisyImages(subset.images, subset.labels, TEXTBOOK_NOISES[i]),
                            batch_size=64, shuffle=True)
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()


def ours(subsets, device: str) -> None:
    torch.manual_seed(0)
    models = [build_model("tiny_cnn", 10) for _ in subsets]
    fit_many(models, subsets, recipe=Recipe(lr=1e-3, epochs=1, batch_size=64),
             runtime=Runtime(device, progress="off"),
             augments=[functools.partial(noise.apply, n) for n in noise.NOISES],
             seeds=list(range(len(subsets))))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=10_000, help="images per noisy subset")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    images = study_data(6 * args.size)
    subsets = images.chunks(6, len(images) // 6, seed=0)
    header(f"study 01 noisy subsets: 6 x {len(subsets[0])} {images.name} images, 1 epoch")
    t_book = timed(lambda: textbook(subsets))
    t_ours = timed(lambda: ours(subsets, args.device))
    print(f"textbook (DataLoader + per-sample v2 noise): {t_book:7.2f} s")
    print(f"initlab (batched noise + fit_many):          {t_ours:7.2f} s")
    print(f"speed-up: {t_book / t_ours:.2f}x  (goal >= 5x)")


if __name__ == "__main__":
    main()
