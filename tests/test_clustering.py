"""Study 02's initializers: clustered draws, Gabor filters, pretrained copies."""

from __future__ import annotations

import math

import pytest
import torch

from initlab.inits import clustered as clustering
from initlab.inits import filters, initialize
from initlab.models import build_model


def tiny_resnet(seed: int = 0, **options) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model("resnet18", 3, 1, width=0.0625, stem="cifar", **options)


def blobs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Three well-separated 3x3 prototypes, 60 / 30 / 10 noisy copies of each."""
    g = torch.Generator().manual_seed(seed)
    protos = torch.randn(3, 3, 3, generator=g) * 5
    counts = torch.tensor([60, 30, 10])
    slices = torch.cat([protos[i] + 0.01 * torch.randn(int(c), 3, 3, generator=g)
                        for i, c in enumerate(counts)])
    return slices, counts


def test_conv_layers_are_the_17_main_convs_in_order():
    names = [n for n, _ in clustering.main_convs(build_model("resnet18", 10, 3))]
    assert len(names) == 17 and names[0] == "conv1" and names[-1] == "layer4.1.conv2"
    assert names[1:5] == ["layer1.0.conv1", "layer1.0.conv2", "layer1.1.conv1", "layer1.1.conv2"]
    assert not any("downsample" in n for n in names)


def test_draws_are_cluster_centres_in_proportion_to_cluster_sizes():
    slices, counts = blobs()
    fit = clustering.fit_clusters(slices, 3, "euclidean", seed=0)
    assert sorted(fit.sizes.tolist()) == sorted(counts.tolist())
    weight = clustering.draw(fit, torch.Size([200, 100, 3, 3]), torch.Generator().manual_seed(1))
    flat = weight.reshape(-1, 9)
    gaps = (flat[:, None] - fit.centres.reshape(1, -1, 9)).abs().sum(-1)
    assert float(gaps.min(1).values.max()) == 0.0  # every slice is exactly a centre
    freq = torch.bincount(gaps.argmin(1), minlength=3).double() / len(flat)
    expected = fit.sizes.double() / fit.sizes.sum()
    assert torch.allclose(freq, expected, atol=0.01)  # 20,000 draws: sd ~ 0.0035


def test_noise_adds_the_stated_spread_around_each_centre():
    slices, _ = blobs()
    fit = clustering.fit_clusters(slices, 3, "euclidean", seed=0)
    g = torch.Generator().manual_seed(2)
    weight = clustering.draw(fit, torch.Size([100, 100, 3, 3]), g, noise=2.0).reshape(-1, 9)
    nearest = torch.cdist(weight, fit.centres.reshape(-1, 9)).argmin(1)
    residual = weight - fit.centres.reshape(-1, 9)[nearest]
    for c in range(3):
        rms = residual[nearest == c].pow(2).mean().sqrt()
        assert rms == pytest.approx(2.0 * float(fit.spread[c]), rel=0.05)
    assert 0.005 < float(fit.spread.mean()) < 0.02  # members were centre + 0.01 * N(0, 1)


def test_k1_gives_every_slice_the_mean_filter():
    sources = [tiny_resnet(s) for s in range(3)]
    model = initialize(tiny_resnet(9), "clustered", sources=sources, layers=17, clusters=1)
    for i, (_, conv) in enumerate(clustering.main_convs(model)):
        mean = clustering.layer_slices(sources, i).mean(0)
        assert torch.allclose(conv.weight, mean.expand_as(conv.weight), atol=1e-6)


def test_only_the_first_l_layers_change_and_the_seed_fixes_the_draw():
    sources = [tiny_resnet(s) for s in range(2)]
    base = tiny_resnet(5)
    a = initialize(tiny_resnet(5), "clustered", sources=sources, layers=3, clusters=4, seed=1)
    b = initialize(tiny_resnet(5), "clustered", sources=sources, layers=3, clusters=4, seed=1)
    for i, ((_, ca), (_, cb), (_, c0)) in enumerate(zip(*map(clustering.main_convs,
                                                               (a, b, base)))):
        assert torch.equal(ca.weight, cb.weight)
        assert torch.equal(ca.weight, c0.weight) == (i >= 3)


def test_fourier_abs_puts_a_filter_and_its_circular_shift_in_one_cluster():
    g = torch.Generator().manual_seed(0)
    originals = torch.randn(40, 3, 3, generator=g)
    shifted = torch.roll(originals, shifts=(1, 2), dims=(1, 2))
    fit = clustering.fit_clusters(torch.cat([originals, shifted]), 8, "fourier_abs", seed=0)
    assert torch.equal(fit.labels[:40], fit.labels[40:])
    # each centre is a real member of its cluster (magnitudes cannot be inverted)
    members = torch.cat([originals, shifted]).reshape(80, 1, 9)
    assert (members - fit.centres.reshape(1, -1, 9)).abs().sum(-1).min(0).values.max() < 1e-6
    euclid = clustering.fit_clusters(torch.cat([originals, shifted]), 8, "euclidean", seed=0)
    assert not torch.equal(euclid.labels[:40], euclid.labels[40:])


def test_fourier_real_centres_are_the_even_part_of_the_mean():
    g = torch.Generator().manual_seed(0)
    slices = torch.randn(30, 5, 5, generator=g)
    fit = clustering.fit_clusters(slices, 1, "fourier_real", seed=0)
    mean = slices.mean(0)
    flipped = torch.roll(torch.flip(mean, (0, 1)), shifts=(1, 1), dims=(0, 1))  # f(-n mod k)
    assert torch.allclose(fit.centres[0], (mean + flipped) / 2, atol=1e-5)


def test_kaiming_rescale_sets_the_layer_rms():
    sources = [tiny_resnet(s) for s in range(2)]
    model = initialize(tiny_resnet(3), "clustered", sources=sources, layers=17, clusters=2,
                       rescale="kaiming")
    for _, conv in clustering.main_convs(model):
        rms = float(conv.weight.detach().pow(2).mean().sqrt())
        assert rms == pytest.approx(clustering.kaiming_std(conv), rel=1e-4)


def test_gabor_values_match_the_formula_on_a_centred_grid():
    sigma, theta, lambd, psi, gamma = 2.0, 0.7, 5.0, 1.1, 0.95
    kernel = filters.gabor_kernel(7, sigma, theta, lambd, psi, gamma)
    for row, col in ((3, 3), (0, 0), (1, 5), (6, 2)):
        x, y = col - 3, row - 3
        xr = x * math.cos(theta) + y * math.sin(theta)
        yr = -x * math.sin(theta) + y * math.cos(theta)
        value = math.exp(-(xr**2 + gamma**2 * yr**2) / (2 * sigma**2)) * math.cos(
            2 * math.pi * xr / lambd + psi)
        assert float(kernel[row, col]) == pytest.approx(value, abs=1e-6)
    even = filters.gabor_kernel(3, 1.5, 0.3, 4.0, 0.0, 1.0)  # psi = 0: point-symmetric
    assert float(even[1, 1]) == pytest.approx(1.0)
    assert torch.allclose(even, torch.flip(even, (0, 1)), atol=1e-6)


def test_gabor_init_one_filter_per_output_channel_and_seeds_differ():
    a = initialize(tiny_resnet(0), "gabor", layers=2, seed=1)
    b = initialize(tiny_resnet(0), "gabor", layers=2, seed=2)
    convs_a, convs_b = clustering.main_convs(a), clustering.main_convs(b)
    for (_, conv), (_, other) in zip(convs_a[:2], convs_b[:2]):
        w = conv.weight.detach()
        assert torch.equal(w, w[:, :1].expand_as(w))  # the same 2-D filter on every input
        assert not torch.allclose(w, other.weight)
        assert float(w.abs().max()) <= 1.0
    untouched = clustering.main_convs(tiny_resnet(0))[2][1].weight
    assert torch.equal(convs_a[2][1].weight, untouched)  # layer 3 keeps its own init


def test_pretrained_copies_everything_and_can_replace_the_head():
    source = tiny_resnet(1)
    copy = initialize(tiny_resnet(2), "pretrained", source=source)
    assert all(torch.equal(a, b) for a, b in zip(copy.state_dict().values(),
                                                  source.state_dict().values()))
    torch.manual_seed(3)
    wide = build_model("resnet18", 7, 1, width=0.0625, stem="cifar")
    fc = wide.fc.weight.clone()
    initialize(wide, "pretrained", source=source, keep_head=False)
    assert torch.equal(wide.fc.weight, fc) and torch.equal(wide.conv1.weight, source.conv1.weight)
    with pytest.raises(ValueError, match="keep_head=False"):
        initialize(build_model("resnet18", 7, 1, width=0.0625, stem="cifar"), "pretrained",
                   source=source)
