"""Device choice, mixed precision policy and seeding, in one place.

Studies say `device="auto"` and run unchanged on a CUDA GPU, an Apple GPU or a laptop CPU.
bf16 autocast is used on CUDA only: MPS autocast is incomplete and CPU autocast is slower
than float32 for the small convolutions these studies use.
"""

from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch

DEVICES = ("auto", "cpu", "cuda", "mps")


def pick_device(name: str | torch.device = "auto") -> torch.device:
    """`auto` picks cuda > mps > cpu; an explicit name must be available."""
    if isinstance(name, torch.device):
        return name
    name = str(name).lower()
    if name not in DEVICES and not name.startswith("cuda:"):
        raise ValueError(f"unknown device {name!r}; choose one of {', '.join(DEVICES)}")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but no CUDA GPU is visible; use 'auto' or 'cpu'")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' requested but no Apple GPU is available; "
                         "use 'auto' or 'cpu'")
    return torch.device(name)


def autocast(device: torch.device, enabled: bool = True) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA, a no-op elsewhere."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a CPU generator for explicit draws."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


SMALL_MODEL = 2_000_000  # parameters; below this, one CPU thread trains fastest (measured)
_DEFAULT_THREADS = torch.get_num_threads()


def set_cpu_threads(num_parameters: int) -> int:
    """Set torch's CPU threads for training a model of this size; return the count.

    The studies' models are small: their kernels are too short to split across threads, and
    with two threads a single busy neighbour process (a notebook kernel, another run) stalls
    every parallel region. Measured on this project's 2-core machines: tiny_cnn and a
    quarter-width ResNet-18 trained 5-10x faster on 1 thread than on 2 under load.
    Large models keep torch's default. `INITLAB_THREADS=N` overrides both.
    """
    if env := os.environ.get("INITLAB_THREADS"):
        threads = int(env)
    else:
        threads = 1 if num_parameters < SMALL_MODEL else _DEFAULT_THREADS
    if threads != torch.get_num_threads():
        torch.set_num_threads(threads)
    return threads


def derive_seed(seed: int, *tags: object) -> int:
    """A stable child seed for one random choice inside a run (e.g. `derive_seed(s, "noise", 3)`).

    Child seeds depend on the tags' text, not on the order choices are made in, so adding a
    random step to a study leaves the other steps' draws unchanged.
    """
    import hashlib

    text = ":".join([str(seed), *map(str, tags)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") % 2**63
