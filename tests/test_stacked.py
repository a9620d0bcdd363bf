"""The stacked path of fit_many: K batch-norm ResNet-18s as one network must equal K separate
models, in the forward pass and through training (weights, running statistics, history)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from initlab.data import ImageSet
from initlab.models import build_model
from initlab.training import stacked
from initlab.training.fit import fit
from initlab.training.fit_many import fit_many
from initlab.training.recipe import Recipe
from initlab.training.runtime import Runtime

CPU = Runtime("cpu", progress="off")
# float32, measured: weights and running statistics differ by <= 4e-5 and history values by
# <= 1e-5 (accuracies equal) between the stacked fit and separate fits; tolerances 10x above
WEIGHTS_ATOL, HISTORY_ATOL = 5e-4, 2e-4
RECIPE = Recipe(optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=5e-4, epochs=2,
                batch_size=64, lr_every=1, lr_factor=0.1)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The package's CPU thread policy (`Runtime.apply`, as every store run sets it): two
    threads on a shared 2-core machine made these fits ~15x slower."""
    CPU.apply()


def _resnets(k: int, stem: str = "cifar", channels: int = 3, first: int = 0) -> list[nn.Module]:
    return [build_model("resnet18", 10, channels, width=0.0625, stem=stem, seed=first + i)
            for i in range(k)]


def _noise_images(n: int, seed: int) -> ImageSet:
    """Uniform-noise images with random labels. Not digits or Fashion-MNIST: with those, this
    width-1/16 network's training is chaotic (a 1e-7 relative change of one weight grows to
    1e-2 within 8 SGD steps of one plain `fit`), so no float32 implementation could match
    separate fits there at a tolerance that still catches a bug."""
    g = torch.Generator().manual_seed(seed)
    return ImageSet(torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g),
                    torch.randint(0, 10, (n,), generator=g), tuple(map(str, range(10))),
                    (0.5,) * 3, (0.25,) * 3, "noise")


@pytest.mark.parametrize("stem", ["cifar", "imagenet"])
@pytest.mark.parametrize("training", [True, False])
def test_stacked_forward_equals_each_model(stem, training):
    models = _resnets(3, stem)
    with torch.no_grad():  # running statistics and affine weights of their own, per model
        for module in (m for model in models for m in model.modules()):
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.normal_()
                module.running_var.uniform_(0.5, 2.0)
                module.weight.normal_()
                module.bias.normal_()
    net = stacked.stack(models).train(training)
    x = torch.randn(3, 6, 3, 32, 32)
    out = stacked.stacked_output(net(stacked.stacked_input(x)), 3)
    for i, model in enumerate(models):
        expected = model.train(training)(x[i])
        assert torch.allclose(out[i], expected, rtol=1e-4, atol=1e-4), (i, stem, training)


def test_write_back_gives_each_model_its_own_slice():
    models, fresh = _resnets(3), _resnets(3)
    net = stacked.stack(models)
    with torch.no_grad():
        for tensor in net.state_dict().values():
            if tensor.is_floating_point():
                tensor.normal_()
    stacked.write_back(net, fresh)
    state = net.state_dict()
    for i, model in enumerate(fresh):
        for key, value in model.state_dict().items():
            expected = state[key] if value.dim() == 0 else state[key].reshape(3, *value.shape)[i]
            assert torch.equal(value, expected), key
    assert not torch.equal(fresh[0].fc.weight, fresh[1].fc.weight)


def _max_differences(stack_fn=None) -> tuple[float, float, float]:
    """Train 3 ResNet-18s stacked and separately; return the largest difference in weights and
    running statistics, in history values, and the smallest difference between two models."""
    trains, val = [_noise_images(256, i) for i in range(3)], _noise_images(200, 9)
    together, apart = _resnets(3), _resnets(3)
    histories = fit_many(together, trains, [val] * 3, recipe=RECIPE, runtime=CPU,
                         seeds=[1, 2, 3], stack_batch_norm=True)
    weights = history = 0.0
    for i, model in enumerate(apart):
        alone = fit(model, trains[i], val, recipe=RECIPE, runtime=CPU, seed=i + 1)
        history = max(history, float((torch.tensor(histories[i].frame.value.values)
                                      - torch.tensor(alone.frame.value.values)).abs().max()))
        for (key, a), b in zip(model.state_dict().items(), together[i].state_dict().values()):
            assert a.shape == b.shape, key
            weights = max(weights, float((a.double() - b.double()).abs().max()))
    spread = float((together[0].layer1[0].bn1.running_var
                    - together[1].layer1[0].bn1.running_var).abs().max())
    return weights, history, spread


def test_stacked_fit_many_equals_separate_fits():
    weights, history, spread = _max_differences()
    assert weights <= WEIGHTS_ATOL and history <= HISTORY_ATOL, (weights, history)
    assert spread > 100 * WEIGHTS_ATOL  # the models differ far beyond the tolerance


class _PooledBatchNorm(nn.BatchNorm2d):
    """The bug the equality test must catch: K*C affine weights and running statistics as
    required, but training-mode statistics pooled over the K models (C channels over K*B
    samples) instead of taken over each model's own batch."""

    def __init__(self, k: int, layer: nn.BatchNorm2d):
        super().__init__(k * layer.num_features, layer.eps, layer.momentum)
        self.k = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        b, _, h, w = x.shape
        pooled = x.reshape(b, self.k, -1, h, w).transpose(0, 1).reshape(self.k * b, -1, h, w)
        normed = F.batch_norm(pooled, None, None, training=True, eps=self.eps)
        normed = normed.reshape(self.k, b, -1, h, w).transpose(0, 1).reshape(x.shape)
        return normed * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


def test_equality_check_fails_when_batch_norm_is_pooled_over_models(monkeypatch):
    widened = stacked._widened

    def pooled(module: nn.Module, k: int) -> nn.Module | None:
        return _PooledBatchNorm(k, module) if isinstance(module, nn.BatchNorm2d) else widened(
            module, k)

    monkeypatch.setattr(stacked, "_widened", pooled)
    weights, history, _ = _max_differences()
    assert weights > WEIGHTS_ATOL and history > HISTORY_ATOL, (weights, history)


def test_explicit_stacking_of_an_unstackable_model_is_an_error():
    models = [nn.Sequential(nn.Conv2d(3, 2, 3), nn.BatchNorm2d(2), nn.Flatten(),
                            nn.Linear(2 * 30 * 30, 10)) for _ in range(2)]
    assert not stacked.stackable(models[0])
    with pytest.raises(ValueError, match="cannot be stacked"):
        fit_many(models, [_noise_images(64, 0)] * 2, recipe=RECIPE, runtime=CPU,
                 stack_batch_norm=True)


def test_a_stacked_fit_resumes_from_its_checkpoint_to_the_unbroken_numbers(tmp_path):
    from dataclasses import replace

    from initlab.training import checkpoints

    data = [_noise_images(128, seed) for seed in (1, 2)]
    unbroken = _resnets(2)
    fit_many(unbroken, data, recipe=RECIPE, runtime=CPU, seeds=[5, 6], stack_batch_norm=True)
    resumed = _resnets(2, first=100)  # other weights: only a real resume can end like unbroken
    with checkpoints.scratch(tmp_path):  # as if killed after epoch 1: its checkpoint remains
        fit_many(_resnets(2), data, recipe=replace(RECIPE, epochs=1), runtime=CPU,
                 seeds=[5, 6], stack_batch_norm=True)
    with checkpoints.scratch(tmp_path):  # the same call again finds it and trains epoch 2
        fit_many(resumed, data, recipe=RECIPE, runtime=CPU, seeds=[5, 6], stack_batch_norm=True)
    for a, b in zip(unbroken, resumed):
        for (key, x), y in zip(a.state_dict().items(), b.state_dict().values()):
            assert torch.equal(x, y), key
