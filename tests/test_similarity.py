import numpy as np
import pytest
import torch

from initlab.metrics.matching import align_to, matching, permute_outputs
from initlab.metrics.similarity import (
    filter_similarity,
    kernel_slices,
    pairwise,
    set_kernel_slices,
)
from initlab.models import build_model


def test_metrics_match_a_brute_force_numpy_computation():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(20, 3, 3, generator=gen), torch.randn(20, 3, 3, generator=gen)
    for i in range(20):
        x, y = a[i].flatten().numpy().astype(float), b[i].flatten().numpy().astype(float)
        cos = abs(x @ y) / np.linalg.norm(x) / np.linalg.norm(y)
        pearson = abs(np.corrcoef(x, y)[0, 1])
        assert filter_similarity(a, b, "cosine")[i].item() == pytest.approx(cos, rel=1e-9)
        assert filter_similarity(a, b, "pearson")[i].item() == pytest.approx(pearson, rel=1e-9)
        assert filter_similarity(a, b, "frobenius")[i].item() == pytest.approx(
            np.linalg.norm(x - y), rel=1e-9)


def test_a_filter_and_its_negative_are_fully_similar():
    a = torch.randn(4, 3, 3)
    assert torch.allclose(filter_similarity(a, -a, "cosine"), torch.ones(4, dtype=torch.double))
    ones = torch.ones(4, dtype=torch.double)
    assert torch.allclose(filter_similarity(a, -3 * a + 1, "pearson"), ones)


def test_pairwise_covers_the_15_pairs_of_six_models():
    sets = torch.randn(6, 10, 3, 3)
    pairs, scores = pairwise(sets, "frobenius")
    assert len(pairs) == 15 and scores.shape == (15, 10)
    k = pairs.index((2, 5))
    assert scores[k, 7].item() == pytest.approx((sets[2, 7] - sets[5, 7]).norm().item(), rel=1e-6)
    with pytest.raises(ValueError, match="cosine"):
        pairwise(sets, "euclid")


def test_kernel_slices_round_trip_in_layer_out_in_order():
    model = build_model("tiny_cnn", 10)
    slices = kernel_slices(model)
    assert slices.shape == (10, 3, 3)
    assert torch.equal(slices[3], model[3].weight[0, 1].detach())  # conv2 out 0, in 1
    other = build_model("tiny_cnn", 10)
    set_kernel_slices(other, slices)
    assert torch.equal(kernel_slices(other), slices)


def test_permuting_channels_keeps_the_function():
    torch.manual_seed(0)
    model = build_model("tiny_cnn", 10, width=2.0)
    x = torch.randn(8, 1, 28, 28)
    before = model(x)
    permute_outputs(model, "0", torch.tensor([3, 1, 0, 2]))
    permute_outputs(model, "3", torch.randperm(8))
    assert torch.allclose(model(x), before, atol=1e-5)


def test_alignment_recovers_a_permuted_copy_exactly():
    torch.manual_seed(1)
    reference = build_model("tiny_cnn", 10, width=2.0)
    shuffled = build_model("tiny_cnn", 10, width=2.0)
    shuffled.load_state_dict(reference.state_dict())
    permute_outputs(shuffled, "0", torch.tensor([2, 0, 3, 1]))
    permute_outputs(shuffled, "3", torch.randperm(8))
    assert not torch.equal(kernel_slices(shuffled), kernel_slices(reference))
    align_to(reference, shuffled)
    assert torch.allclose(kernel_slices(shuffled), kernel_slices(reference))


def test_matching_maximizes_the_total_inner_product():
    ref = torch.eye(4)
    other = ref[[2, 0, 3, 1]]
    perm = matching(ref, other)
    assert torch.equal(other[perm], ref)
