import pytest
import torch
from torch.nn import functional as F

from initlab import data
from initlab.models import build_model
from initlab.training.fit import fit
from initlab.training.loop import TrainingDiverged, evaluate
from initlab.training.recipe import Recipe
from initlab.training.runtime import Runtime

CPU = Runtime("cpu")


@pytest.fixture(scope="module")
def digits():
    return data.load("digits", "train"), data.load("digits", "test")


def _model(seed=0):
    torch.manual_seed(seed)
    return build_model("tiny_cnn", 10, width=4.0)


def test_fit_learns_digits_and_logs_a_tidy_history(digits):
    train, test = digits
    history = fit(_model(), train, test, recipe=Recipe(lr=3e-3, epochs=4, batch_size=32),
                  runtime=CPU)
    frame = history.frame
    assert list(frame.columns) == ["epoch", "split", "metric", "value"]
    assert len(frame) == 4 * 2 * 2  # epochs x (train, val) x (loss, accuracy)
    assert history.last("val", "accuracy") > 0.8
    losses = frame.query("split == 'train' and metric == 'loss'").value.tolist()
    assert losses[-1] < losses[0]


def test_same_seed_same_numbers_on_cpu(digits):
    train, test = digits
    runs = []
    for _ in range(2):
        model = _model(1)
        history = fit(model, train, test, recipe=Recipe(epochs=2), runtime=CPU, seed=5,
                      augment=lambda x, g: x + 0.1 * torch.randn(x.shape, generator=g))
        runs.append((history.frame, model.state_dict()))
    assert runs[0][0].equals(runs[1][0])
    assert all(torch.equal(v, runs[1][1][k]) for k, v in runs[0][1].items())
    other = fit(_model(1), train, test, recipe=Recipe(epochs=2), runtime=CPU, seed=6)
    assert not other.frame.equals(runs[0][0])


def test_snapshots_and_step_decay(digits):
    train, _ = digits
    model = _model()
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    recipe = Recipe(optimizer="sgd", lr=0.05, epochs=3, lr_every=1, lr_factor=0.0)
    history = fit(model, train, recipe=recipe, snapshot_epochs=(0, 1, 3), runtime=CPU)
    assert set(history.snapshots) == {0, 1, 3}
    assert all(torch.equal(history.snapshots[0][k], v) for k, v in initial.items())
    assert not torch.equal(history.snapshots[1]["0.weight"], initial["0.weight"])
    # lr is multiplied by 0 after epoch 1: nothing moves afterwards, momentum or not
    assert all(torch.equal(history.snapshots[3][k], v) for k, v in history.snapshots[1].items())


def test_evaluate_matches_a_brute_force_pass(digits):
    _, test = digits
    model = _model().eval()
    x = test.to_float()
    with torch.no_grad():
        logits = model(x)
    loss, acc = evaluate(model, test, CPU, batch_size=77)
    assert acc == pytest.approx((logits.argmax(1) == test.labels).float().mean().item())
    assert loss == pytest.approx(F.cross_entropy(logits, test.labels).item(), rel=1e-5)


def test_a_nan_loss_stops_the_run_naming_run_and_epoch(digits):
    train, _ = digits
    model = _model()
    with torch.no_grad():
        model[-1].weight.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match="my-run.*epoch 1"):
        fit(model, train, recipe=Recipe(epochs=2), runtime=CPU, name="my-run")


def test_bad_arguments_are_rejected(digits):
    train, _ = digits
    with pytest.raises(ValueError, match="adam, sgd"):
        Recipe(optimizer="rmsprop")
    with pytest.raises(ValueError, match="auto, float32, bf16"):
        Recipe(precision="fp8")
    with pytest.raises(ValueError, match="unknown device"):
        Runtime("tpu")
    with pytest.raises(ValueError, match="threads"):
        Runtime(threads=-1)


def test_the_runtime_sets_one_thread_policy_and_fit_keeps_it(digits):
    train, _ = digits
    Runtime("cpu", threads=2).apply()
    fit(_model(), train, recipe=Recipe(epochs=1), runtime=Runtime("cpu", threads=2))
    assert torch.get_num_threads() == 2  # fit never changes the process's count
    CPU.apply()
    assert torch.get_num_threads() == CPU.cpu_threads == 1


def test_fit_seeds_dropout_from_its_seed_and_leaves_the_global_rng_alone(digits):
    train, _ = digits

    def trained(seed: int, noise_before: int) -> torch.Tensor:
        torch.manual_seed(noise_before)  # whatever ran before in the process
        model = build_model("simple_cnn", 10, width=0.25, seed=0)  # has dropout
        state = torch.get_rng_state()
        fit(model, train.subset(slice(0, 256)), recipe=Recipe(epochs=1), runtime=CPU, seed=seed)
        assert torch.equal(torch.get_rng_state(), state)
        return torch.nn.utils.parameters_to_vector(model.parameters()).detach()

    assert torch.equal(trained(3, noise_before=1), trained(3, noise_before=2))
    assert not torch.equal(trained(3, noise_before=1), trained(4, noise_before=1))
