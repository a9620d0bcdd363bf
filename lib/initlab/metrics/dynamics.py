"""How far parameters move in training, and how alike two networks' features are.

Parameters are handled as flat float32 vectors (`flatten`, in the order of
`model.named_parameters()`, like `torch.nn.utils.parameters_to_vector`) with a `layout` table
naming each tensor's slice: a training run's snapshots are then one (snapshots, P) matrix,
cheap to store and to compare, and every per-tensor measure is a slice of it. Buffers (batch
norm running statistics) are not parameters and are left out.

Features are a model's penultimate activations on a fixed set of test images, (N, D). Units
that never fire (constant over the N images) have no correlation; `live` finds them so that
callers can drop and count them rather than let NaNs or zeros pose as measurements.
Correlations are Pearson's, or with kind="biased_covariance" study 05's original code's:
a /N covariance over /(N - 1) standard deviations, every r times (N - 1) / N.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from initlab.metrics.matching import greedy_pairs

# ------------------------------------------------------------------------------ parameters


def _kind(module: nn.Module, param_name: str, tensor: torch.Tensor) -> str:
    if isinstance(module, nn.modules.batchnorm._NormBase):
        return "norm"
    if param_name == "bias":
        return "bias"
    if isinstance(module, nn.Conv2d):
        return "conv"
    if isinstance(module, nn.Linear):
        return "linear"
    return "other" if tensor.dim() < 2 else "weight"


def layout(model: nn.Module) -> pd.DataFrame:
    """One row per parameter tensor: name, kind (conv/linear/bias/norm), shape, numel, offset
    (where its values start in the flat vector)."""
    rows, offset = [], 0
    for module_name, module in model.named_modules():
        for param_name, param in module.named_parameters(recurse=False):
            name = f"{module_name}.{param_name}" if module_name else param_name
            rows.append(dict(name=name, kind=_kind(module, param_name, param),
                             shape="x".join(map(str, param.shape)), numel=param.numel(),
                             offset=offset))
            offset += param.numel()
    frame = pd.DataFrame(rows, columns=["name", "kind", "shape", "numel", "offset"])
    order = [n for n, _ in model.named_parameters()]
    if list(frame.name) != order:  # shared parameters or unusual registration order
        raise ValueError("layout: parameters are shared or not in named_parameters() order")
    return frame


def flatten(state: Mapping[str, torch.Tensor], names: Sequence[str]) -> torch.Tensor:
    """The tensors `names` of a state dict as one float32 vector (parameters_to_vector order)."""
    return torch.cat([state[n].detach().reshape(-1).float().cpu() for n in names])


def snapshot_matrix(snapshots: Mapping[int, Mapping[str, torch.Tensor]],
                    names: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """(epochs, matrix): snapshot epochs ascending and one flattened parameter vector per row."""
    epochs = sorted(snapshots)
    matrix = torch.stack([flatten(snapshots[e], names) for e in epochs])
    return torch.tensor(epochs, dtype=torch.long), matrix


def interval_distances(epochs: Sequence[int], matrix: torch.Tensor) -> pd.DataFrame:
    """||theta_k - theta_{k-1}|| between consecutive snapshots, and ||theta_k - theta_first||."""
    epochs = [int(e) for e in epochs]
    rows = []
    for k in range(1, len(epochs)):
        rows.append(dict(start=epochs[k - 1], end=epochs[k],
                         interval=f"{epochs[k - 1]}-{epochs[k]}",
                         distance=float(torch.linalg.vector_norm(matrix[k] - matrix[k - 1])),
                         from_start=float(torch.linalg.vector_norm(matrix[k] - matrix[0]))))
    return pd.DataFrame(rows, columns=["start", "end", "interval", "distance", "from_start"])


def change_rate(start: torch.Tensor, end: torch.Tensor) -> float:
    """||theta_end - theta_start|| / ||theta_end||: the distance travelled, relative to where the
    weights ended (the original's definition)."""
    return float(torch.linalg.vector_norm(end - start) / torch.linalg.vector_norm(end))


def changed(start: torch.Tensor, end: torch.Tensor, tolerance: float) -> torch.Tensor:
    """Boolean mask of the scalar parameters whose absolute change exceeds `tolerance`."""
    return (end - start).abs() > tolerance


def change_share(start: torch.Tensor, end: torch.Tensor, table: pd.DataFrame,
                 tolerance: float) -> pd.DataFrame:
    """Per tensor of `table` (a `layout`): how many scalars changed by more than `tolerance`,
    their share, and the tensor's relative change ||delta|| / ||end||."""
    mask = changed(start, end, tolerance)
    rows = []
    for position, row in enumerate(table.itertuples(index=False)):
        part = slice(row.offset, row.offset + row.numel)
        end_norm = float(torch.linalg.vector_norm(end[part]))
        delta = float(torch.linalg.vector_norm(end[part] - start[part]))
        count = int(mask[part].sum())
        rows.append(dict(position=position, name=row.name, kind=row.kind, numel=row.numel,
                         changed=count, share=count / row.numel,
                         relative_change=delta / end_norm if end_norm else float("nan")))
    return pd.DataFrame(rows)


def overall_share(start: torch.Tensor, end: torch.Tensor, tolerance: float) -> float:
    """The fraction of all scalar parameters whose absolute change exceeds `tolerance`."""
    return float(changed(start, end, tolerance).float().mean())


def share_by_tolerance(start: torch.Tensor, end: torch.Tensor,
                       tolerances: Sequence[float]) -> pd.DataFrame:
    """`overall_share` for each tolerance: how the answer depends on the threshold one states."""
    return pd.DataFrame([dict(tolerance=t, share=overall_share(start, end, t))
                         for t in tolerances])


def visible_shift(values: torch.Tensor, shift: float, dtype: torch.dtype) -> float:
    """The fraction of float32 `values` whose `dtype` representation changes when `shift` is
    added in float32: what a network computing in `dtype` (bf16 autocast rounds each float32
    weight to bf16 before use) sees of the perturbation theta -> theta + shift."""
    values = values.float()
    return float(((values + shift).to(dtype) != values.to(dtype)).float().mean())


def padding_only_taps(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Mask over the flat vector of the conv weights that only ever touch zero padding.

    A kernel tap that no output position ever places on a real input pixel gets no gradient
    and can never move: a 3x3 convolution (padding 1) applied to a 1x1 feature map only uses
    its centre tap, so 8/9 of its weights are frozen by construction. ResNet-18's last stage
    sees 1x1 maps on 32x32 inputs with the ImageNet stem; this is the share of its parameters
    that stays unchanged whatever the optimizer. The input sizes come from one forward pass
    of `x`; dead ReLUs and other data-dependent zeros are not counted.
    """
    sizes: dict[nn.Module, tuple[int, int]] = {}

    def record(module: nn.Module, args: tuple) -> None:
        sizes.setdefault(module, tuple(args[0].shape[-2:]))

    hooks = [m.register_forward_pre_hook(record) for m in model.modules()
             if isinstance(m, nn.Conv2d)]
    was_training = model.training
    with torch.no_grad():
        model.eval()(x)
    model.train(was_training)
    for hook in hooks:
        hook.remove()
    parts = []
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            frozen = torch.zeros(param.shape, dtype=torch.bool)
            if isinstance(module, nn.Conv2d) and name == "weight" and module in sizes:
                rows = _used_taps(module, 0, sizes[module][0])
                cols = _used_taps(module, 1, sizes[module][1])
                frozen[..., :, :] = ~(rows[:, None] & cols[None, :])
            parts.append(frozen.reshape(-1))
    return torch.cat(parts)


def _used_taps(conv: nn.Conv2d, axis: int, size: int) -> torch.Tensor:
    """Which kernel positions along `axis` land on a real input pixel for some output."""
    k, s, p, d = (conv.kernel_size[axis], conv.stride[axis], conv.padding[axis],
                  conv.dilation[axis])
    outputs = (size + 2 * p - d * (k - 1) - 1) // s + 1
    where = torch.arange(outputs)[:, None] * s - p + torch.arange(k)[None, :] * d
    return ((where >= 0) & (where < size)).any(0)


def weight_mask(table: pd.DataFrame, total: int) -> torch.Tensor:
    """Boolean mask over the flat vector selecting conv and linear weights (no biases, no norms)."""
    mask = torch.zeros(total, dtype=torch.bool)
    for row in table.itertuples(index=False):
        if row.kind in ("conv", "linear"):
            mask[row.offset:row.offset + row.numel] = True
    return mask


def histograms(start: torch.Tensor, end: torch.Tensor, bins: int = 80,
               quantile: float = 0.999) -> pd.DataFrame:
    """Counts of `start` and `end` values on common bins, symmetric around zero.

    The range is the `quantile` of |value| over both vectors, so a handful of outliers does
    not squash the bulk into one bin; values outside are counted in the outer bins.
    """
    both = torch.cat([start, end]).abs()
    sample = both if both.numel() <= 2_000_000 else both[:: both.numel() // 2_000_000 + 1]
    limit = float(torch.quantile(sample.double(), quantile)) or 1.0
    edges = np.linspace(-limit, limit, bins + 1)
    rows = []
    for when, values in (("start", start), ("end", end)):
        counts, _ = np.histogram(values.clamp(-limit, limit).numpy(), bins=edges)
        rows += [dict(when=when, left=edges[i], right=edges[i + 1], count=int(c))
                 for i, c in enumerate(counts)]
    return pd.DataFrame(rows)


# -------------------------------------------------------------------------------- features


@torch.no_grad()
def penultimate(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The activations the last linear layer reads: VGG's `penultimate`, ResNet's `features`,
    or everything but the last module of an `nn.Sequential` (LeNet-5: its 84 ReLU units)."""
    if hasattr(model, "penultimate"):
        return model.penultimate(x)
    method = getattr(model, "features", None)
    if callable(method) and not isinstance(method, nn.Module):
        return method(x)
    if isinstance(model, nn.Sequential):
        return model[:-1](x)
    raise TypeError(f"no penultimate layer known for {type(model).__name__}")


@torch.no_grad()
def collect_features(model: nn.Module, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """(N, D) penultimate features of the float batch `x` (on the model's device), eval mode."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    parts = [penultimate(model, x[i:i + batch_size].to(device)).float().flatten(1).cpu()
             for i in range(0, len(x), batch_size)]
    model.train(was_training)
    return torch.cat(parts)


def live(features: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Mask of the features that vary over the images (std > eps); dead units are constant."""
    return features.float().std(0) > eps


CORRELATIONS = ("pearson", "biased_covariance")


def _standardized(features: torch.Tensor) -> torch.Tensor:
    x = features.double()
    x = x - x.mean(0)
    norm = x.norm(dim=0)
    return x / torch.where(norm > 0, norm, torch.ones_like(norm))


def _scale(n: int, kind: str) -> float:
    """What multiplies Pearson's r: 1, or (N - 1) / N for the original's mixed divisors."""
    if kind not in CORRELATIONS:
        raise ValueError(f"unknown correlation {kind!r}; choose from {', '.join(CORRELATIONS)}")
    return 1.0 if kind == "pearson" else (n - 1) / n


def correlation(features: torch.Tensor, kind: str = "pearson") -> torch.Tensor:
    """(D, D) correlations between the columns of (N, D) `features` (Pearson's, or the
    original's with kind="biased_covariance"; constant columns give 0 everywhere, their
    diagonal included: drop them first with `live`)."""
    z = _standardized(features)
    return (_scale(len(features), kind) * (z.T @ z)).float()


def cross_correlation(a: torch.Tensor, b: torch.Tensor, kind: str = "pearson") -> torch.Tensor:
    """(Da, Db) correlations between the features of two models on the same images."""
    if len(a) != len(b):
        raise ValueError(f"features of {len(a)} and {len(b)} images: use the same images")
    return (_scale(len(a), kind) * (_standardized(a).T @ _standardized(b))).float()


def matched_correlation(a: torch.Tensor, b: torch.Tensor, drop_dead: bool = True,
                        kind: str = "pearson") -> dict:
    """Cross-correlation of two feature sets after greedy matching.

    Returns `matrix` (rows and columns reordered so that matched pairs lie on the diagonal,
    strongest first), `values` (the matched correlations, signed), `rows`/`cols` (indices into
    the live features), and the number of dead features dropped from each side.
    """
    keep_a = live(a) if drop_dead else torch.ones(a.shape[1], dtype=torch.bool)
    keep_b = live(b) if drop_dead else torch.ones(b.shape[1], dtype=torch.bool)
    cross = cross_correlation(a[:, keep_a], b[:, keep_b], kind)
    rows, cols, values = greedy_pairs(cross)
    taken_rows, taken_cols = set(rows.tolist()), set(cols.tolist())
    rest_rows = [i for i in range(cross.shape[0]) if i not in taken_rows]
    rest_cols = [j for j in range(cross.shape[1]) if j not in taken_cols]
    matrix = cross[torch.cat([rows, torch.tensor(rest_rows, dtype=torch.long)])][
        :, torch.cat([cols, torch.tensor(rest_cols, dtype=torch.long)])]
    return dict(matrix=matrix, values=values, rows=rows, cols=cols,
                dead_a=int((~keep_a).sum()), dead_b=int((~keep_b).sum()))


def matched_summary(values: torch.Tensor) -> dict[str, float]:
    """Mean and median |r| of matched pairs and the share of pairs with |r| > 0.5 and > 0.9."""
    v = values.abs().double()
    if not len(v):
        return dict(matched_mean=float("nan"), matched_median=float("nan"),
                    share_above_0_5=float("nan"), share_above_0_9=float("nan"), pairs=0)
    return dict(matched_mean=float(v.mean()), matched_median=float(v.median()),
                share_above_0_5=float((v > 0.5).double().mean()),
                share_above_0_9=float((v > 0.9).double().mean()), pairs=len(v))


def within_summary(features: torch.Tensor, kind: str = "pearson") -> dict[str, float]:
    """Redundancy inside one model: mean |r| between distinct live features, and dead units."""
    keep = live(features)
    corr = correlation(features[:, keep], kind).abs()
    d = corr.shape[0]
    off = (corr.sum() - corr.diagonal().sum()) / (d * (d - 1)) if d > 1 else float("nan")
    return dict(features=features.shape[1], dead=int((~keep).sum()),
                mean_abs_offdiagonal=float(off))
