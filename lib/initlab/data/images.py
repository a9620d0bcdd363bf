"""`ImageSet`: a labelled image set held whole in memory as uint8, and what is done to it.

Every study trains small CNNs on small data sets many times over, so a set is one uint8 tensor
(a quarter the memory of float32) sliced by index: no DataLoader, no per-sample transforms.
Reshaping (padding, resizing, channels) happens once per set, here, and nowhere else.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch.nn import functional as F


@dataclass(frozen=True, eq=False)  # eq=False: comparing tensors elementwise has no truth value
class ImageSet:
    """A labelled image set held whole on the CPU as uint8, with its normalization stats.

    uint8 keeps memory at a quarter of float32, so even Tiny ImageNet (100k x 3 x 64 x 64) fits
    comfortably; `to_float` converts (on the GPU if asked) only what a step needs.
    """

    images: torch.Tensor  # uint8 (N, C, H, W), CPU
    labels: torch.Tensor  # int64 (N,)
    classes: tuple[str, ...]  # class names, index = label
    mean: tuple[float, ...]  # per channel, in [0, 1] units
    std: tuple[float, ...]
    name: str

    def __post_init__(self) -> None:
        for field in ("classes", "mean", "std"):  # accept lists, store tuples (immutability)
            object.__setattr__(self, field, tuple(getattr(self, field)))
        images, labels = self.images, self.labels
        if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8:
            raise TypeError(f"ImageSet {self.name!r}: images must be a uint8 tensor, got "
                            f"{getattr(images, 'dtype', type(images).__name__)}")
        if images.dim() != 4:
            raise ValueError(f"ImageSet {self.name!r}: images must be 4-D (N, C, H, W), got "
                             f"shape {tuple(images.shape)}")
        if images.device.type != "cpu":
            raise ValueError(f"ImageSet {self.name!r}: images must stay on the CPU; move a batch "
                             "with to_float(device=...)")
        if not isinstance(labels, torch.Tensor) or labels.dtype != torch.int64 or labels.dim() != 1:
            raise TypeError(f"ImageSet {self.name!r}: labels must be a 1-D int64 tensor")
        if len(labels) != len(images):
            raise ValueError(f"ImageSet {self.name!r}: {len(images)} images but {len(labels)} "
                             "labels")
        channels = images.shape[1]
        if len(self.mean) != channels or len(self.std) != channels:
            raise ValueError(f"ImageSet {self.name!r}: mean/std need {channels} values (one per "
                             f"channel), got {len(self.mean)}/{len(self.std)}")
        if any(s <= 0 for s in self.std):
            raise ValueError(f"ImageSet {self.name!r}: std must be positive, got {self.std}")
        if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= len(self.classes)):
            raise ValueError(f"ImageSet {self.name!r}: labels must lie in "
                             f"0..{len(self.classes) - 1}"
                             f" (one per class name), got {int(labels.min())}..{int(labels.max())}")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def in_channels(self) -> int:
        return self.images.shape[1]

    @property
    def image_size(self) -> tuple[int, int]:
        return (self.images.shape[2], self.images.shape[3])

    def subset(self, indices: torch.Tensor | Sequence[int] | slice) -> ImageSet:
        """The images at `indices` (index tensor, list, boolean mask or slice), in that order."""
        if not isinstance(indices, slice):
            indices = torch.as_tensor(indices)
            if indices.dtype != torch.bool:
                indices = indices.long()
        return dataclasses.replace(self, images=self.images[indices], labels=self.labels[indices])

    def _permutation(self, seed: int) -> torch.Tensor:
        return torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))

    def split(self, fraction: float, seed: int) -> tuple[ImageSet, ImageSet]:
        """Seeded random split; the first part holds round(fraction * N) images."""
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction must lie in [0, 1], got {fraction}")
        order = self._permutation(seed)
        cut = round(fraction * len(self))
        return self.subset(order[:cut]), self.subset(order[cut:])

    def chunks(self, n: int, size: int, seed: int) -> list[ImageSet]:
        """`n` disjoint random subsets of `size` images each, from one seeded shuffle."""
        if n < 0 or size < 0 or n * size > len(self):
            raise ValueError(f"cannot cut {n} disjoint chunks of {size} from {len(self)} images "
                             f"of {self.name!r}")
        order = self._permutation(seed)
        return [self.subset(order[i * size:(i + 1) * size]) for i in range(n)]

    def select_classes(self, keep: Sequence[int], relabel: bool = True) -> ImageSet:
        """Only the images of the classes in `keep`.

        relabel=True maps the kept labels, in ascending order, to 0..len(keep)-1 (and the class
        names follow) so the result trains a head of len(keep) outputs; relabel=False keeps the
        original labels and names.
        """
        kept = sorted({int(k) for k in keep})
        if len(kept) != len(keep) or any(not 0 <= k < self.num_classes for k in kept):
            raise ValueError(f"keep must be distinct labels in 0..{self.num_classes - 1}, got "
                             f"{list(keep)}")
        mask = torch.isin(self.labels, torch.tensor(kept, dtype=torch.int64))
        part = self.subset(mask)
        if not relabel:
            return part
        mapping = torch.full((self.num_classes,), -1, dtype=torch.int64)
        mapping[kept] = torch.arange(len(kept))
        return dataclasses.replace(part, labels=mapping[part.labels],
                                   classes=tuple(self.classes[k] for k in kept))

    def to_float(self, device: torch.device | str | None = None,
                 normalize: bool = True) -> torch.Tensor:
        """float32 (N, C, H, W): [0, 1], then (x - mean) / std; moved as uint8 (4x less)."""
        x = self.images.to(device).float().div_(255.0)
        if normalize:
            mean = torch.tensor(self.mean, device=x.device).view(1, -1, 1, 1)
            std = torch.tensor(self.std, device=x.device).view(1, -1, 1, 1)
            x = x.sub_(mean).div_(std)
        return x

    def with_normalization(self, mean: Sequence[float], std: Sequence[float]) -> ImageSet:
        """The same images with other normalization stats (e.g. those of a source task)."""
        return dataclasses.replace(self, mean=tuple(mean), std=tuple(std))

    # ------------------------------------------------------------------ reshaping, once per set
    # Studies train one architecture on data sets of different shapes; reshaping the whole uint8
    # set once (not every batch) keeps training free of per-batch transforms.

    def padded(self, size: int) -> ImageSet:
        """Zero-padded evenly around to size x size (0 is MNIST-like images' background, so the
        padding adds background, as torchvision's Pad did); the stats are kept."""
        height, width = self.image_size
        if height > size or width > size:
            raise ValueError(f"{self.name}: images of {height}x{width} do not fit into "
                             f"{size}x{size}; use resized() instead")
        if (height, width) == (size, size):
            return self
        top, left = (size - height) // 2, (size - width) // 2
        x = F.pad(self.images, (left, size - width - left, top, size - height - top), value=0)
        return dataclasses.replace(self, images=x.contiguous())

    def resized(self, size: int) -> ImageSet:
        """Bilinear, antialiased resize to size x size, kept uint8 (in chunks of 8,192)."""
        if self.image_size == (size, size):
            return self
        chunks = []
        for start in range(0, len(self), 8192):
            x = self.images[start:start + 8192].float()
            x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True,
                              align_corners=False)
            chunks.append(x.round().clamp(0, 255).to(torch.uint8))
        return dataclasses.replace(self, images=torch.cat(chunks))

    def with_channels(self, channels: int) -> ImageSet:
        """1 -> 3: the grey channel (and its mean/std) repeated; 3 -> 1: the channel mean."""
        if channels == self.in_channels:
            return self
        if (self.in_channels, channels) == (1, 3):
            return dataclasses.replace(self, images=self.images.repeat(1, 3, 1, 1),
                                       mean=self.mean * 3, std=self.std * 3)
        if (self.in_channels, channels) == (3, 1):
            x = self.images.float().mean(1, keepdim=True).round().to(torch.uint8)
            return dataclasses.replace(self, images=x, mean=(sum(self.mean) / 3,),
                                       std=(sum(self.std) / 3,))
        raise ValueError(f"{self.name}: cannot turn {self.in_channels} channels into {channels}")

    def as_rgb(self) -> ImageSet:
        """Three channels (grey images repeated; RGB sets unchanged)."""
        return self.with_channels(3)
