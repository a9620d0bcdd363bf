"""Study 04 as the report's code ran (issue 24). No code of the report is public; its one known
difference is the reduced AlexNet's second dropout, written `Dropout(0,5)`: the expression
itself is evaluated here (p = 0, a comma for the decimal point) and checked against the
as-run network, module by module and by its behaviour in training mode."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from initlab import profiles, store
from initlab.models import build_model, count_parameters
from initlab.studies.baselines_transfer import runs as study
from initlab.studies.baselines_transfer.settings import BaselinesTransferSettings
from initlab.training.runtime import Runtime

STUDY = "04_baselines_transfer"
CPU = Runtime("cpu", progress="off")


def dropouts(model: nn.Module) -> list[float]:
    return [m.p for m in model.modules() if isinstance(m, nn.Dropout)]


def test_as_run_sets_the_reports_second_dropout_and_nothing_else_changes():
    as_run = profiles.load(STUDY, "paper", as_run=True)
    assert BaselinesTransferSettings.AS_RUN == {"alexnet_dropout2": 0.0}
    assert as_run.alexnet_dropout2 == nn.Dropout(0, 5).p == 0.0  # the report's expression
    assert profiles.load(STUDY, "paper").alexnet_dropout2 == 0.5
    assert profiles.load(STUDY, "paper", as_run=True, alexnet_dropout2=0.25).alexnet_dropout2 \
        == 0.25  # a value the user gives still wins
    default = profiles.load(STUDY, "paper")
    names = {r.model: store.run_name(r) for r in study.baseline_runs(default)[:2]}
    as_run_names = {r.model: store.run_name(r) for r in study.baseline_runs(as_run)[:2]}
    assert names["simple_cnn"] == as_run_names["simple_cnn"]  # SimpleCNN has no difference
    assert names["reduced_alexnet"] != as_run_names["reduced_alexnet"]
    assert [store.run_name(r) for r in study.transfer_runs(as_run)] == [
        store.run_name(r) for r in study.transfer_runs(default)]


def test_the_as_run_alexnet_has_p_0_in_its_second_dropout_and_the_same_parameters():
    original = build_model("reduced_alexnet", 10, 3, dropout2=0.0, seed=0)
    fixed = build_model("reduced_alexnet", 10, 3, seed=0)
    assert dropouts(original) == [0.5, 0.0] and dropouts(fixed) == [0.5, 0.5]
    assert count_parameters(original) == count_parameters(fixed) == 6_199_498
    for a, b in zip(original.parameters(), fixed.parameters()):
        assert torch.equal(a, b)  # p draws no weights: the same network otherwise
    second = [m for m in original.modules() if isinstance(m, nn.Dropout)][1]
    x = torch.randn(64, 2048, generator=torch.Generator().manual_seed(0))
    assert torch.equal(second.train()(x), x)  # p = 0: nothing dropped, nothing rescaled
    original.train()
    hidden = original[:-2]  # up to the second dropout's output, training mode
    with torch.random.fork_rng():
        torch.manual_seed(1)
        out = hidden(torch.randn(8, 3, 32, 32))
    assert (out == 0).float().mean() < 0.9  # the first dropout still drops, ReLU zeros some


def test_the_baseline_run_builds_the_as_run_network(monkeypatch):
    built = []
    real = study.build_model

    def spy(name, *args, **options):
        model = real(name, *args, **options)
        built.append((name, dropouts(model)))
        return model

    monkeypatch.setattr(study, "build_model", spy)
    cfg = dataclasses.replace(profiles.load(STUDY, "smoke", as_run=True), alexnet_epochs=1,
                              alexnet_train_size=64, tsne_points=20, tsne_iterations=250)
    alexnet = study.baseline_runs(cfg)[1]
    assert alexnet.model == "reduced_alexnet" and alexnet.dropout2 == 0.0
    summary = study.run_baseline(alexnet, CPU)["summary"]
    assert built == [("reduced_alexnet", [0.5, 0.0])]
    assert summary.parameters[0] == count_parameters(
        build_model("reduced_alexnet", 10, 3, 0.125, dropout2=0.0))
