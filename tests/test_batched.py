"""fit_many trains K models at once and must equal K separate fit calls."""

import functools

import pytest
import torch
from torch import nn
from torch.func import stack_module_state

from initlab import data
from initlab.data import noise
from initlab.models import build_model
from initlab.training.fit import fit
from initlab.training.fit_many import fit_many, groupable, stacked_forward
from initlab.training.recipe import Recipe
from initlab.training.runtime import Runtime

CPU = Runtime("cpu")


@pytest.fixture(scope="module")
def subsets():
    train = data.load("digits", "train").with_normalization((0.5,), (0.5,))
    return train.chunks(3, 300, seed=0), data.load("digits", "test")


def _models(seed: int, k: int, name="tiny_cnn", **options):
    torch.manual_seed(seed)
    return [build_model(name, 10, **options) for _ in range(k)]


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_fit_many_equals_separate_fits(subsets, optimizer):
    chunks, test = subsets
    augments = [functools.partial(noise.apply, n) for n in ("blur", "erasing", "rotation")]
    recipe = Recipe(optimizer=optimizer, lr=0.01, epochs=2, batch_size=64, weight_decay=1e-4,
                    nesterov=optimizer == "sgd", lr_every=1, lr_factor=0.5)
    kwargs = dict(recipe=recipe, runtime=CPU, snapshot_epochs=(0, 1))
    together = _models(0, 3)
    histories = fit_many(together, chunks, [test] * 3, augments=augments, seeds=[1, 2, 3],
                         **kwargs)
    apart = _models(0, 3)
    for i, model in enumerate(apart):
        history = fit(model, chunks[i], test, augment=augments[i], seed=i + 1, **kwargs)
        assert torch.allclose(torch.tensor(histories[i].frame.value.values),
                              torch.tensor(history.frame.value.values), atol=2e-4)
        for (key, a), b in zip(model.state_dict().items(), together[i].state_dict().values()):
            assert torch.allclose(a, b, atol=2e-4), key
        assert sorted(history.snapshots) == sorted(histories[i].snapshots) == [0, 1]
        for key, a in history.snapshots[1].items():
            assert torch.allclose(a, histories[i].snapshots[1][key], atol=2e-4), key
    assert not torch.allclose(together[0][0].weight, together[1][0].weight)


def _tanh_net():
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.Tanh(), nn.Flatten(), nn.Linear(4 * 30 * 30, 10))


@pytest.mark.parametrize("make, grouped", [
    (lambda: build_model("tiny_cnn", 10), True),
    (lambda: build_model("lenet5", 10, 3, width=0.5), True),
    (_tanh_net, False),  # not a conv/ReLU/max-pool/linear stack: vmap(functional_call)
])
def test_stacked_forward_equals_each_model(make, grouped):
    torch.manual_seed(0)
    models = [make() for _ in range(3)]
    assert groupable(models[0]) == grouped
    params, buffers = stack_module_state(models)
    channels, side = (1, 28) if models[0][0].in_channels == 1 else (3, 32)
    x = torch.randn(3, 5, channels, side, side)
    out = stacked_forward(models[0], 3)(params, buffers, x)
    for i, model in enumerate(models):
        assert torch.allclose(out[i], model(x[i]), atol=1e-5)


def test_groupable_refuses_layers_it_cannot_stack():
    assert not groupable(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Dropout(), nn.Flatten(),
                                       nn.Linear(2 * 26 * 26, 10)))
    assert not groupable(nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect"),
                                       nn.Flatten(), nn.Linear(2 * 28 * 28, 10)))
    assert not groupable(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(start_dim=2),
                                       nn.Linear(26 * 26, 10)))
    assert not groupable(build_model("resnet18", 10, width=0.0625, stem="cifar"))


def test_batch_norm_models_fall_back_to_sequential_fits(subsets):
    chunks, _ = subsets
    models = _models(0, 2, "resnet18", width=0.0625, stem="cifar")
    reference = _models(0, 2, "resnet18", width=0.0625, stem="cifar")
    fit_many(models, chunks[:2], seeds=[4, 5], recipe=Recipe(), runtime=CPU)
    for i, model in enumerate(reference):
        fit(model, chunks[i], seed=4 + i, recipe=Recipe(), runtime=CPU)
        assert torch.equal(model.bn1.running_mean, models[i].bn1.running_mean)


def test_mismatched_inputs_are_rejected(subsets):
    chunks, _ = subsets
    with pytest.raises(ValueError, match="one entry per model"):
        fit_many(_models(0, 3), chunks[:2], recipe=Recipe(), runtime=CPU)
    with pytest.raises(ValueError, match="one size"):
        fit_many(_models(0, 2), [chunks[0], chunks[1].subset(slice(0, 100))], recipe=Recipe(),
                 runtime=CPU)
