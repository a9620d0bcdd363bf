"""fit_many with K tiny_cnn models vs K sequential `fit` calls, same data, same settings.

    .venv/bin/python bench/fit_many.py [--k 6] [--size 10000] [--epochs 1] [--device cpu]
                                       [--no-noise] [--repeats 3]
Prints both wall times (best of --repeats runs each) and the ratio (goal: >= 0.6 * K on a
CPU).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import header, study_data, timed  # noqa: E402

from initlab.data import noise
from initlab.models import build_model  # noqa: E402
from initlab.training.fit import fit  # noqa: E402
from initlab.training.fit_many import fit_many  # noqa: E402
from initlab.training.recipe import Recipe  # noqa: E402
from initlab.training.runtime import Runtime  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--k", type=int, default=6)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-noise", action="store_true", help="train on the clean images")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs each")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    runtime = Runtime(args.device, threads=args.threads, progress="off")
    images = study_data(args.size * args.k)
    subsets = images.chunks(args.k, len(images) // args.k, seed=0)
    names = list(noise.NOISES)
    augments = [None if args.no_noise else functools.partial(noise.apply, names[i % len(names)])
                for i in range(args.k)]
    common = dict(recipe=Recipe(lr=1e-3, epochs=args.epochs, batch_size=64), runtime=runtime)

    def models():
        torch.manual_seed(0)
        return [build_model("tiny_cnn", 10) for _ in range(args.k)]

    def sequential():
        for i, model in enumerate(models()):
            fit(model, subsets[i], augment=augments[i], seed=i, **common)

    def together():
        fit_many(models(), subsets, augments=augments, seeds=list(range(args.k)), **common)

    header(f"fit_many: {args.k} tiny_cnn on {images.name}, {len(subsets[0])} images each, "
           f"{args.epochs} epoch(s), noise {'off' if args.no_noise else 'on'}")
    t_seq, t_many = timed(sequential, args.repeats), timed(together, args.repeats)
    print(f"sequential fit x{args.k}: {t_seq:7.2f} s")
    print(f"fit_many (K={args.k}):     {t_many:7.2f} s")
    print(f"speed-up: {t_seq / t_many:.2f}x  (goal >= {0.6 * args.k:.1f}x)")


if __name__ == "__main__":
    main()
