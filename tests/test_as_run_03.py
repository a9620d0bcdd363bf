"""Study 03's as-run settings against numbers from the ORIGINAL code.

The literals below come from running the original functions (KULcoder/DSC180,
`src/model/init_weights.py`: `transform_matrix`, `calculate_coefficient` and the four matrix
inits; `src/model/save_nfm_agop.py`: `sqrt`, `load_nn`, `get_grads` with `egop`, i.e. 11
images, logits 0-9, the measured layer rebuilt without its bias) in float64 on CPU, on the
fixed inputs built here (no random numbers: sines and cosines). The original code is not part
of this repository.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from initlab import profiles
from initlab.inits.matrix import covariance
from initlab.metrics.agop import agop
from initlab.models import build_model
from initlab.studies.agop_nfm_init import runs, sources
from initlab.studies.agop_nfm_init.settings import AgopNfmSettings
from initlab.training.runtime import Runtime

STUDY = "03_agop_nfm_init"


def fixed_weight() -> torch.Tensor:
    """A (4, 2, 3, 3) conv weight: D = fan_in = 18, NFM of rank 4 (singular, so shifted)."""
    return torch.sin(torch.arange(72, dtype=torch.float64) * 0.7 + 0.3).reshape(4, 2, 3, 3)


def fixed_matrices() -> tuple[torch.Tensor, torch.Tensor]:
    """(NFM of `fixed_weight`, a raw rank-6 AGOP with entries ~1e-6)."""
    w = fixed_weight().reshape(4, -1)
    b = torch.cos(torch.arange(108, dtype=torch.float64) * 0.37).reshape(6, 18) * 1e-3
    return w.T @ w, b.T @ b


# init -> the original's covariance: trace, [0, 0], [3, 7], smallest and largest eigenvalue
ORIGINAL_COVARIANCE = {
    "nfm": (1.0, 0.013254402827167394, -0.06096991026854912, 2.7858264352490784e-08,
            0.9985787508384725),
    "agop": (1.0000000000000002, 0.05120098558546666, 0.0140367393797488,
             9.779989495867954e-05, 0.5859643264364854),
    "kaiming_nfm": (11.965330262407502, 0.15859330725804552, -0.7295251124325406,
                    3.333333331052796e-07, 11.948324546804649),
    "kaiming_agop": (3.408319952432041e-05, 1.7450934075513138e-06, 4.78416988950864e-07,
                     3.3333333333324367e-09, 1.9971539052068745e-05),
}


def summary(sigma: torch.Tensor) -> tuple[float, ...]:
    values = torch.linalg.eigvalsh(sigma)
    return (float(sigma.trace()), float(sigma[0, 0]), float(sigma[3, 7]), float(values[0]),
            float(values[-1]))


@pytest.mark.parametrize("init", list(ORIGINAL_COVARIANCE))
def test_the_original_scaling_and_shift_give_the_original_covariance(init):
    nfm, raw_agop = fixed_matrices()
    kind, scale = init.removeprefix("kaiming_"), "kaiming" if "kaiming" in init else "trace"
    matrix = nfm if kind == "nfm" else raw_agop
    cfg = profiles.load(STUDY, "smoke", as_run=True)
    sigma = covariance(matrix, kind, scale, 18, kaiming_scale=cfg.kaiming_scale,
                       pd_shift=cfg.pd_shift)
    # rel 1e-6: the original's AGOP root goes through an SVD, ours through eigh (round-off of
    # the 12 zero eigenvalues); everything else agrees to 1e-14
    assert summary(sigma) == pytest.approx(ORIGINAL_COVARIANCE[init], rel=1e-6, abs=1e-15)
    ours = covariance(matrix, kind, scale, 18)  # paper's default: the corrected recipe
    assert float(ours.trace()) == pytest.approx(2.0 if scale == "kaiming" else 1.0)
    if scale == "kaiming":  # the original's per-weight variance is not Kaiming's 2 / 18
        assert abs(ORIGINAL_COVARIANCE[init][0] / 18 - 2 / 18) > 0.1 * 2 / 18
    assert summary(ours)[3] / summary(ours)[0] == pytest.approx(1e-6, rel=1e-3)


def test_the_original_kaiming_coefficient_is_a_standard_deviation():
    """calculate_coefficient(weight) = sqrt(2) / sqrt(fan_in) = 1/3 for fan_in 18: the original
    multiplied the covariance by it (the trace ratio above is exactly that times tr(M_pd))."""
    nfm, _ = fixed_matrices()
    sigma = covariance(nfm, "nfm", "kaiming", 18, kaiming_scale="original", pd_shift="raw")
    shifted = covariance(nfm, "nfm", "trace", 18, pd_shift="raw")  # M_pd / tr(M_pd)
    ratio = sigma / shifted
    assert ratio.mean().item() == pytest.approx(float(ratio[0, 0]))  # one factor everywhere
    assert float(sigma.trace()) / 0.33333333333333337 == pytest.approx(
        float((nfm.trace() + 18 * (torch.linalg.eigvalsh(nfm)[0].abs() + 1e-6))), rel=1e-9)


def fixed_vgg() -> nn.Module:
    """A width-1/16 VGG11 (10 classes, 1 channel, 32x32) whose every parameter, biases
    included (clearly non-zero), is a fixed sine wave."""
    net = build_model("vgg11", 10, 1, 0.0625, seed=0, image_size=32)
    with torch.no_grad():
        for i, p in enumerate(net.parameters()):
            wave = torch.sin(torch.arange(p.numel(), dtype=torch.float64) * 0.61 + i)
            scale = math.sqrt(3.0 / p[0].numel()) if p.dim() > 1 else 0.2
            p.copy_((scale * wave).reshape(p.shape))
    return net.eval()


def fixed_images(count: int = 12) -> torch.Tensor:
    return torch.stack([torch.sin(torch.arange(1024, dtype=torch.float32) * (0.05 + 0.013 * k))
                        .reshape(1, 32, 32) for k in range(count)])


# conv layer -> the original's raw AGOP (before its square root): trace, entry [0, 1]
ORIGINAL_AGOP = [(114.26087379455566, 10.86436939239502), (146.41957718133926, 4.764983177185059),
                 (116.43039381504059, 1.406322717666626), (604.9048638343811, 3.348628044128418),
                 (363.8341192007065, 3.3178420066833496), (1184.4576559066772, 2.798095941543579),
                 (1219.8796204328537, 2.066213369369507), (7115.614658355713, 16.626827239990234)]


def test_the_original_agop_is_eleven_images_ten_logits_and_no_measured_bias():
    cfg = profiles.load(STUDY, "smoke", as_run=True)
    assert (cfg.agop_images, cfg.agop_classes, cfg.agop_bias) == (11, 10, "dropped")
    src = sources.source_settings(cfg, "digits")
    images = fixed_images()[:cfg.agop_images]  # the original's loop stopped after the 11th
    found = sources.layer_agops(fixed_vgg(), images, src)
    got = [(float(m.trace()), float(m[0, 1])) for m in found]
    assert got == [pytest.approx(pair, rel=2e-5) for pair in ORIGINAL_AGOP]
    kept = agop(fixed_vgg(), None, images, classes=range(10)).values()
    assert all(abs(float(m.trace()) / t - 1) > 0.1 for m, (t, _) in zip(kept, ORIGINAL_AGOP))


def test_as_run_applies_every_original_value_and_a_given_value_still_wins():
    cfg = profiles.load(STUDY, "quick", as_run=True)
    assert {k: getattr(cfg, k) for k in AgopNfmSettings.AS_RUN} == AgopNfmSettings.AS_RUN
    mixed = profiles.load(STUDY, "quick", as_run=True, kaiming_scale="variance")
    assert mixed.kaiming_scale == "variance" and mixed.pd_shift == "raw"
    plain = profiles.load(STUDY, "paper")
    assert not plain.as_run and plain.precision == "float32"
    differs = [k for k, v in AgopNfmSettings.AS_RUN.items() if getattr(plain, k) != v]
    assert "head_classes" not in differs and len(differs) == len(AgopNfmSettings.AS_RUN) - 1


def test_the_head_has_head_classes_outputs_and_the_settings_reach_the_matrix_init(monkeypatch):
    cfg = profiles.load(STUDY, "smoke", as_run=True, inits="kaiming_nfm")
    train, _, sample = runs.target_data(cfg, "digits", 0)
    width = [m for m in fixed_vgg().modules() if isinstance(m, nn.Conv2d)]
    nfms = {f"nfm.{i}": torch.eye(c.weight[0].numel(), dtype=torch.float64) for i, c in
            enumerate(m for m in build_model("vgg11", 10, 1, cfg.width).modules()
                      if isinstance(m, nn.Conv2d))}
    assert len(width) == len(nfms) == 8
    monkeypatch.setattr(runs.store, "run", lambda *a, **k: nfms)
    seen = {}
    real = runs.vgg_style

    def spy(model, method, **options):
        seen.update(options, method=method)
        return real(model, method, **options)

    monkeypatch.setattr(runs, "vgg_style", spy)
    model = runs.initialized_model(cfg, train, sample, Runtime("cpu", progress="off"))
    assert [m for m in model.modules() if isinstance(m, nn.Linear)][-1].out_features == 1000
    assert (seen["method"], seen["kaiming_scale"], seen["pd_shift"]) == (
        "kaiming_nfm", "original", "raw")
    # identity NFMs, raw shift: Sigma = I * sqrt(2 / fan_in), per-weight variance sqrt(2/D)
    first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    assert first.weight.var().item() == pytest.approx(math.sqrt(2 / 9), rel=0.35)
    own = profiles.load(STUDY, "smoke", inits="kaiming_normal", head_classes=0)
    model = runs.initialized_model(own, train, sample, Runtime("cpu"))
    assert [m for m in model.modules() if isinstance(m, nn.Linear)][-1].out_features == 10


def test_a_fresh_head_and_the_targets_normalization_as_the_original_for_cifar10():
    cfg = profiles.load(STUDY, "smoke", as_run=True, datasets="cifar10,digits")
    fresh, kept = (sources.source_settings(cfg, d) for d in ("cifar10", "digits"))
    assert (fresh.agop_head, kept.agop_head) == ("fresh", "source")
    net = fixed_vgg()
    before = [p.clone() for p in net.parameters()]
    swapped = sources.with_fresh_head(net, 10, seed=5)
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))  # a copy
    new, old = swapped.classifier[-1], net.classifier[-1]
    assert not torch.equal(new.weight, old.weight) and new.out_features == 10
    bound = 1 / math.sqrt(new.in_features)  # PyTorch's nn.Linear draw: U(-1/sqrt(in), ...)
    assert new.weight.abs().max() <= bound and new.bias.abs().max() <= bound
    assert torch.equal(sources.with_fresh_head(net, 10, seed=5).classifier[-1].weight,
                       new.weight)
    images = fixed_images(4)
    by_fresh = sources.layer_agops(net, images, fresh)[0]
    assert not torch.allclose(by_fresh, sources.layer_agops(net, images, kept)[0])
    set_ = runs.target_data(cfg, "digits", 0)[2]
    stats = ((0.9,), (0.1,))
    assert torch.equal(sources.agop_view(kept, set_, stats), set_.to_float())
    default = sources.source_settings(profiles.load(STUDY, "smoke"), "digits")
    assert torch.equal(sources.agop_view(default, set_, stats),
                       sources.source_view(set_, stats))
