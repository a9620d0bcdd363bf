"""Study 05 as the original code ran it (issue 24): each difference's setting against figures
taken from running the original code (github.com/simran0112/Analysis-of-Parameter-Dynamics-
in-Image-Classification-Models: initializations.py, lenet.py, datasets.py and the notebooks'
take_covariance / take_correlation) on small fixed inputs outside this repository, with
torch 2.14 and torchvision 0.29. The literals below are what it printed."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from initlab import data, profiles
from initlab.inits import initialize
from initlab.metrics import dynamics
from initlab.models import count_parameters
from initlab.studies.parameter_dynamics import runs as study
from initlab.studies.parameter_dynamics import sources, work
from initlab.studies.parameter_dynamics.settings import ParameterDynamicsSettings

STUDY = "05_parameter_dynamics"

# torch.manual_seed(0); LeNet(10); initialize(model, "kaiming_uniform") (or kaiming_normal):
# zero tensors fc_1.bias, fc_2.bias, fc.bias only; conv1.bias as drawn by nn.Conv2d
ORIGINAL_CONV1_BIAS = [0.09576266258955002, 0.06217409297823906, 0.11477673053741455,
                       0.05833687633275986, -0.07621820271015167, 0.0963694304227829]
ORIGINAL_CONV2_BIAS_SUM, ORIGINAL_CONV2_BIAS_ABSMAX = -0.10918806493282318, 0.0771995335817337
# models.vgg19(); model.fc = Linear(512, 10); initialize(model, "kaiming_normal"):
ORIGINAL_VGG19_PARAMETERS = 143_672_370  # with the unused `fc`
ORIGINAL_VGG19_USED = 143_667_240  # without it: every parameter its forward uses
ORIGINAL_VGG19_ZERO_BIASES = 16 + 3  # every conv and classifier bias (torchvision's own init)


def _initialized(arch: str, init: str, conv_bias: str, seed: int = 0, **options) -> nn.Module:
    """A model built as a run builds it (the constructor's draw from `seed`), then the
    cell's init with conv biases as `conv_bias` says (`runs.run` does the same)."""
    model = sources.build(arch, 10, options.get("width", 1.0), "imagenet",
                          options.get("head", "small"), seed=seed)
    with sources.conv_biases_kept(model, sources.keeps_conv_bias(conv_bias, arch, init)):
        initialize(model, init, seed=12345)
    return model


@pytest.mark.parametrize("init", ["kaiming_uniform", "kaiming_normal"])
def test_as_built_conv_biases_are_the_originals_and_only_linear_biases_are_zero(init):
    model = _initialized("lenet5", init, "as_built")  # same layer order as the original's LeNet
    zero = [k for k, v in model.state_dict().items() if not v.any()]
    assert zero == ["7.bias", "9.bias", "11.bias"]  # fc_1, fc_2, fc in the original
    assert model[0].bias.tolist() == pytest.approx(ORIGINAL_CONV1_BIAS, abs=1e-7)
    conv2 = model[3].bias.detach()
    assert float(conv2.sum()) == pytest.approx(ORIGINAL_CONV2_BIAS_SUM, abs=1e-6)
    assert float(conv2.abs().max()) == pytest.approx(ORIGINAL_CONV2_BIAS_ABSMAX, abs=1e-7)
    for conv in (model[0], model[3]):  # PyTorch's default draw: U(-1/sqrt(fan_in), +)
        fan_in = conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1]
        assert float(conv.bias.detach().abs().max()) <= 1 / math.sqrt(fan_in)
    fresh = sources.build("lenet5", 10, 1.0, "imagenet", "small", seed=0)
    assert not torch.equal(model[0].weight, fresh[0].weight)  # the weights were drawn anew


def test_zero_conv_bias_zeroes_every_bias_and_leaves_weights_as_with_as_built():
    zeroed = _initialized("lenet5", "kaiming_uniform", "zero")
    kept = _initialized("lenet5", "kaiming_uniform", "as_built")
    assert [k for k, v in zeroed.state_dict().items() if not v.any()] == [
        "0.bias", "3.bias", "7.bias", "9.bias", "11.bias"]
    for (name, a), b in zip(zeroed.state_dict().items(), kept.state_dict().values()):
        assert name.endswith("bias") or torch.equal(a, b), name


def test_as_built_vgg19_has_every_bias_zero_as_torchvisions_constructor_left_them():
    """torchvision's VGG constructor zeroes its conv biases, so the original's VGG19 had
    only zero biases after its init; initlab's VGG19 (PyTorch's draw when built) matches."""
    model = _initialized("vgg19", "kaiming_normal", "as_built", width=0.125, head="torchvision")
    biases = [v for k, v in model.state_dict().items() if k.endswith("bias")]
    assert len(biases) == ORIGINAL_VGG19_ZERO_BIASES and not any(b.any() for b in biases)
    assert not sources.keeps_conv_bias("as_built", "vgg19", "kaiming_normal")
    assert not sources.keeps_conv_bias("as_built", "lenet5", "my.module:init")  # a user's own
    assert not sources.keeps_conv_bias("as_built", "lenet5", "pretrained")


def test_vgg19_with_the_originals_1000_way_head_has_its_exact_parameter_count():
    with torch.device("meta"):
        as_run = sources.build("vgg19", 10, 1.0, "imagenet", "torchvision_1000", seed=0)
        fixed = sources.build("vgg19", 10, 1.0, "imagenet", "torchvision", seed=0)
    assert count_parameters(as_run) == ORIGINAL_VGG19_USED
    assert ORIGINAL_VGG19_PARAMETERS - ORIGINAL_VGG19_USED == 512 * 10 + 10  # the unused fc
    assert as_run.classifier[-1].out_features == 1000
    assert count_parameters(fixed) == 139_611_210
    cfg = profiles.load(STUDY, "paper", as_run=True, archs="vgg19", inits="kaiming_normal")
    assert cfg.vgg_head == "torchvision_1000"
    assert sources.imagenet_fits(cfg, "vgg19")  # ImageNet's weights fit, head included
    assert work.trainings(study.cells(cfg)[0])[0].classes == 1000


def test_the_originals_correlation_is_pearsons_times_n_minus_1_over_n():
    a = torch.tensor([[1., 2., 0.], [3., 1., 1.], [0., 4., 2.], [5., 0., 1.], [2., 2., 7.]])
    b = torch.tensor([[2., 1.], [0., 3.], [4., 4.], [1., 0.], [3., 5.]])
    original = [-0.5918363542992864, -0.43121450108495424, 0.6822422923379534,
                0.4941946274593898, 0.3646738446708414, 0.6047831094562246]
    got = dynamics.cross_correlation(a, b, "biased_covariance").flatten().tolist()
    assert got == pytest.approx(original, abs=1e-6)
    pearson = np.corrcoef(a.numpy().T, b.numpy().T)[:3, 3:].flatten()
    assert dynamics.cross_correlation(a, b).flatten().tolist() == pytest.approx(pearson, abs=1e-6)
    within = dynamics.correlation(a, "biased_covariance")  # the original: 0.8 on the diagonal
    assert within.diagonal().tolist() == pytest.approx([0.8] * 3, abs=1e-6)
    assert float(within[0, 1]) == pytest.approx(-0.7570796082114043, abs=1e-6)
    matched = dynamics.matched_correlation(a, b, kind="biased_covariance")
    plain = dynamics.matched_correlation(a, b)
    assert torch.equal(matched["rows"], plain["rows"])
    assert torch.equal(matched["cols"], plain["cols"])
    assert matched["values"].tolist() == pytest.approx((0.8 * plain["values"]).tolist(), abs=1e-6)
    with pytest.raises(ValueError, match="correlation"):
        dynamics.correlation(a, "spearman")


def _image_set(images: np.ndarray) -> data.ImageSet:
    x = torch.from_numpy(images)
    return data.ImageSet(x, torch.zeros(len(x), dtype=torch.int64), ("a",),
                         (0.3,) * x.shape[1], (0.2,) * x.shape[1], "pattern")


def test_raw_inputs_are_the_originals_to_tensor_images():
    """The original's Compose([Pad(2), ToTensor(), repeat to 3 channels]) on a fixed grey
    image, and ToTensor() on a fixed RGB one (CIFAR-10), printed these numbers."""
    grey = (np.arange(28 * 28) * 7 % 256).reshape(1, 1, 28, 28).astype(np.uint8)
    x = sources.scaled(_image_set(grey).padded(32).as_rgb(), normalize=False).to_float()[0]
    assert tuple(x.shape) == (3, 32, 32) and float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert float(x.sum()) == pytest.approx(1161.88232421875, abs=1e-3)
    assert float(x[0, 2, 2]) == 0.0 and float(x[1, 10, 17]) == 0.5372549295425415
    rgb = (np.arange(32 * 32 * 3) * 11 % 256).reshape(1, 32, 32, 3).astype(np.uint8)
    y = sources.scaled(_image_set(rgb.transpose(0, 3, 1, 2).copy()), False).to_float()[0]
    assert float(y.sum()) == pytest.approx(1536.0, abs=1e-3)
    assert float(y[2, 5, 7]) == 0.615686297416687
    normalized = sources.scaled(_image_set(grey).padded(32).as_rgb(), True).to_float()[0]
    assert torch.allclose(normalized, (x - 0.3) / 0.2, atol=1e-6)


class _Stop(Exception):
    pass


@pytest.mark.parametrize("as_run", [False, True])
def test_a_run_trains_on_the_inputs_and_conv_biases_its_settings_name(as_run, monkeypatch):
    """What `runs.run` hands to training: raw or normalized images, the conv biases kept or
    zeroed (stopped before any training: `fit` is replaced)."""
    seen = {}

    def stop(model, train, **_):
        seen.update(state={k: v.clone() for k, v in model.state_dict().items()}, train=train)
        raise _Stop

    monkeypatch.setattr(study, "fit", stop)
    overrides = {} if as_run else dict(normalize=True, conv_bias="zero")
    cfg = profiles.load(STUDY, "smoke", archs="lenet5", inits="kaiming_normal",
                        optimizers="sgd", seeds=1, as_run=as_run, **overrides)
    with pytest.raises(_Stop):
        study.run(study.cells(cfg)[0])
    train, state = seen["train"], seen["state"]
    if as_run:
        assert train.mean == (0.0,) * 3 and train.std == (1.0,) * 3
        assert state["0.bias"].any() and state["3.bias"].any() and not state["7.bias"].any()
    else:
        assert train.mean == sources.rgb32("digits", "train").mean and train.std[0] != 1.0
        assert not state["0.bias"].any() and not state["3.bias"].any()


def test_as_run_applies_every_original_value_and_a_users_override_wins():
    assert set(ParameterDynamicsSettings.AS_RUN) == {
        "normalize", "conv_bias", "vgg_head", "correlation", "precision"}
    for profile in ("smoke", "quick", "paper"):
        cfg = profiles.load(STUDY, profile, as_run=True)
        assert cfg.as_run and all(getattr(cfg, k) == v
                                  for k, v in ParameterDynamicsSettings.AS_RUN.items())
        assert profiles.load(STUDY, profile).precision == "float32"
    mine = profiles.load(STUDY, "paper", as_run=True, correlation="pearson")
    assert mine.correlation == "pearson" and mine.vgg_head == "torchvision_1000"
    paper = profiles.load(STUDY, "paper")  # the original's where it is no bug (the doc's why)
    assert (paper.normalize, paper.conv_bias, paper.vgg_head, paper.correlation) == (
        False, "as_built", "torchvision", "pearson")


def test_as_run_renames_only_the_runs_it_changes():
    """Settings an architecture ignores do not name its runs: on `paper`, as_run differs in
    the VGG19 head (and the rendering's correlation), so only VGG19's runs are new."""
    from initlab import store

    plain = study.cells(profiles.load(STUDY, "paper"))
    as_run = study.cells(profiles.load(STUDY, "paper", as_run=True))
    same = {(a.archs[0], store.run_name(a) == store.run_name(b)) for a, b in zip(plain, as_run)}
    assert same == {("lenet5", True), ("resnet18", True), ("vgg19", False)}
    zero = study.cells(profiles.load(STUDY, "paper", conv_bias="zero"))
    same = {(a.archs[0], store.run_name(a) == store.run_name(b)) for a, b in zip(plain, zero)}
    assert same == {("lenet5", False), ("resnet18", True), ("vgg19", True)}
    quick = study.cells(profiles.load(STUDY, "quick", archs="lenet5"))
    assert {(c.width, c.vgg_head) for c in quick} == {(1.0, "torchvision")}  # not 0.125, small
