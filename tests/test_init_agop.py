"""Study 03's initializers: covariance and scale of the drawn filters, VGG's head rule."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from initlab.inits import initialize, methods
from initlab.inits.matrix import MATRIX_METHODS, covariance, vgg_style
from initlab.metrics.agop import agop, matrix_sqrt, nfm
from initlab.models import build_model, conv_layers

DRAWS = 40_000  # filters per check; standard error of a covariance entry ~ sigma^2 * 0.007


def target_matrix(size: int = 9, rank: int = 3, seed: int = 0) -> torch.Tensor:
    """A singular (rank < size) NFM-like matrix, as a narrow layer's NFM is."""
    w = torch.randn(rank, size, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    return w.T @ w + 0.05 * torch.eye(size, dtype=torch.float64) * (seed % 2)


def wide_layer(out: int = DRAWS) -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, out, 3))


def empirical_covariance(model: nn.Module) -> torch.Tensor:
    w = model[0].weight.detach().reshape(model[0].out_channels, -1).double()
    return w.T @ w / len(w)  # the mean is 0 by construction


def assert_covariance_matches(empirical: torch.Tensor, sigma: torch.Tensor) -> None:
    """Every entry within 5 standard errors: se_ij = sqrt((s_ii s_jj + s_ij^2) / n)."""
    diag = sigma.diagonal()
    se = ((diag[:, None] * diag[None, :] + sigma**2) / DRAWS).sqrt()
    assert ((empirical - sigma).abs() / se).max() < 5


@pytest.mark.parametrize("method", ["nfm", "kaiming_nfm"])
def test_nfm_filters_have_the_target_covariance(method):
    m = target_matrix(seed=1)
    model = initialize(wide_layer(), method, matrices=[m], seed=3)
    scale = 1.0 if method == "nfm" else 2.0  # tr(Sigma): 1, or 2 * D / fan_in with D = fan_in
    sigma = m / m.trace() * scale
    assert_covariance_matches(empirical_covariance(model), sigma)
    assert model[0].bias.abs().max() == 0


@pytest.mark.parametrize("method", ["agop", "kaiming_agop"])
def test_agop_filters_have_the_square_root_as_covariance(method):
    m = target_matrix(seed=1)
    model = initialize(wide_layer(), method, matrices=[m], seed=4)
    root = matrix_sqrt(m)
    sigma = root / root.trace() * (1.0 if method == "agop" else 2.0)
    assert_covariance_matches(empirical_covariance(model), sigma)


@pytest.mark.parametrize("method", MATRIX_METHODS)
def test_per_weight_variance_is_one_over_or_kaiming_two_over_fan_in(method):
    model = initialize(wide_layer(), method, matrices=[target_matrix(seed=2)], seed=5)
    w = model[0].weight.detach().double()
    fan_in = 9
    expected = 2 / fan_in if method.startswith("kaiming") else 1 / fan_in
    # averaged over the 9 weight positions and 40,000 filters; the relative standard error is
    # sqrt(2 tr(Sigma^2) / n) / tr(Sigma) <= 0.7%, so 3% is over 4 standard errors
    assert w.pow(2).mean().item() == pytest.approx(expected, rel=0.03)


def test_a_singular_source_matrix_still_gives_filters_with_its_covariance():
    m = target_matrix(rank=2, seed=0)  # rank 2 of 9: made positive definite by a tiny shift
    sigma = covariance(m, "nfm", "trace", 9)
    assert torch.linalg.eigvalsh(sigma).min() > 0
    model = initialize(wide_layer(), "nfm", matrices=[m], seed=6)
    assert_covariance_matches(empirical_covariance(model), sigma)
    null = torch.linalg.eigh(m).eigenvectors[:, 0]  # a direction the source never used
    w = model[0].weight.detach().reshape(DRAWS, -1).double()
    assert (w @ null).pow(2).mean() < 1e-4 * w.pow(2).sum(1).mean()


def test_matrices_from_a_source_model_and_from_saved_matrices_agree():
    torch.manual_seed(0)
    source = build_model("vgg11", 10, 1, width=0.0625, image_size=32)
    images = torch.randn(4, 1, 32, 32)
    for kind in ("nfm", "kaiming_agop"):
        saved = ([nfm(c) for _, c in conv_layers(source)] if kind == "nfm"
                 else list(agop(source, None, images).values()))
        a = initialize(build_model("vgg11", 10, 1, width=0.0625), kind, source=source,
                       images=images, seed=1)
        b = initialize(build_model("vgg11", 10, 1, width=0.0625), kind, matrices=saved, seed=1)
        for (_, ca), (_, cb) in zip(conv_layers(a), conv_layers(b)):
            assert torch.allclose(ca.weight, cb.weight, atol=1e-6)


def test_a_source_of_another_width_is_rejected_clearly():
    source = build_model("vgg11", 10, 1, width=0.125)
    with pytest.raises(ValueError, match="same architecture|width"):
        initialize(build_model("vgg11", 10, 1, width=0.0625), "nfm", source=source)
    with pytest.raises(ValueError, match="exactly one"):
        initialize(build_model("vgg11", 10, 1, width=0.0625), "nfm")


def test_vgg_style_head_is_normal_001_with_zero_biases_and_shared_across_methods():
    assert {"nfm", "agop", "kaiming_nfm", "kaiming_agop", "normal"} <= set(methods())
    models = {}
    for method in ("normal", "kaiming_normal", "uniform"):
        models[method] = vgg_style(build_model("vgg11", 10, 3, width=0.5), method, seed=7)
    normal = models["normal"]
    linears = [m for m in normal.modules() if isinstance(m, nn.Linear)]
    weights = torch.cat([m.weight.flatten() for m in linears])
    assert weights.std().item() == pytest.approx(0.01, rel=0.02)
    assert all(m.bias.abs().max() == 0 for m in normal.modules() if hasattr(m, "bias")
               and m.bias is not None)
    convs = torch.cat([c.weight.flatten() for _, c in conv_layers(normal)])
    assert convs.std().item() == pytest.approx(0.05, rel=0.02)  # the method's own rule
    uniform = torch.cat([c.weight.flatten() for _, c in conv_layers(models["uniform"])])
    assert uniform.abs().max() <= 0.025
    head = {k: [m.weight for m in v.modules() if isinstance(m, nn.Linear)]
            for k, v in models.items()}
    assert all(torch.equal(a, b) for a, b in zip(head["normal"], head["kaiming_normal"]))


def test_standard_methods_are_unchanged_by_the_new_module():
    """Study 01 relies on the registered methods drawing linear layers like convs."""
    model = initialize(build_model("vgg11", 10, 3, width=0.5), "normal", seed=0)
    linear = torch.cat([m.weight.flatten() for m in model.modules() if isinstance(m, nn.Linear)])
    assert linear.std().item() == pytest.approx(0.05, rel=0.02)


@pytest.mark.parametrize("gain", [1.0, 2**0.5])
def test_xavier_normal_takes_a_gain_and_defaults_to_one(gain):
    """Study 03's `xavier_normal` is the original's ReLU gain sqrt(2); the registered default
    stays PyTorch's gain 1 (other studies use it)."""
    conv = nn.Conv2d(64, 128, 3)  # fan_in 576, fan_out 1152: 73,728 weights
    model = initialize(nn.Sequential(conv), "xavier_normal", seed=0, gain=gain)
    expected = gain * (2 / (576 + 1152)) ** 0.5
    assert conv.weight.std().item() == pytest.approx(expected, rel=0.02)
    assert model[0].bias.abs().max() == 0
    plain = initialize(nn.Sequential(nn.Conv2d(64, 128, 3)), "xavier_normal", seed=0)
    assert torch.allclose(plain[0].weight * gain, conv.weight)  # same draw, scaled
