import math

import pytest
import torch
from torch import nn

from initlab.inits import initialize, methods
from initlab.metrics.similarity import kernel_slices, set_kernel_slices
from initlab.models import build_model


def _big() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(64, 128, 3), nn.Flatten(), nn.Linear(512, 256))


@pytest.mark.parametrize("method, std_of", [
    ("kaiming_normal", lambda fan_in, fan_out: math.sqrt(2 / fan_in)),
    ("kaiming_uniform", lambda fan_in, fan_out: math.sqrt(2 / fan_in)),
    ("xavier_normal", lambda fan_in, fan_out: math.sqrt(2 / (fan_in + fan_out))),
    ("normal", lambda fan_in, fan_out: 0.05),
    ("uniform", lambda fan_in, fan_out: 0.025 / math.sqrt(3)),
])
def test_standard_schemes_have_their_stated_spread(method, std_of):
    model = initialize(_big(), method, seed=0)
    conv, linear = model[0], model[2]
    for layer, fan_in, fan_out in ((conv, 64 * 9, 128 * 9), (linear, 512, 256)):
        expected = std_of(fan_in, fan_out)
        assert layer.weight.std().item() == pytest.approx(expected, rel=0.03)
        assert layer.weight.mean().item() == pytest.approx(0.0, abs=expected * 0.02)
        assert torch.count_nonzero(layer.bias) == 0
    if method == "uniform":
        assert conv.weight.abs().max().item() <= 0.025


def test_seeded_init_is_reproducible_and_leaves_global_rng_alone():
    a, b = _big(), _big()
    state = torch.random.get_rng_state()
    initialize(a, "kaiming_normal", seed=3)
    initialize(b, "kaiming_normal", seed=3)
    assert torch.equal(a[0].weight, b[0].weight)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_unknown_method_names_the_choices():
    with pytest.raises(ValueError, match="kaiming_normal"):
        initialize(_big(), "kaiming")
    assert {"similar_filters", "shrink_perturb", "default"} <= set(methods())


def _sources_with_a_planted_match(metric_scale: float = 1.0):
    """Six models whose kernel 4 is identical in models 1 and 3; all else random."""
    torch.manual_seed(0)
    models = [build_model("tiny_cnn", 10) for _ in range(6)]
    planted = torch.randn(3, 3)
    for i in (1, 3):
        slices = kernel_slices(models[i])
        slices[4] = planted * metric_scale
        set_kernel_slices(models[i], slices)
    return models, planted


@pytest.mark.parametrize("metric", ["cosine", "pearson", "frobenius"])
def test_similar_filters_copies_the_kernel_of_the_most_similar_pair(metric):
    sources, planted = _sources_with_a_planted_match()
    target = build_model("tiny_cnn", 10)
    linear_before = target[7].weight.clone()
    initialize(target, "similar_filters", sources=sources, metric=metric, seed=0)
    slices = kernel_slices(target)
    assert torch.equal(slices[4], planted)  # frobenius must take the closest pair (distance 0)
    stacked = torch.stack([kernel_slices(m) for m in sources])
    for i in range(10):  # every kernel comes from one of the sources, at the same index
        assert any(torch.equal(slices[i], stacked[m, i]) for m in range(6))
    assert torch.equal(target[7].weight, linear_before)  # linear layers untouched


def test_similar_filters_needs_two_sources():
    with pytest.raises(ValueError, match="two source"):
        initialize(build_model("tiny_cnn", 10), "similar_filters",
                   sources=[build_model("tiny_cnn", 10)], metric="cosine")


def test_shrink_perturb_is_the_stated_mix():
    source, fresh = build_model("tiny_cnn", 10), build_model("tiny_cnn", 10)
    expected = {k: 0.4 * v + 0.1 * fresh.state_dict()[k] for k, v in source.state_dict().items()}
    initialize(fresh, "shrink_perturb", source=source)
    for key, value in fresh.state_dict().items():
        assert torch.allclose(value, expected[key], atol=1e-7)
