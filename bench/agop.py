"""`agop` (W^T (sum G G^T) W, one backward per class and chunk) vs `agop_bruteforce` (unfolded
patches, torch.func Jacobians per image) for VGG11 layers on the same images.

    .venv/bin/python bench/agop.py [--layers features.0,features.3,features.8,features.18]
                                   [--images 16] [--width 1.0] [--size 32] [--classes 10]
Prints, per layer (one at a time: first, second, middle and last conv by default), each
method's wall time and peak memory (resident-set growth, measured in a forked child per method
and layer), their ratios, and the relative difference of the two matrices. Goal: agop >= 20x
faster. Both methods pay the same forward and per-class backward passes through the network;
`agop` saves the per-position (c_in*k*k)^2 outer products, so the ratio grows with
(c_in*k*k / c_out)^2 * positions and with the number of images.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import header, timed  # noqa: E402

from initlab.agop import agop, agop_bruteforce  # noqa: E402
from initlab.models import build_model  # noqa: E402


def _measure(method: str, layer: str, args, queue) -> None:
    """In a child process: wall time of one call, peak memory growth, and the matrix."""
    torch.manual_seed(0)
    model = build_model("vgg11", args.classes, 3, width=args.width, image_size=args.size)
    images = torch.randn(args.images, 3, args.size, args.size,
                         generator=torch.Generator().manual_seed(1))
    fn = {"agop": lambda x: agop(model, layer, x, chunk_size=args.chunk),
          "bruteforce": lambda x: agop_bruteforce(model, layer, x)}[method]
    fn(images[:1])  # warm-up on one image (first-call costs, e.g. torch.func's import)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    result = {}
    seconds = timed(lambda: result.setdefault("m", fn(images)))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    queue.put((method, seconds, peak, result["m"].cpu().numpy()))  # numpy: no shared fds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", default="features.0,features.3,features.8,features.18")
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--chunk", type=int, default=32)
    args = parser.parse_args()
    header(f"agop vs agop_bruteforce: VGG11 width {args.width}, {args.images} random images "
           f"{args.size}x{args.size}, {args.classes} classes, chunks of {args.chunk}")
    print(f"{'layer':>12} {'D':>5} {'agop s':>8} {'brute s':>8} {'speed-up':>9} "
          f"{'agop MiB':>9} {'brute MiB':>9} {'mem ratio':>9} {'rel diff':>9}")
    context = mp.get_context("fork")
    for layer in args.layers.split(","):
        found = {}
        for method in ("agop", "bruteforce"):  # a child each: separate memory high-water marks
            queue = context.Queue()
            child = context.Process(target=_measure, args=(method, layer, args, queue))
            child.start()
            name, seconds, peak, matrix = queue.get()
            child.join()
            found[name] = (seconds, peak / 2**20, torch.from_numpy(matrix))
        (t_fast, m_fast, a), (t_slow, m_slow, b) = found["agop"], found["bruteforce"]
        diff = float((a - b).norm() / b.norm())
        print(f"{layer:>12} {len(a):5d} {t_fast:8.3f} {t_slow:8.3f} {t_slow / t_fast:8.1f}x "
              f"{m_fast:9.1f} {m_slow:9.1f} {m_slow / max(m_fast, 0.1):8.1f}x {diff:9.1e}",
              flush=True)
    print("speed-up = bruteforce time / agop time (goal >= 20x); memory = peak resident-set "
          "growth; rel diff: float32 rounding can flip a ReLU or max-pool choice (float64: 1e-15)")


if __name__ == "__main__":
    main()
