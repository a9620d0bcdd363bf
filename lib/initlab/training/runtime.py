"""Where and how training runs: one `Runtime`, passed explicitly from the CLI or a notebook's
parameters cell down to `fit`, never read from the environment.

Studies say `device="auto"` and run unchanged on a CUDA GPU, an Apple GPU or a laptop CPU. A
value the user gave (threads, compile) always wins over the package's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

DEVICES = ("auto", "cpu", "cuda", "mps")
PROGRESS = ("auto", "log", "off")
SMALL_MODEL = 2_000_000  # parameters; below this, one CPU thread trains fastest (measured)
_DEFAULT_THREADS = torch.get_num_threads()


@dataclass(frozen=True)
class Runtime:
    """Device, compile, CPU threads and progress style: how to run, never what is computed
    (the numbers of a run do not depend on these on one device)."""

    device: str = "auto"  # auto (cuda > mps > cpu) | cpu | cuda | cuda:N | mps
    compile: bool = False  # torch.compile the model: worth it for long GPU runs only
    threads: int = 0  # CPU threads for training; 0 = by model size (see `threads_for`)
    progress: str = "auto"  # auto: tqdm bars | log: outer bars and one line per fit | off

    def __post_init__(self) -> None:
        pick_device(self.device)  # fails at once on an unknown or absent device
        if self.threads < 0:
            raise ValueError(f"threads must be >= 0 (0 = by model size), got {self.threads}")
        if self.progress not in PROGRESS:
            raise ValueError(f"unknown progress {self.progress!r}; choose one of "
                             f"{', '.join(PROGRESS)}")

    @property
    def torch_device(self) -> torch.device:
        return pick_device(self.device)


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


def threads_for(model: nn.Module, runtime: Runtime) -> int:
    """CPU threads for training `model`: the user's `runtime.threads` if given, else one for
    models under SMALL_MODEL parameters and torch's default for larger ones.

    The studies' models are small: their kernels are too short to split across threads, and
    with two threads a single busy neighbour process (a notebook kernel, another run) stalls
    every parallel region. Measured on this project's 2-core machines: tiny_cnn and a
    quarter-width ResNet-18 trained 5-10x faster on 1 thread than on 2 under load.
    """
    if runtime.threads:
        return runtime.threads
    size = sum(p.numel() for p in model.parameters())
    return 1 if size < SMALL_MODEL else _DEFAULT_THREADS


def prepare(model: nn.Module, runtime: Runtime) -> nn.Module:
    """Move `model` to the runtime's device under the package's device policy; return what to
    call for a forward pass.

    CUDA: channels_last weights (with NHWC batches and bf16 autocast, the fast path for
    convolutions on tensor cores); `runtime.compile` wraps the model in torch.compile. CPU: the
    thread count of `threads_for`.
    """
    device = runtime.torch_device
    model.to(device)
    if device.type == "cpu":
        threads = threads_for(model, runtime)
        if threads != torch.get_num_threads():
            torch.set_num_threads(threads)
    if device.type == "cuda":
        model.to(memory_format=torch.channels_last)
    return torch.compile(model) if runtime.compile else model
