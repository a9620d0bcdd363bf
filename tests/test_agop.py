"""NFM, patch AGOP and the matrix helpers of study 03, against their definitions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from initlab.metrics.agop import (
    agop,
    agop_bruteforce,
    ansatz_correlation,
    make_positive_definite,
    matrix_sqrt,
    nfm,
)
from initlab.models import build_model


def small_net() -> nn.Module:
    """Three conv layers (a stride, a pool, a bias-free layer) and a two-layer head; in-place
    ReLUs right after the convs, as in VGG (they overwrite the conv output)."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(4, 5, 3, padding=1, stride=2), nn.ReLU(inplace=True),
        nn.Conv2d(5, 3, 3, padding=1, bias=False), nn.Tanh(), nn.Flatten(),
        nn.Linear(3 * 2 * 2, 7), nn.ReLU(), nn.Linear(7, 6),
    )


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def with_biases(model: nn.Module, scale: float = 0.5) -> nn.Module:
    """Clearly non-zero conv biases, as a trained network has (the original's AGOP code left
    the measured layer's bias out, which is only right where it is zero)."""
    generator = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d) and m.bias is not None:
                m.bias.copy_(scale * torch.randn(m.bias.shape, generator=generator))
    return model


@pytest.mark.parametrize("layer", ["0", "3"])  # the first and a middle conv layer
def test_agop_equals_the_bruteforce_patch_agop(layer):
    model = with_biases(small_net())
    assert model[int(layer)].bias.abs().min() > 1e-3
    images = torch.randn(5, 2, 8, 8, generator=torch.Generator().manual_seed(1))
    fast = agop(model, layer, images, chunk_size=2)  # 3 chunks: the sum runs over chunks
    slow = agop_bruteforce(model, layer, images)
    assert fast.shape == (model[int(layer)].weight[0].numel(),) * 2
    assert relative_error(fast, slow) < 1e-5
    some = agop(model, layer, images, classes=[1, 4])
    assert relative_error(some, agop_bruteforce(model, layer, images, classes=[1, 4])) < 1e-5
    assert relative_error(some, fast) > 1e-2  # the class list matters


@pytest.mark.parametrize("layer", ["0", "3"])
def test_agop_keeps_the_measured_layers_bias_which_the_original_dropped(layer):
    """The original rebuilt the measured layer as W x_p without b: the AGOP of the same
    network with that one bias zeroed. With non-zero biases that is a different matrix (the
    ReLUs after the layer switch elsewhere); ours and the brute force keep b."""
    model = with_biases(small_net())
    images = torch.randn(5, 2, 8, 8, generator=torch.Generator().manual_seed(1))
    ours = agop(model, layer, images)
    assert relative_error(ours, agop_bruteforce(model, layer, images)) < 1e-5
    dropped = with_biases(small_net())
    with torch.no_grad():
        dropped[int(layer)].bias.zero_()
    assert relative_error(agop(dropped, layer, images), ours) > 1e-2


def test_agop_of_all_layers_in_one_pass_equals_one_layer_at_a_time():
    model = small_net()
    images = torch.randn(6, 2, 8, 8, generator=torch.Generator().manual_seed(2))
    every = agop(model, None, images, chunk_size=4)
    assert list(every) == ["0", "3", "5"]
    for name, matrix in every.items():
        assert torch.allclose(matrix, agop(model, name, images, chunk_size=4), rtol=1e-5, atol=0)
        assert torch.allclose(matrix, matrix.T)
        # PSD up to the float32 rounding of the final W^T S W (float32 model)
        assert torch.linalg.eigvalsh(matrix).min() > -1e-6 * matrix.trace()


def test_agop_keeps_the_mode_and_rejects_unknown_layers():
    model = build_model("vgg11", 10, 1, width=0.0625, image_size=32).train()
    images = torch.randn(3, 1, 32, 32)
    result = agop(model, ["features.0", "features.3"], images)
    assert set(result) == {"features.0", "features.3"} and model.training
    assert result["features.3"].shape == (36, 36)  # 4 input channels x 3 x 3
    with pytest.raises(ValueError, match="not a conv layer"):
        agop(model, "classifier.0", images)
    # agop switches parameter gradients off for the call: they come back, also after an error
    model.requires_grad_(True).features[0].weight.requires_grad_(False)
    wanted = [p.requires_grad for p in model.parameters()]
    with pytest.raises(RuntimeError):
        agop(model, "features.3", torch.randn(3, 2, 32, 32), classes=range(10))  # 2 channels
    agop(model, "features.3", images)
    assert [p.requires_grad for p in model.parameters()] == wanted and not wanted[0]


def test_nfm_is_w_transpose_w():
    conv = nn.Conv2d(3, 5, 3)
    w = conv.weight.detach().double()
    by_hand = sum(torch.outer(f.flatten(), f.flatten()) for f in w)  # sum of filter outer products
    assert torch.allclose(nfm(conv), by_hand)
    assert nfm(conv).shape == (27, 27)


def test_ansatz_correlation_is_pearson_of_the_entries():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(6, 6, generator=g), torch.randn(6, 6, generator=g)
    expected = np.corrcoef(a.flatten().numpy(), b.flatten().numpy())[0, 1]
    assert ansatz_correlation(a, b) == pytest.approx(expected, abs=1e-12)
    assert ansatz_correlation(a, 3 * a + 2) == pytest.approx(1.0)
    assert ansatz_correlation(a, -a) == pytest.approx(-1.0)


def test_matrix_sqrt_squares_back():
    x = torch.randn(8, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    m = x @ x.T  # rank 5, PSD
    root = matrix_sqrt(m)
    assert torch.allclose(root @ root, m, atol=1e-10)
    assert torch.linalg.eigvalsh(root).min() > -1e-10


def test_positive_definite_fix_handles_a_singular_matrix():
    x = torch.randn(10, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    singular = x @ x.T * 1e-9  # rank 3 of 10, and tiny entries like an AGOP's
    assert torch.linalg.matrix_rank(singular) == 3
    with pytest.raises(torch.linalg.LinAlgError):
        torch.linalg.cholesky(singular)
    fixed = make_positive_definite(singular)
    torch.linalg.cholesky(fixed)  # succeeds now
    values = torch.linalg.eigvalsh(fixed / fixed.trace())
    assert values.min() > 0
    # only the spectrum is shifted, by (|smallest| + 1e-6) of the trace
    shift = (fixed - singular) / singular.trace()
    assert torch.allclose(shift, shift[0, 0] * torch.eye(10, dtype=torch.float64), atol=1e-15)
    assert 1e-6 <= shift[0, 0] < 1e-6 + 1e-12
    well = torch.eye(4, dtype=torch.float64) + 0.1
    assert torch.equal(make_positive_definite(well), well)  # already definite: unchanged
