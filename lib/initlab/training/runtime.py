"""Where and how training runs: one `Runtime`, passed explicitly from the CLI or a notebook's
parameters cell down to `fit`, never read from the environment.

Studies say `device="auto"` and run unchanged on a CUDA GPU, an Apple GPU or a laptop CPU. A
value the user gave (threads, compile) always wins over the package's defaults.

Building a `Runtime` imports no torch where the device is "auto" or "cpu" (`check_device`):
`initlab plan --no-time` builds one and must stay light. torch loads where a device is
resolved or used (`torch_device`, `apply`, `prepare`), or a GPU's presence is checked.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from initlab.training.cluster import Cluster

if TYPE_CHECKING:
    import torch
    from torch import nn

DEVICES = ("auto", "cpu", "cuda", "mps")
PROGRESS = ("auto", "log", "off")
LAYOUTS = ("auto", "nchw", "nhwc")


@dataclass(frozen=True)
class Runtime:
    """Device, compile, CPU threads, progress style and executor: how to run, never what is
    computed (the numbers of a run do not depend on these on one device)."""

    device: str = "auto"  # auto (cuda > mps > cpu) | cpu | cuda | cuda:N | mps
    compile: bool = False  # torch.compile the model: worth it for long GPU runs only
    threads: int = 0  # CPU threads of the process; 0 = one (see `cpu_threads`)
    progress: str = "auto"  # auto: tqdm bars | log: outer bars and one line per fit | off
    cluster: Cluster = Cluster()  # where missing runs go: this process (default), local, slurm
    layout: str = "auto"  # conv tensors' memory layout: auto = NHWC on CUDA and CPU (`layout`)

    def __post_init__(self) -> None:
        check_device(self.device)  # fails at once on an unknown or absent device
        if self.threads < 0:
            raise ValueError(f"threads must be >= 0 (0 = by model size), got {self.threads}")
        if self.layout not in LAYOUTS:
            raise ValueError(f"unknown layout {self.layout!r}; choose one of "
                             f"{', '.join(LAYOUTS)}")
        if self.progress not in PROGRESS:
            raise ValueError(f"unknown progress {self.progress!r}; choose one of "
                             f"{', '.join(PROGRESS)}")

    def in_process(self) -> Runtime:
        """This runtime without an executor, one run at a time: what a job or a pool worker
        computes its run with (it never sends its work on again). Progress "auto" becomes
        "log": a job writes to a log file."""
        progress = "log" if self.progress == "auto" else self.progress
        return dataclasses.replace(self, cluster=Cluster(jobs=1), progress=progress)

    @property
    def torch_device(self) -> torch.device:
        return pick_device(self.device)

    @property
    def memory_format(self) -> torch.memory_format:
        """How conv weights and image batches are laid out. NHWC (channels_last) on CUDA feeds
        the tensor cores; on a CPU it is 1.5x faster for SimpleCNN and ~9x for its max pool,
        whose NCHW kernel is slow (bench/cpu_layout.py). The numbers differ from NCHW only in
        float rounding; "nchw" keeps the plain layout."""
        import torch

        if self.layout == "nchw" or (self.layout == "auto"
                                     and self.torch_device.type not in ("cuda", "cpu")):
            return torch.contiguous_format
        return torch.channels_last

    @property
    def cpu_threads(self) -> int:
        """The user's `threads`, else one. One policy for the whole process, set before any
        work (`apply`), because CPU float sums round differently with the thread count: a
        count chosen per model made a run's numbers depend on what ran before it. One thread
        is also the fastest for these studies' small models (measured 5-10x faster than two
        on a 2-core machine under load); give more for large models on many cores."""
        return self.threads or 1

    def apply(self) -> None:
        """Set the process's CPU thread count (idempotent); `store.run` and `notebook.setup`
        call it before any work, so every run computes under the same policy."""
        import torch

        if torch.get_num_threads() != self.cpu_threads:
            torch.set_num_threads(self.cpu_threads)


def check_device(name: str) -> str:
    """`name` in lower case, checked: a known device, and a GPU one only where it is
    available (only that check imports torch; "auto" and "cpu" are always fine)."""
    name = str(name).lower()
    if name not in DEVICES and not name.startswith("cuda:"):
        raise ValueError(f"unknown device {name!r}; choose one of {', '.join(DEVICES)}")
    if name in ("auto", "cpu"):
        return name
    import torch

    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but no CUDA GPU is visible; use 'auto' or 'cpu'")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' requested but no Apple GPU is available; "
                         "use 'auto' or 'cpu'")
    return name


def pick_device(name: str | torch.device = "auto") -> torch.device:
    """`auto` picks cuda > mps > cpu; an explicit name must be available (`check_device`)."""
    import torch

    if isinstance(name, torch.device):
        return name
    name = check_device(name)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(name)


def prepare(model: nn.Module, runtime: Runtime) -> nn.Module:
    """Move `model` to the runtime's device under the package's device policy; return what to
    call for a forward pass.

    Weights in the runtime's layout (`Runtime.memory_format`: channels_last on CUDA and CPU,
    with NHWC batches); `runtime.compile` wraps the model in torch.compile. The CPU thread
    count is the process's (`Runtime.apply`), never changed here.
    """
    import torch

    model.to(runtime.torch_device)
    model.to(memory_format=runtime.memory_format)
    return torch.compile(model) if runtime.compile else model
