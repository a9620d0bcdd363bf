"""Feature hooks, confusion matrices and t-SNE probes of study 04 (initlab.metrics.features)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from initlab.data import ImageSet
from initlab.metrics import features
from initlab.models import build_model, count_parameters


def batch(n: int, channels: int, side: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, channels, side, side, generator=torch.Generator().manual_seed(seed))


def test_the_baselines_have_the_studys_parameter_counts():
    assert count_parameters(build_model("simple_cnn", 10, 1)) == 813_802
    assert count_parameters(build_model("reduced_alexnet", 10, 3)) == 6_199_498


def test_simple_cnn_intermediate_is_its_128d_layer_after_relu():
    torch.manual_seed(0)
    model = build_model("simple_cnn", 10, 1).train()
    x = batch(5, 1, 28)
    got = features.features(model, x, "penultimate")
    assert got.shape == (5, 128)
    assert model.training  # the mode is restored
    model.eval()
    with torch.no_grad():
        assert torch.allclose(got, model[:9](x))  # conv relu conv relu pool drop flat fc relu
        assert torch.allclose(features.features(model, x, "output"), model(x))
    assert (got >= 0).all()
    assert not model[10]._forward_pre_hooks and not model[6]._forward_hooks  # hooks removed


def test_alexnet_intermediate_is_its_flattened_conv_output():
    torch.manual_seed(0)
    model = build_model("reduced_alexnet", 10, 3).eval()
    x = batch(4, 3, 32)
    got = features.features(model, x, "flatten")
    assert got.shape == (4, 512)
    with torch.no_grad():
        assert torch.allclose(got, model[:14](x))
    assert features.features(model, x, "output").shape == (4, 10)
    assert features.features(model, x, "penultimate").shape == (4, 2048)


def test_resnet_penultimate_is_the_pooled_features_and_bad_layers_fail():
    torch.manual_seed(0)
    model = build_model("resnet18", 3, 3, width=0.125).eval()
    x = batch(3, 3, 32)
    with torch.no_grad():
        assert torch.allclose(features.features(model, x, "penultimate"), model.features(x))
    with pytest.raises(ValueError, match="no nn.Flatten"):
        features.features(model, x, "flatten")
    with pytest.raises(ValueError, match="unknown layer"):
        features.features(model, x, "conv3")


def test_extract_batches_normalize_like_to_float():
    torch.manual_seed(0)
    model = build_model("simple_cnn", 10, 1, width=0.25)
    images = torch.randint(0, 256, (7, 1, 28, 28), dtype=torch.uint8)
    data = ImageSet(images, torch.zeros(7, dtype=torch.int64), ("a",), (0.3,), (0.2,), "t")
    got = features.extract(model, data, "output", device="cpu", batch_size=3)
    assert torch.allclose(got, features.features(model, data.to_float(), "output"), atol=1e-6)


def test_confusion_and_the_two_most_confused_pairs():
    labels = [0, 0, 0, 1, 1, 1, 2, 2, 2, 2]
    predicted = [0, 1, 1, 0, 1, 2, 2, 2, 2, 0]  # 0<->1: 2 + 1, 1<->2: 1, 0<->2: 1
    matrix = features.confusion(labels, predicted, 4)
    expected = np.array([[1, 2, 0, 0], [1, 1, 1, 0], [1, 0, 3, 0], [0, 0, 0, 0]])
    assert (matrix == expected).all()
    pairs = features.most_confused(matrix, ["a", "b", "c", "d"])
    assert pairs.iloc[0][["class_a", "class_b", "a_as_b", "b_as_a", "total"]].tolist() == [
        "a", "b", 2, 1, 3]
    assert pairs.iloc[1][["class_a", "class_b", "total"]].tolist() == ["a", "c", 1]  # tie: order
    assert len(pairs) == 2


def clusters(n_per: int, dims: int, separation: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, dims)) * separation
    x = np.concatenate([c + rng.normal(size=(n_per, dims)) for c in centres])
    return x.astype(np.float32), np.repeat(np.arange(3), n_per)


def test_tsne_is_seeded_and_separates_clusters_the_probe_can_tell_apart():
    x, y = clusters(30, 60, 10.0, seed=0)  # wider than pca_dims: the PCA step runs too
    a = features.tsne(x, seed=1, perplexity=30.0)
    assert a.shape == (90, 2) and a.dtype == np.float32
    assert np.array_equal(a, features.tsne(x, seed=1, perplexity=30.0))
    assert features.embedding_accuracy(a, y, seed=0) == 1.0
    shuffled = np.random.default_rng(3).permutation(y)  # labels unrelated to the points
    assert features.embedding_accuracy(a, shuffled, seed=0) < 0.7


def test_tsne_embeds_a_handful_of_points_and_sample_is_distinct_and_seeded():
    x, _ = clusters(3, 5, 5.0, seed=0)
    assert features.tsne(x, seed=0).shape == (9, 2)  # perplexity capped below N / 3
    pick = features.sample(100, 10, seed=4)
    assert len(set(pick.tolist())) == 10 and pick.tolist() == sorted(pick.tolist())
    assert torch.equal(pick, features.sample(100, 10, seed=4))
    assert not torch.equal(pick, features.sample(100, 10, seed=5))
    assert torch.equal(features.sample(5, 10, seed=0), torch.arange(5))
