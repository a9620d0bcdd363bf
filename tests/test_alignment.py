"""ResNet-aware permutation groups, function-preserving permutations and multi-model alignment."""

from __future__ import annotations

import pytest
import torch

from initlab.inits import initialize
from initlab.metrics import matching as alignment
from initlab.models import build_model


def resnet(seed: int, custom: bool = False, stem: str = "imagenet") -> torch.nn.Module:
    """A narrow ResNet-18 with random batch-norm statistics (so permuting them matters)."""
    torch.manual_seed(seed)
    model = build_model("resnet18", 5, 3, width=0.125, stem=stem, custom=custom)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            for t in (m.weight, m.bias, m.running_mean):
                t.data.normal_()
            m.running_var.data.uniform_(0.5, 2.0)
    return model.eval()


def permuted_copy(model: torch.nn.Module, seed: int, names=None) -> torch.nn.Module:
    import copy

    other = copy.deepcopy(model)
    g = torch.Generator().manual_seed(seed)
    for group in alignment.permutation_groups(other):
        if names is not None and group.producers[0] not in names:
            continue
        n = other.get_submodule(group.producers[0]).out_channels
        alignment.permute_group(other, group, torch.randperm(n, generator=g))
    return other


@pytest.mark.parametrize("custom", [False, True])
@pytest.mark.parametrize("stem", ["imagenet", "cifar"])
def test_permuting_every_group_leaves_the_function_unchanged(custom, stem):
    model = resnet(0, custom, stem)
    other = permuted_copy(model, 1)
    assert not torch.equal(model.conv1.weight, other.conv1.weight)
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model(x), other(x), atol=1e-4, rtol=1e-4)


def test_groups_cover_every_conv_once_and_name_the_alignable_layers():
    for custom in (False, True):
        model = resnet(0, custom)
        produced = [p for g in alignment.permutation_groups(model) for p in g.producers]
        convs = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)]
        assert sorted(produced) == sorted(convs)
    standard = alignment.alignable(resnet(0))
    assert standard == [f"layer{s}.{b}.conv1" for s in range(1, 5) for b in range(2)]
    custom = alignment.alignable(resnet(0, custom=True))
    assert custom[:5] == ["conv1", "layer1.0.conv1", "layer1.0.conv2", "layer1.1.conv1",
                          "layer1.1.conv2"]
    assert len(custom) == 5 + 6  # + the conv1 of every block of layers 2-4
    with pytest.raises(ValueError, match="residual stream"):
        alignment.align_models([resnet(0), resnet(1)], 1)


@pytest.mark.parametrize("method", alignment.METHODS)
def test_models_that_are_permutations_of_each_other_are_aligned_exactly(method):
    reference = resnet(0, custom=True)
    others = [permuted_copy(reference, seed) for seed in (1, 2)]
    names = alignment.align_models([reference, *others], 5, method)
    assert len(names) == 5
    for other in others:
        for name in names:
            assert torch.equal(reference.get_submodule(name).weight,
                               other.get_submodule(name).weight)
    model = initialize(resnet(9, custom=True), "aligned", sources=[reference, *others],
                       layers=5, matching=method)
    assert torch.allclose(model.get_submodule("layer1.1.conv2").weight,
                          reference.get_submodule("layer1.1.conv2").weight, atol=1e-6)


def test_alignment_keeps_each_source_function_and_leaves_the_sources_untouched():
    sources = [resnet(s, custom=True) for s in range(3)]
    before = [m.conv1.weight.clone() for m in sources]
    initialize(resnet(9, custom=True), "aligned", sources=sources, layers=4, matching="optimal")
    assert all(torch.equal(m.conv1.weight, b) for m, b in zip(sources, before))
    import copy

    copies = [copy.deepcopy(m) for m in sources]
    alignment.align_models(copies, 4, "greedy")
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        for source, aligned in zip(sources, copies):
            assert torch.allclose(source(x), aligned(x), atol=1e-4, rtol=1e-4)


def test_optimal_matching_is_never_worse_than_greedy():
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        cost = torch.rand(8, 8, generator=g, dtype=torch.float64)
        greedy, optimal = alignment.greedy_match(cost), alignment.optimal_match(cost)
        assert sorted(greedy.tolist()) == list(range(8)) == sorted(optimal.tolist())
        rows = torch.arange(8)
        assert cost[rows, optimal].sum() <= cost[rows, greedy].sum() + 1e-12
