"""Tests for initlab.noise: batched corruptions versus torchvision.transforms.v2."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.transforms import InterpolationMode, v2
from torchvision.transforms.v2 import functional as TF

from initlab.data import augment, warp
from initlab.data import noise as nz

STUDY_ORDER = ["perspective", "blur", "gaussian", "erasing", "elastic", "rotation"]
FILL = -1.0
H = W = 28


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def ring_image() -> torch.Tensor:
    """A digit-like smooth ring (radius 8, width ~3 px) on a -1 background, (1, 28, 28)."""
    yy, xx = torch.meshgrid(torch.arange(H) - 13.5, torch.arange(W) - 13.5, indexing="ij")
    r = (xx**2 + yy**2).sqrt()
    return (-1 + 2 * torch.exp(-(((r - 8) / 1.5) ** 2))).clamp(-1, 1)[None]


def stroke_image() -> torch.Tensor:
    """A "7": top bar plus a diagonal stroke, values 1 on a -1 background, (1, 28, 28)."""
    img = torch.full((1, H, W), -1.0)
    img[0, 5:8, 6:22] = 1.0
    for t in range(16):
        r, c = 8 + t, 20 - t // 2
        img[0, r, c - 1 : c + 2] = 1.0
    return img


def batch(n: int, img: torch.Tensor | None = None) -> torch.Tensor:
    return (ring_image() if img is None else img).expand(n, 1, H, W).clone()


ALL_FNS = {**nz.NOISES, "hflip": augment.hflip, "rotate": nz.rotate}


# ------------------------------------------------------------------ registry and basic contract
def test_registry_order_and_apply() -> None:
    assert list(nz.NOISES) == STUDY_ORDER
    x = batch(8)
    for name, fn in nz.NOISES.items():
        assert torch.equal(nz.apply(name, x, gen(3)), fn(x, gen(3)))


def test_unknown_name_lists_choices() -> None:
    with pytest.raises(ValueError) as info:
        nz.apply("salt_and_pepper", batch(2), gen(0))
    for name in STUDY_ORDER:
        assert name in str(info.value)


@pytest.mark.parametrize("name", list(ALL_FNS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shape_dtype_device_and_no_mutation(name: str, dtype: torch.dtype) -> None:
    x = (torch.rand(6, 3, 32, 30, generator=gen(1)) * 2 - 1).to(dtype)
    before = x.clone()
    out = ALL_FNS[name](x, gen(2))
    assert out.shape == x.shape and out.dtype == dtype and out.device == x.device
    assert torch.equal(x, before), "input must not be modified in place"
    assert out.data_ptr() != x.data_ptr()


@pytest.mark.parametrize("name", list(ALL_FNS))
def test_empty_batch(name: str) -> None:
    assert ALL_FNS[name](torch.zeros(0, 1, H, W), gen(0)).shape == (0, 1, H, W)


@pytest.mark.parametrize("name", list(ALL_FNS))
def test_seed_determinism(name: str) -> None:
    x = batch(32, stroke_image())  # not mirror symmetric, so flips show
    fn = ALL_FNS[name]
    assert torch.equal(fn(x, gen(7)), fn(x, gen(7)))
    assert not torch.equal(fn(x, gen(7)), fn(x, gen(8)))


def test_compose_applies_in_order() -> None:
    x = batch(16)
    g1, g2 = gen(5), gen(5)
    expected = nz.rotation(nz.blur(x, g2), g2)
    assert torch.equal(augment.compose(nz.blur, nz.rotation)(x, g1), expected)


def test_rotate_zero_degrees_is_identity_and_hflip() -> None:
    x = torch.rand(64, 1, H, W, generator=gen(0))
    assert torch.equal(nz.rotate(x, gen(1), max_degrees=0.0), x)
    out = augment.hflip(x, gen(2))
    flipped = (out == x.flip(-1)).flatten(1).all(1)
    kept = (out == x).flatten(1).all(1)
    assert bool((flipped | kept).all()) and 16 <= int(flipped.sum()) <= 48
    assert torch.equal(augment.hflip(x, gen(2), p=0.0), x)


# ------------------------------------------------------------------ per-noise properties
def test_erasing_rate_fill_and_box_size() -> None:
    n = 2000
    x = torch.rand(n, 1, H, W, generator=gen(0))  # in [0, 1): no pixel equals the fill
    out = nz.erasing(x, gen(1))
    erased = out == FILL
    changed = out != x
    assert torch.equal(erased, changed), "changed pixels must equal the fill exactly"
    hit = erased.flatten(1).any(1)
    assert 0.44 <= hit.float().mean().item() <= 0.56
    e = erased[hit, 0]
    rows, cols = e.any(2), e.any(1)
    bh, bw = rows.sum(1), cols.sum(1)
    assert torch.equal(e.flatten(1).sum(1), bh * bw), "erased region must be one rectangle"
    assert bool((bh < H).all() and (bw < W).all())
    # h = round(sqrt(A s r)), w = round(sqrt(A s / r)) with s in [0.02, 0.33]:
    # rounding allows (h - .5)(w - .5) <= A s <= (h + .5)(w + .5).
    area = H * W
    assert bool(((bh - 0.5) * (bw - 0.5) <= 0.33 * area).all())
    assert bool(((bh + 0.5) * (bw + 0.5) >= 0.02 * area).all())
    frac = (bh * bw).float() / area
    assert 0.10 < frac.mean().item() < 0.20  # E[s] = 0.175, shrunk a bit by non-fitting draws


def test_gaussian_additive_unit_noise() -> None:
    x = batch(500)
    d = nz.gaussian(x, gen(0)) - x
    assert abs(d.std().item() - 1.0) < 0.02
    assert abs(d.mean().item()) < 0.01
    assert d.max().item() > 3.5 and d.min().item() < -3.5  # no clipping


def bar_angles(out: torch.Tensor) -> torch.Tensor:
    """Principal-axis angle (degrees, y axis up) of each image's bright mass."""
    w = (out[:, 0] - FILL).clamp(min=0)
    yy, xx = torch.meshgrid(torch.arange(float(H)), torch.arange(float(W)), indexing="ij")
    yy = -yy  # y up, so counter-clockwise rotations give positive angles
    m = w.sum((1, 2))
    cx, cy = (w * xx).sum((1, 2)) / m, (w * yy).sum((1, 2)) / m
    dx, dy = xx - cx[:, None, None], yy - cy[:, None, None]
    mu20, mu02 = (w * dx * dx).sum((1, 2)), (w * dy * dy).sum((1, 2))
    mu11 = (w * dx * dy).sum((1, 2))
    return torch.rad2deg(0.5 * torch.atan2(2 * mu11, mu20 - mu02))


def test_rotation_angles_from_moments() -> None:
    img = torch.full((1, H, W), FILL)
    img[0, 13:15, 3:25] = 1.0  # horizontal bar through the centre (13.5, 13.5)
    assert abs(bar_angles(img[None]).item()) < 1e-4
    ang = bar_angles(nz.rotation(batch(500, img), gen(0)))
    assert ang.abs().max().item() <= 32.0
    assert ang.max().item() > 20 and ang.min().item() < -20
    assert abs(ang.mean().item()) < 3 * 17.3 / math.sqrt(500)
    # torchvision's positive angles are counter-clockwise: check the sign convention
    ccw = bar_angles(nz._rotate_by(batch(1, img), torch.tensor([20.0]), FILL, "nearest"))
    assert 17 < ccw.item() < 23


def delta_second_moment(out: torch.Tensor) -> torch.Tensor:
    """Horizontal second moment about column 14 of blurred centred deltas."""
    dx2 = (torch.arange(W) - 14.0) ** 2
    prof = out[:, 0].sum(1)
    return (prof * dx2).sum(1) / prof.sum(1)


def moment_for_sigma(sigma: torch.Tensor) -> torch.Tensor:
    """The 5-tap Gaussian's second moment, computed directly from exp(-i^2 / 2 sigma^2)."""
    i = torch.arange(-2, 3, dtype=torch.float64)
    k = torch.exp(-(i**2)[None] / (2 * sigma.double()[:, None] ** 2))
    return (k * i**2).sum(1) / k.sum(1)


def test_blur_effective_sigma() -> None:
    x = torch.zeros(500, 1, H, W)
    x[:, 0, 14, 14] = 1.0
    m = delta_second_moment(nz.blur(x, gen(0))).double()
    lo, hi = moment_for_sigma(torch.tensor([1.0, 5.0])).tolist()
    span = hi - lo
    assert bool((m >= lo - 1e-5).all() and (m <= hi + 1e-5).all())
    assert m.min().item() < lo + 0.05 * span and m.max().item() > hi - 0.05 * span
    grid = torch.linspace(0.5, 6.0, 5501)
    idx = torch.searchsorted(moment_for_sigma(grid).contiguous(), m.contiguous())
    sig = grid[idx.clamp(max=len(grid) - 1)]  # invert the monotone sigma -> moment map
    assert abs(sig.mean().item() - 3.0) < 3 * (4 / math.sqrt(12)) / math.sqrt(500)


@pytest.mark.parametrize("name", ["elastic", "perspective"])
def test_geometric_moves_pixels_and_keeps_range(name: str) -> None:
    x = torch.cat([batch(100), batch(100, stroke_image())])
    out = nz.NOISES[name](x, gen(0))
    moved = (out - x).abs().flatten(1).amax(1) > 1e-3
    assert moved.float().mean().item() > 0.9
    eps = 1e-5
    assert out.min().item() >= min(x.min().item(), FILL) - eps
    assert out.max().item() <= x.max().item() + eps
    assert out.max().item() > 0.5  # content survives


def test_perspective_fills_borders_only() -> None:
    x = torch.ones(200, 1, H, W)
    out = nz.perspective(x, gen(0))
    filled = out == FILL
    assert filled.flatten(1).any(1).float().mean().item() > 0.95
    assert not filled[:, :, 9:19, 9:19].any(), "the centre always stays inside the image"
    assert out.max().item() <= 1.0 + 1e-6 and out.min().item() >= FILL


@pytest.mark.parametrize("name", ["perspective", "elastic", "rotation"])
def test_background_image_stays_background(name: str) -> None:
    """Sampling x - fill with zero padding makes a fill-coloured image a fixed point,
    also on pixels sampled partly outside the image (torchvision leaves a rim there)."""
    x = torch.full((50, 1, H, W), FILL)
    assert torch.equal(nz.NOISES[name](x, gen(0)), x)
    c = torch.full((50, 1, H, W), 0.5)
    out = nz.NOISES[name](c, gen(0))
    assert bool(((out >= FILL) & (out <= 0.5 + 1e-6)).all())


# ------------------------------------------------------------------ torchvision, same parameters
def interior(mask_of_ones: torch.Tensor) -> torch.Tensor:
    """Pixels that torchvision samples fully inside or fully outside the image: on
    partially-outside pixels torchvision blends as mask * sampled + (1 - mask) * fill
    with an already zero-padded sample (double weighting), while we sample x - fill."""
    return (mask_of_ones == 0) | (mask_of_ones == 1)


@pytest.mark.parametrize(
    "case", ["rotation-nearest", "rotation-bilinear", "perspective", "elastic"]
)
def test_geometry_matches_torchvision_functional(case: str) -> None:
    n = 40
    x = torch.rand(n, 1, H, W, generator=gen(0)) * 2 - 1
    g = gen(1)
    start = [[0, 0], [W - 1, 0], [W - 1, H - 1], [0, H - 1]]
    if case.startswith("rotation"):
        mode = case.split("-")[1]
        deg = torch.rand(n, generator=g) * 60 - 30
        ours = nz._rotate_by(x, deg, FILL, mode)
    elif case == "perspective":
        ends = nz._perspective_endpoints(n, H, W, 0.6, g)
        ours = nz._perspective_warp(x, nz._perspective_coeffs(ends, H, W), FILL, "bilinear")
    else:
        disp = nz._elastic_displacement(x, g, 125.0, 5.0)
        ours = nz._elastic_warp(x, disp, FILL, "bilinear")

    def reference(img: torch.Tensor, i: int, fill: float) -> torch.Tensor:
        if case.startswith("rotation"):
            im = InterpolationMode(mode)
            return TF.rotate(img, float(deg[i]), interpolation=im, fill=fill)
        if case == "perspective":
            return TF.perspective(img, start, ends[i].tolist(), fill=fill)
        return TF.elastic(img, disp[i : i + 1], fill=fill)

    ref = torch.stack([reference(x[i], i, FILL) for i in range(n)])
    ok = interior(torch.stack([reference(torch.ones(1, H, W), i, 0.0) for i in range(n)]))
    assert ok.float().mean().item() > 0.6
    torch.testing.assert_close(ours[ok], ref[ok], atol=2e-5, rtol=0)
    assert (ours != x).float().mean().item() > 0.3


def test_blur_matches_torchvision_functional() -> None:
    x = torch.rand(40, 3, H, W, generator=gen(0)) * 2 - 1
    sig = torch.rand(40, generator=gen(1)) * 4 + 1
    ours = nz._blur_with_sigma(x, sig, 5)
    ref = torch.stack([TF.gaussian_blur(x[i], [5, 5], [float(sig[i])] * 2) for i in range(40)])
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=0)


def test_blur_ignores_autocast() -> None:
    """Training runs under bf16 autocast on CUDA; the blur matmuls must stay float32."""
    x = batch(16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = nz.blur(x, gen(0))
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, nz.blur(x, gen(0)), atol=1e-6, rtol=0)


def test_elastic_smoothing_matches_torchvision_blur() -> None:
    field = torch.rand(4, 2, H, W, generator=gen(0)) * 2 - 1
    kernel = warp.gaussian_kernel1d(41, torch.tensor([5.0]), torch.float32)
    ref = TF.gaussian_blur(field, [41, 41], [5.0, 5.0])
    torch.testing.assert_close(warp.separable_blur(field, kernel), ref, atol=1e-5, rtol=0)


# ------------------------------------------------------------------ torchvision, same distribution
TV_TRANSFORMS = {
    "perspective": lambda: v2.RandomPerspective(distortion_scale=0.6, p=1.0, fill=FILL),
    "blur": lambda: v2.GaussianBlur(kernel_size=5, sigma=(1.0, 5.0)),
    "gaussian": lambda: v2.GaussianNoise(mean=0.0, sigma=1.0, clip=False),
    "erasing": lambda: v2.RandomErasing(p=0.5, value=FILL),
    "elastic": lambda: v2.ElasticTransform(alpha=125.0, sigma=5.0, fill=FILL),
    "rotation": lambda: v2.RandomRotation(30, fill=FILL),
}


def summaries(out: torch.Tensor, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-image statistics. torchvision blends partially-outside pixels as
    mask * zero_padded_sample + (1 - mask) * fill, which leaves a faint rim in
    [-1, -0.75] on a -1 background where we give exactly -1 (see
    test_background_image_stays_background); values in that band are snapped to the
    fill on both sides so that the comparison measures the random transforms."""
    out = torch.where(out <= FILL + 0.25 + 1e-6, torch.full_like(out, FILL), out)
    flat, ref = out.flatten(1), x.flatten(1)
    return {
        "mean": flat.mean(1),
        "fill_frac": ((flat - FILL).abs() < 1e-6).float().mean(1),
        "std": flat.std(1),
        "abs_change": (flat - ref).abs().mean(1),
    }


@pytest.mark.parametrize("name", STUDY_ORDER)
@pytest.mark.parametrize("image", ["ring", "stroke"])
def test_distribution_matches_torchvision(name: str, image: str) -> None:
    n = 300
    x = batch(n, ring_image() if image == "ring" else stroke_image())
    ours = nz.NOISES[name](x, gen(11))
    tv = TV_TRANSFORMS[name]()
    with torch.random.fork_rng():
        torch.manual_seed(11)
        ref = torch.stack([tv(x[i]) for i in range(n)])
    a, b = summaries(ours, x), summaries(ref, x)
    for key in a:
        diff = (a[key].mean() - b[key].mean()).abs().item()
        se = math.sqrt((a[key].var().item() + b[key].var().item()) / n)
        assert diff <= 4 * se + 1e-6, f"{name}/{image}/{key}: diff {diff:.4g} > 4 se {se:.4g}"


# ------------------------------------------------------------------ devices
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", list(ALL_FNS))
def test_cpu_and_cuda_agree(name: str) -> None:
    x = torch.cat([batch(64), batch(64, stroke_image())])
    cpu = ALL_FNS[name](x, gen(4))
    gpu = ALL_FNS[name](x.cuda(), gen(4)).cpu()
    close = (cpu - gpu).abs() <= 1e-4
    # nearest rotation may flip a pixel that sits on a rounding boundary
    assert close.float().mean().item() > 0.999


def test_perspective_never_produces_nan():
    """Seed 0 on 10,000 images draws a homography whose horizon crosses the image (found on
    Fashion-MNIST, where it stopped training with a NaN loss); those pixels get the fill."""
    x = torch.rand(10_000, 1, 28, 28) * 2 - 1
    out = nz.perspective(x, torch.Generator().manual_seed(0))
    assert torch.isfinite(out).all()
    assert out.min() >= -1.0 - 1e-5 and out.max() <= 1.0 + 1e-5


# ------------------------------------------------------------------ the original's parameter set
# computer-vision-projectv2.ipynb, every commit: the six transforms exactly as its cells build
# them (the Gaussian noise cell adds np.random.normal(scale=0.5) to the image).
ORIGINAL_TV = {
    "perspective": lambda: v2.RandomPerspective(distortion_scale=0.3, p=1.0, fill=-1),
    "blur": lambda: v2.GaussianBlur(kernel_size=5, sigma=(1, 2.0)),
    "gaussian": lambda: (lambda img: img + 0.5 * torch.randn(img.shape)),
    "erasing": lambda: v2.RandomErasing(value=-1),
    "elastic": lambda: v2.ElasticTransform(alpha=50.0),
    "rotation": lambda: v2.RandomRotation(degrees=(0, 30)),
}


@pytest.mark.parametrize("name", STUDY_ORDER)
def test_the_original_set_matches_the_original_notebooks_transforms(name: str) -> None:
    n = 300
    # torchvision blends pixels sampled partly outside the image as mask * sample + (1 - mask)
    # * fill (see `interior`); where the fill is 0 a background of 0 keeps that rim out of it
    zero_fill = nz.CORRUPTIONS["original"][name].get("fill") == 0.0
    x = batch(n, (stroke_image() + 1) / 2 if zero_fill else stroke_image())
    ours = nz.apply(name, x, gen(11), "original")
    tv = ORIGINAL_TV[name]()
    with torch.random.fork_rng():
        torch.manual_seed(11)
        ref = torch.stack([tv(x[i]) for i in range(n)])
    a, b = summaries(ours, x), summaries(ref, x)
    for key in a:
        diff = (a[key].mean() - b[key].mean()).abs().item()
        se = math.sqrt((a[key].var().item() + b[key].var().item()) / n)
        assert diff <= 4 * se + 1e-6, f"{name}/{key}: diff {diff:.4g} > 4 se {se:.4g}"
    if name != "erasing":  # the sets differ in every noise but erasing
        assert not torch.equal(ours, nz.apply(name, x, gen(11), "strong"))


def test_the_original_rotation_turns_one_way_up_to_30_degrees_with_fill_0() -> None:
    img = torch.full((1, H, W), FILL)
    img[0, 13:15, 3:25] = 1.0
    out = nz.apply("rotation", batch(500, img), gen(0), "original")
    ang = bar_angles(out)
    assert ang.min().item() > -1.0 and ang.max().item() <= 31.0 and ang.max().item() > 25
    assert abs(ang.mean().item() - 15.0) < 3 * 8.7 / math.sqrt(500)
    assert bool((out == 0.0).flatten(1).any(1).float().mean() > 0.5)  # corners: fill 0


def test_the_strong_set_is_the_functions_defaults_and_unknown_sets_fail() -> None:
    x = batch(8)
    for name, fn in nz.NOISES.items():
        assert torch.equal(nz.apply(name, x, gen(3), "strong"), fn(x, gen(3)))
    with pytest.raises(ValueError, match="corruption"):
        nz.apply("blur", x, gen(0), "gentle")
