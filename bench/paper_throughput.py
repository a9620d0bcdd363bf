"""Training throughput of each study's main `paper` configuration, against the seeds' loop
measured in the same run, plus K = 8 stacked vs 8 sequential ResNet-18 runs (issue 15).

    .venv/bin/python bench/paper_throughput.py --device cuda [--steps 50] [--peak-tflops 989]
    .venv/bin/python bench/paper_throughput.py --device cpu --steps 2      # checks the script

For each configuration: images per second of initlab (`fit`, or `fit_many` for the six tiny
CNNs) and of the baseline, the seeds' loop: a DataLoader over per-sample CPU transforms
(torchvision v2), float32, one model at a time; their ratio; on CUDA the achieved TFLOP/s and
its share of `--peak-tflops` (the device's dense bf16 peak; H100/H200 SXM: 989). FLOPs are
forward + backward of one batch (torch.utils.flop_counter). Images are random uint8 tensors of
each data set's shape: timing does not depend on their content. Every run trains `--steps`
optimizer steps after a one-step warm-up (kernels, allocator, cuDNN autotuning).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from dataclasses import dataclass, field, replace

import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, os.path.dirname(__file__))
from common import per_sample_dataset, timed  # noqa: E402

from initlab.data import ImageSet, augment, noise  # noqa: E402
from initlab.models import build_model  # noqa: E402
from initlab.training.fit import fit  # noqa: E402
from initlab.training.fit_many import fit_many  # noqa: E402
from initlab.training.recipe import Recipe  # noqa: E402
from initlab.training.runtime import Runtime  # noqa: E402


@dataclass(frozen=True)
class Config:
    """One study's main training configuration at its `paper` settings."""

    study: str
    model: str
    shape: tuple[int, int, int]  # channels, height, width
    batch: int
    recipe: Recipe
    models: int = 1  # trained at once by fit_many (the six noisy tiny CNNs)
    options: dict = field(default_factory=dict)
    augment: bool = False  # flip + rotation, batched on the device (study 02)


SGD = dict(optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=1e-4)
CONFIGS = {c.study + ":" + c.model: c for c in (
    Config("warm_start", "tiny_cnn", (1, 28, 28), 64, Recipe("adam", batch_size=64), models=6),
    Config("clustered_init", "resnet18", (3, 32, 32), 128, Recipe(**SGD, batch_size=128),
           options=dict(stem="imagenet"), augment=True),
    Config("agop_nfm_init", "vgg11", (1, 224, 224), 64, Recipe(**SGD, batch_size=64),
           options=dict(image_size=224)),
    Config("parameter_dynamics", "lenet5", (3, 32, 32), 128, Recipe(**SGD, batch_size=128),
           options=dict(image_size=32)),
    Config("parameter_dynamics", "resnet18", (3, 32, 32), 128, Recipe(**SGD, batch_size=128),
           options=dict(stem="imagenet")),
    Config("parameter_dynamics", "vgg19", (3, 32, 32), 128, Recipe(**SGD, batch_size=128),
           options=dict(image_size=32, head="torchvision")),  # paper: torchvision's 4096 head
)}


def synthetic(n: int, shape: tuple[int, int, int], seed: int = 0) -> ImageSet:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, *shape), dtype=torch.uint8, generator=g)
    return ImageSet(images, torch.randint(0, 10, (n,), generator=g), tuple(map(str, range(10))),
                    (0.5,) * shape[0], (0.25,) * shape[0], "synthetic")


def _model(cfg: Config, seed: int) -> torch.nn.Module:
    return build_model(cfg.model, 10, cfg.shape[0], seed=seed, **cfg.options)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def initlab_run(cfg: Config, steps: int, runtime: Runtime) -> None:
    """`steps` steps of what the study calls: fit, or fit_many over `cfg.models` models."""
    recipe = replace(cfg.recipe, epochs=1)
    sets = [synthetic(steps * cfg.batch, cfg.shape, i) for i in range(cfg.models)]
    if cfg.models > 1:
        names = list(noise.NOISES)
        augments = [functools.partial(noise.apply, names[i % len(names)])
                    for i in range(cfg.models)]
        fit_many([_model(cfg, i) for i in range(cfg.models)], sets, recipe=recipe,
                 runtime=runtime, augments=augments, seeds=list(range(cfg.models)))
    else:
        flip_rotate = augment.compose(augment.hflip, noise.rotate) if cfg.augment else None
        fit(_model(cfg, 0), sets[0], recipe=recipe, runtime=runtime, augment=flip_rotate)
    _sync(runtime.torch_device)


def seeds_loop(cfg: Config, steps: int, device: torch.device, workers: int) -> None:
    """The baseline: per-sample CPU transforms in a DataLoader, float32, one model at a time."""
    mean, std = (0.5,) * cfg.shape[0], (0.25,) * cfg.shape[0]
    for i in range(cfg.models):
        data = synthetic(steps * cfg.batch, cfg.shape, i)
        model = _model(cfg, i).to(device)
        opt = cfg.recipe.make_optimizer(model.parameters())
        dataset = per_sample_dataset(data.images, data.labels, mean, std)
        loader = DataLoader(dataset, batch_size=cfg.batch, shuffle=True, num_workers=workers,
                            pin_memory=device.type == "cuda")
        for x, y in loader:
            loss = F.cross_entropy(model(x.to(device, non_blocking=True)), y.to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()
    _sync(device)


def flops_per_image(cfg: Config, device: torch.device) -> float:
    """Forward + backward FLOPs of one image (a batch of 2 counted, halved)."""
    model = _model(cfg, 0).to(device)
    x = torch.randn(2, *cfg.shape, device=device)
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), torch.zeros(2, dtype=torch.long, device=device)).backward()
    return counter.get_total_flops() / 2


def measure(cfg: Config, args, runtime: Runtime) -> str:
    """One table row: baseline and initlab images/s, their ratio, TFLOP/s and % of peak."""
    device = runtime.torch_device
    initlab_run(cfg, 1, runtime)  # warm-up
    images = cfg.models * args.steps * cfg.batch
    t_base = timed(lambda: seeds_loop(cfg, args.steps, device, args.workers))
    t_ours = timed(lambda: initlab_run(cfg, args.steps, runtime))
    row = (f"| {cfg.study} {cfg.model} x{cfg.models} | {images / t_base:9.1f} | "
           f"{images / t_ours:9.1f} | {t_base / t_ours:5.2f}x |")
    if device.type == "cuda":
        tflops = flops_per_image(cfg, device) * images / t_ours / 1e12
        row += f" {tflops:6.1f} | {100 * tflops / args.peak_tflops:5.1f}% |"
    return row


def stacked_vs_sequential(k: int, steps: int, runtime: Runtime) -> str:
    """K ResNet-18 runs (32x32, batch 128, torchvision stem) stacked vs one after another."""
    cfg = CONFIGS["parameter_dynamics:resnet18"]
    recipe = replace(cfg.recipe, epochs=1)
    sets = [synthetic(steps * cfg.batch, cfg.shape, i) for i in range(k)]

    def run(stack: bool) -> None:
        fit_many([_model(cfg, i) for i in range(k)], sets, recipe=recipe, runtime=runtime,
                 seeds=list(range(k)), stack_batch_norm=stack)
        _sync(runtime.torch_device)

    run(True)  # warm-up of the stacked network's kernels
    t_seq, t_stack = timed(lambda: run(False)), timed(lambda: run(True))
    images = k * steps * cfg.batch
    return (f"| {k} x ResNet-18: sequential fits (baseline) vs stacked | {images / t_seq:9.1f} | "
            f"{images / t_stack:9.1f} | {t_seq / t_stack:5.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=50, help="optimizer steps per run")
    parser.add_argument("--configs", default=",".join([*CONFIGS, "stacked"]),
                        help=f"comma-separated, of: {', '.join(CONFIGS)}, stacked")
    parser.add_argument("--k", type=int, default=8, help="models in the stacked comparison")
    parser.add_argument("--workers", type=int, default=-1,
                        help="baseline DataLoader workers (-1: 0 on a CPU, else min(8, cores))")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: the package's)")
    parser.add_argument("--peak-tflops", type=float, default=989.0,
                        help="the device's dense bf16 peak in TFLOP/s (H100/H200 SXM: 989)")
    args = parser.parse_args()
    runtime = Runtime(args.device, threads=args.threads, progress="off")
    runtime.apply()
    device = runtime.torch_device
    if args.workers < 0:
        args.workers = 0 if device.type == "cpu" else min(8, os.cpu_count() or 1)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"# paper-profile throughput on {name}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU thread(s), {args.steps} steps per run, baseline "
          f"DataLoader with {args.workers} worker(s)")
    print("| configuration | seeds' loop img/s | initlab img/s | ratio |"
          + (" TFLOP/s | % peak |" if device.type == "cuda" else ""))
    chosen = args.configs.split(",")
    for key in chosen:
        if key != "stacked":
            print(measure(CONFIGS[key], args, runtime), flush=True)
    if "stacked" in chosen:
        print(stacked_vs_sequential(args.k, args.steps, runtime))


if __name__ == "__main__":
    main()
