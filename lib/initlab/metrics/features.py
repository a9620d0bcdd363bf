"""What a trained network's representations look like: feature hooks, confusion, t-SNE.

Study 04 looks inside its baselines at two depths (an intermediate layer and the outputs) and
inside its transfer models at the representation their last layer reads. `extract` gets such a
layer with a forward hook, so the same code serves an `nn.Sequential`, a ResNet and a backbone
with a new head, without each architecture growing its own `features` method. Everything
random here (which points t-SNE sees, t-SNE itself, the folds of the linear probe) is seeded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from initlab.data import ImageSet
from initlab.training.runtime import pick_device

LAYERS = ("flatten", "penultimate", "output")
"""flatten: the output of the first `nn.Flatten` (a CNN's flattened conv features);
penultimate: the input of the last `nn.Linear` (what the classifier reads);
output: the logits."""


def _hooked_module(model: nn.Module, layer: str) -> tuple[nn.Module, bool]:
    """(module, pre): the module whose output (pre=False) or input (pre=True) is `layer`."""
    if layer == "flatten":
        found = [m for m in model.modules() if isinstance(m, nn.Flatten)]
        if not found:
            raise ValueError(f"{type(model).__name__} has no nn.Flatten; use 'penultimate'")
        return found[0], False
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layer")
    return linears[-1], True


@torch.no_grad()
def features(model: nn.Module, x: torch.Tensor, layer: str = "penultimate") -> torch.Tensor:
    """The (N, D) representation of the batch `x` at `layer` (one of LAYERS), in eval mode.

    For SimpleCNN "penultimate" is its 128-d layer (after ReLU; dropout is off in eval mode),
    for the reduced AlexNet "flatten" is its flattened conv output (512-d on 32x32).
    """
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; choose one of {', '.join(LAYERS)}")
    was_training = model.training
    model.eval()
    try:
        if layer == "output":
            return model(x).float().flatten(1)
        module, pre = _hooked_module(model, layer)
        caught: list[torch.Tensor] = []
        if pre:
            handle = module.register_forward_pre_hook(lambda m, args: caught.append(args[0]))
        else:
            handle = module.register_forward_hook(lambda m, args, out: caught.append(out))
        try:
            model(x)
        finally:
            handle.remove()
        return caught[0].float().flatten(1)
    finally:
        model.train(was_training)


def extract(model: nn.Module, data: ImageSet, layer: str = "penultimate",
            device: str | torch.device = "auto", batch_size: int = 512) -> torch.Tensor:
    """`features` of every image of `data` (normalized with its stats), as a CPU tensor."""
    device = pick_device(device)
    model.to(device)
    parts = []
    for start in range(0, len(data), batch_size):
        part = data.subset(slice(start, start + batch_size))
        parts.append(features(model, part.to_float(device), layer).cpu())
    return torch.cat(parts) if parts else torch.empty(0, 0)


# --------------------------------------------------------------------------- confusion


def confusion(labels: torch.Tensor | np.ndarray, predicted: torch.Tensor | np.ndarray,
              num_classes: int) -> np.ndarray:
    """(C, C) counts: row = true class, column = predicted class (scikit-learn's layout)."""
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(np.asarray(labels), np.asarray(predicted),
                            labels=np.arange(num_classes))


def most_confused(matrix: np.ndarray, classes: tuple[str, ...] | list[str],
                  k: int = 2) -> pd.DataFrame:
    """The `k` class pairs mixed up most often, counting both directions (a as b, b as a).

    Ties keep the order of the class indices, so the answer is deterministic.
    """
    matrix = np.asarray(matrix)
    rows = []
    for a in range(len(matrix)):
        for b in range(a + 1, len(matrix)):
            rows.append(dict(class_a=classes[a], class_b=classes[b], a_as_b=int(matrix[a, b]),
                             b_as_a=int(matrix[b, a]), total=int(matrix[a, b] + matrix[b, a])))
    frame = pd.DataFrame(rows, columns=["class_a", "class_b", "a_as_b", "b_as_a", "total"])
    frame = frame.sort_values("total", ascending=False, kind="stable").head(k)
    return frame.reset_index(drop=True)


# --------------------------------------------------------------------------- t-SNE


def sample(n_total: int, n: int, seed: int) -> torch.Tensor:
    """`n` distinct indices of `n_total` (all of them if n >= n_total or n <= 0), sorted."""
    if n <= 0 or n >= n_total:
        return torch.arange(n_total)
    order = torch.randperm(n_total, generator=torch.Generator().manual_seed(seed))
    return order[:n].sort().values


def tsne(x: torch.Tensor | np.ndarray, seed: int, perplexity: float = 30.0,
         iterations: int = 1000, pca_dims: int = 50) -> np.ndarray:
    """A seeded 2-D t-SNE embedding (N, 2) of the rows of `x`.

    Inputs wider than `pca_dims` are first reduced by PCA (scikit-learn's advice: it removes
    noise and makes t-SNE much faster); the perplexity is capped below N / 3 so that a few
    dozen points (a smoke run) still embed. `iterations` (scikit-learn's max_iter, >= 250)
    trades quality for time.
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = np.asarray(x, dtype=np.float32)
    if len(x) < 4:
        raise ValueError(f"t-SNE needs at least 4 points, got {len(x)}")
    if x.shape[1] > pca_dims and len(x) > pca_dims:
        x = PCA(pca_dims, random_state=seed % 2**32).fit_transform(x)
    perplexity = min(perplexity, (len(x) - 1) / 3)
    model = TSNE(2, perplexity=perplexity, init="pca", learning_rate="auto",
                 max_iter=iterations, random_state=seed % 2**32)
    return model.fit_transform(x).astype(np.float32)


def embedding_accuracy(embedding: np.ndarray, labels: torch.Tensor | np.ndarray, seed: int,
                       folds: int = 5) -> float:
    """How linearly separable the classes are in a 2-D embedding: the mean accuracy of a
    logistic regression over `folds` stratified folds (held-out points, not training fit)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    labels = np.asarray(labels)
    smallest_class = int(np.bincount(labels)[np.unique(labels)].min())
    folds = max(2, min(folds, smallest_class))  # every fold must see every class
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    split = StratifiedKFold(folds, shuffle=True, random_state=seed % 2**32)
    return float(cross_val_score(probe, np.asarray(embedding), labels, cv=split).mean())
