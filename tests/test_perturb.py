"""Sign flip, distortion and the pretrained-checkpoint init (study 05)."""

from __future__ import annotations

import copy

import pytest
import torch

from initlab.inits import initialize, methods
from initlab.inits.weights import head_keys
from initlab.studies.parameter_dynamics import sources as study


def _resnet(seed: int = 0, width: float = 0.125):
    return study.build("resnet18", 10, width, "imagenet", "small", seed=seed)


def test_perturbations_are_registered():
    assert {"sign_flip", "distortion", "pretrained"} <= set(methods())


def test_sign_flip_twice_is_the_identity_and_once_negates_parameters_only():
    model = _resnet()
    model.train()(torch.randn(8, 3, 32, 32))  # non-trivial batch-norm running statistics
    before = copy.deepcopy(model.state_dict())
    initialize(model, "sign_flip")
    params = dict(model.named_parameters())
    for key, value in model.state_dict().items():
        expected = -before[key] if key in params else before[key]
        assert torch.equal(value, expected), key
    initialize(model, "sign_flip")
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_distortion_adds_epsilon_to_every_parameter():
    model = study.build("lenet5", 10, 1.0, "imagenet", "small", seed=0)
    before = [p.detach().clone() for p in model.parameters()]
    initialize(model, "distortion", epsilon=0.25)  # exactly representable: exact sums
    for old, new in zip(before, model.parameters()):
        assert torch.equal(new, old + 0.25)
    initialize(model, "distortion")
    flat = torch.cat([(n - o - 0.25).flatten() for o, n in zip(before, model.parameters())])
    assert flat.abs().max() < 1e-6 + 1e-7 and flat.mean().item() == pytest.approx(1e-6, rel=0.1)


def test_pretrained_loads_all_but_the_head():
    source, target = _resnet(seed=1), _resnet(seed=2)
    fresh_head = {k: v.clone() for k, v in target.state_dict().items() if k in head_keys(target)}
    assert set(fresh_head) == {"fc.weight", "fc.bias"}
    initialize(target, "pretrained", source=source.state_dict(), keep_head=False)
    for key, value in target.state_dict().items():
        expected = fresh_head[key] if key in fresh_head else source.state_dict()[key]
        assert torch.equal(value, expected), key
    initialize(target, "pretrained", source=source.state_dict(), keep_head=True)
    assert torch.equal(target.fc.weight, source.fc.weight)


def test_pretrained_head_of_a_sequential_and_a_width_mismatch():
    lenet = study.build("lenet5", 10, 1.0, "imagenet", "small", seed=0)
    assert head_keys(lenet) == ["11.weight", "11.bias"]
    with pytest.raises(ValueError, match="does not fit"):
        initialize(_resnet(width=0.25), "pretrained", source=_resnet().state_dict(),
                   keep_head=False)


def test_pretrained_falls_back_to_the_checkpoint_when_imagenet_weights_are_missing(monkeypatch):
    from initlab import profiles, store
    from initlab.models.pretrained import WeightsUnavailableError

    def offline(model, name):
        raise WeightsUnavailableError("offline")

    source = study.build("resnet18", 10, 1.0, "imagenet", "small", seed=5)
    state = store.model_tensors(source)
    monkeypatch.setattr(study, "load_imagenet", offline)
    monkeypatch.setattr(study, "source_result", lambda spec, runtime=None, train=True: state)
    cfg = profiles.load("05_parameter_dynamics", "paper")  # width 1: ImageNet weights would fit
    model = study.build("resnet18", 10, 1.0, "imagenet", "small", seed=6)
    origin = study.load_pretrained(cfg, model, "resnet18", "mnist")
    assert origin == "checkpoint (fashion_mnist)"
    assert torch.equal(model.conv1.weight, source.conv1.weight)
    assert not torch.equal(model.fc.weight, source.fc.weight)  # a fresh head


def test_a_distortion_of_1e6_is_visible_in_float32_and_almost_invisible_in_bf16():
    """Why the perturbation experiment runs in float32: bf16 autocast rounds each weight to
    8 significant bits, and theta + 1e-6 rounds to theta's bf16 value for nearly all weights."""
    from initlab.metrics import dynamics

    for model in (study.build("lenet5", 10, 1.0, "imagenet", "small", seed=0), _resnet()):
        initialize(model, "kaiming_uniform", seed=0)
        theta = torch.nn.utils.parameters_to_vector(model.parameters()).detach()
        shifted = theta + 1e-6
        f32 = float((shifted != theta).float().mean())
        bf16 = float((shifted.bfloat16() != theta.bfloat16()).float().mean())
        assert f32 == 1.0 and 0 < bf16 < 0.05  # about 1.5% of the bf16 values move
        assert dynamics.visible_shift(theta, 1e-6, torch.float32) == f32
        assert dynamics.visible_shift(theta, 1e-6, torch.bfloat16) == bf16
        assert dynamics.visible_shift(theta, 1.0, torch.bfloat16) > 0.99  # a large shift shows


def test_retraining_after_a_perturbation_is_float32_whatever_the_precision(monkeypatch):
    from initlab import profiles
    from initlab.studies.parameter_dynamics import runs
    from initlab.training.runtime import Runtime

    cfg = profiles.load("05_parameter_dynamics", "smoke", archs="lenet5", inits="kaiming_uniform",
                        optimizers="sgd", precision="bf16", seeds=1, epochs=1,
                        snapshot_epochs=(0, 1))
    assert cfg.recipe("vgg19", "adam").precision == "bf16"
    assert cfg.retrain_recipe("vgg19", "adam").precision == "float32"
    assert cfg.retrain_recipe("vgg19", "adam").epochs == cfg.retrain_epochs
    used = []

    def recording_fit(model, train, recipe, **kwargs):
        used.append((kwargs.get("name", ""), recipe.precision))
        return real_fit(model, train, recipe=recipe, **kwargs)

    real_fit = runs.fit
    monkeypatch.setattr(runs, "fit", recording_fit)
    (cell,) = runs.cells(cfg)
    runs.run(cell, Runtime(device="cpu", progress="off"))
    assert used[0][1] == "bf16"  # the training itself follows `precision`
    assert [p for _, p in used[1:]] == ["float32"] * len(cfg.perturbations)
    assert [n for n, _ in used[1:]] == [f"retrain after {p}" for p in cfg.perturbations]
