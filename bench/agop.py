"""`agop` (W^T (sum G G^T) W, one backward per class and chunk) vs `agop_bruteforce` (unfolded
patches, torch.func Jacobians per image) for VGG11 layers on the same images.

    OMP_NUM_THREADS=1 .venv/bin/python bench/agop.py [--layers features.0,features.8]
        [--images 64] [--width 1.0] [--size 32] [--classes 10] [--chunk 64]
Prints, per conv layer (all eight by default), each method's wall time and peak memory
(resident-set growth, measured in a forked child per method and layer), their ratio, and the
relative difference of the two matrices; then the study's own call, every listed layer in one
`agop` pass, against the brute force run layer by layer. The defaults are study 03's: 64 target
images, chunks of 64 at 32x32. Goal: agop >= 20x faster.

Both methods pay the same forward pass and the same C backward passes from the logits down to
the layer (C classes; no exact method needs fewer); `agop` saves the per-position
(c_in*k*k)^2 outer products. So the ratio is about 2-4x for the early layers, whose backward
passes run through the whole network, and largest for the deep ones, where the outer products
dominate the brute force.
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

from initlab.metrics.agop import agop, agop_bruteforce  # noqa: E402
from initlab.models import build_model  # noqa: E402

VGG11_CONVS = ("features.0", "features.3", "features.6", "features.8", "features.11",
               "features.13", "features.16", "features.18")
ALL = "all"


def _measure(method: str, layer: str, args, queue) -> None:
    """In a child process: wall time of one call, peak memory growth, and the matrix."""
    torch.manual_seed(0)
    model = build_model("vgg11", args.classes, 3, width=args.width, image_size=args.size)
    images = torch.randn(args.images, 3, args.size, args.size,
                         generator=torch.Generator().manual_seed(1))
    target = args.layers.split(",") if layer == ALL else layer  # ALL: the listed, in 1 pass
    fn = {"agop": lambda x: agop(model, target, x, chunk_size=args.chunk),
          "bruteforce": lambda x: agop_bruteforce(model, layer, x)}[method]
    fn(images[:1])  # warm-up on one image (first-call costs, e.g. torch.func's import)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    result = {}
    seconds = timed(lambda: result.setdefault("m", fn(images)))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    matrix = result["m"]
    matrix = matrix if isinstance(matrix, torch.Tensor) else torch.zeros(1)  # ALL: time only
    queue.put((method, seconds, peak, matrix.cpu().numpy()))  # numpy: no shared fds


def measure(method: str, layer: str, args) -> tuple[float, float, torch.Tensor]:
    """Seconds, peak MiB and the matrix of one method on one layer, in a forked child (so
    each gets its own memory high-water mark)."""
    queue = mp.get_context("fork").Queue()
    child = mp.get_context("fork").Process(target=_measure, args=(method, layer, args, queue))
    child.start()
    _, seconds, peak, matrix = queue.get()
    child.join()
    return seconds, peak / 2**20, torch.from_numpy(matrix)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", default=",".join(VGG11_CONVS))
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--chunk", type=int, default=64)
    args = parser.parse_args()
    header(f"agop vs agop_bruteforce: VGG11 width {args.width}, {args.images} random images "
           f"{args.size}x{args.size}, {args.classes} classes, chunks of {args.chunk}")
    print(f"{'layer':>12} {'D':>5} {'agop s':>8} {'brute s':>8} {'speed-up':>9} "
          f"{'agop MiB':>9} {'brute MiB':>9} {'mem ratio':>9} {'rel diff':>9}")
    total_brute, peak_brute = 0.0, 0.0
    for layer in args.layers.split(","):
        t_fast, m_fast, a = measure("agop", layer, args)
        t_slow, m_slow, b = measure("bruteforce", layer, args)
        total_brute, peak_brute = total_brute + t_slow, max(peak_brute, m_slow)
        diff = float((a - b).norm() / b.norm())
        print(f"{layer:>12} {len(a):5d} {t_fast:8.3f} {t_slow:8.3f} {t_slow / t_fast:8.1f}x "
              f"{m_fast:9.1f} {m_slow:9.1f} {m_slow / max(m_fast, 0.1):8.1f}x {diff:9.1e}",
              flush=True)
    t_all, m_all, _ = measure("agop", ALL, args)
    print(f"{'all, 1 pass':>12} {'':>5} {t_all:8.3f} {total_brute:8.3f} "
          f"{total_brute / t_all:8.1f}x {m_all:9.1f} {peak_brute:9.1f} "
          f"{peak_brute / max(m_all, 0.1):8.1f}x {'':>9}")
    print("speed-up = bruteforce time / agop time (goal >= 20x); 'all, 1 pass' = one agop "
          "call for every listed layer (study 03 calls it for all eight) vs the brute force "
          "summed over them; "
          "memory = peak resident-set growth; rel diff: float32 rounding can flip a ReLU or "
          "max-pool choice (float64: 1e-15)")


if __name__ == "__main__":
    main()
