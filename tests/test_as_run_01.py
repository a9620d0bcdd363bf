"""Study 01 as the original code ran (issue 24): each AS_RUN value against figures from running
the original notebook's own functions on small fixed inputs.

The literals below come from the original's `compare_filters`, `get_max_index`,
`get_min_index` and `select_filters` (github.com/danieljwright/CV-project,
computer-vision-projectv2.ipynb at commit 22cb603, run outside this repository) on six
`CustomCNN`s built after `torch.manual_seed(100 + k)`, k = 0..5: which pair each of the ten
kernels picked and which model `select_filters` copied it from. initlab's `tiny_cnn` built
from the same seeds has the same kernels (checked below by two of their values).
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from initlab import profiles
from initlab.data import noise
from initlab.inits import initialize
from initlab.metrics.matching import stacked_kernels
from initlab.models import build_model
from initlab.studies.warm_start import runs, selection
from initlab.studies.warm_start.settings import WarmStartSettings
from initlab.training.runtime import Runtime

STUDY = "01_warm_start"
CPU = Runtime("cpu", progress="off")
# metric -> (pair index per kernel, model copied from per kernel), from the original code
ORIGINAL_ARGMAX = {
    "cosine": ([1, 4, 7, 6, 10, 9, 13, 6, 11, 1], [1, 1, 2, 2, 3, 3, 4, 2, 3, 1]),
    "pearson": ([1, 4, 2, 13, 6, 13, 5, 6, 11, 1], [1, 1, 1, 4, 2, 4, 2, 2, 3, 1]),
    "frobenius": ([7, 3, 7, 10, 10, 7, 0, 7, 0, 4], [2, 1, 2, 3, 3, 2, 1, 2, 1, 1]),
}
ORIGINAL_FROBENIUS_ARGMIN = ([1, 4, 2, 8, 9, 9, 13, 10, 10, 1], [1, 1, 1, 2, 3, 3, 4, 3, 3, 1])


def six_models() -> list[torch.nn.Module]:
    models = [build_model("tiny_cnn", 10, 1, seed=100 + k) for k in range(6)]
    # the original's CustomCNN after torch.manual_seed(100) and (105): the same draws
    assert models[0][0].weight[0, 0, 0, 0].item() == pytest.approx(-0.2588904798030853, abs=1e-7)
    assert models[5][3].weight[3, 1, 2, 2].item() == pytest.approx(-0.2313321977853775, abs=1e-7)
    return models


def test_as_run_applies_every_original_value_and_a_given_value_still_wins():
    cfg = profiles.load(STUDY, "smoke", as_run=True)
    for name, value in WarmStartSettings.AS_RUN.items():
        assert getattr(cfg, name) == value
    assert cfg.dataset == "digits"  # the profile's other values stay
    mixed = profiles.load(STUDY, "smoke", as_run=True, copy_from="member")
    assert mixed.copy_from == "member" and mixed.frobenius_pair == "farthest"
    paper = profiles.load(STUDY, "paper")
    assert (paper.corrupt, paper.frobenius_pair, paper.copy_from, paper.sources,
            paper.precision) == (True, "closest", "member", "subsets", "float32")


@pytest.mark.parametrize("metric", list(ORIGINAL_ARGMAX))
def test_the_as_run_choice_is_the_original_select_filters(metric):
    filter_sets = stacked_kernels(six_models())
    choice = selection.choose(filter_sets, metric, frobenius_pair="farthest",
                              copy_from="index_range")
    pairs, sources = ORIGINAL_ARGMAX[metric]
    pair_names = [(a, b) for a in range(6) for b in range(a + 1, 6)]
    assert [pair_names.index((a, b)) for a, b in zip(choice.model_a, choice.model_b)] == pairs
    assert choice.source.tolist() == sources
    assert choice.member.tolist() == [s in pair_names[p] for p, s in zip(pairs, sources)]


def test_the_fixed_frobenius_pair_is_the_original_get_min_index():
    choice = selection.choose(stacked_kernels(six_models()), "frobenius",
                              frobenius_pair="closest", copy_from="index_range")
    pairs, sources = ORIGINAL_FROBENIUS_ARGMIN
    pair_names = [(a, b) for a in range(6) for b in range(a + 1, 6)]
    assert [pair_names.index(p) for p in zip(choice.model_a, choice.model_b)] == pairs
    assert choice.source.tolist() == sources


def test_member_copies_from_the_pair_and_equals_the_similar_filters_init():
    sources = six_models()
    for metric in ("cosine", "pearson", "frobenius"):
        for aligned in (False, True):
            ours = build_model("tiny_cnn", 10, 1, seed=7)
            choice = selection.copy_kernels(ours, sources, metric, aligned, seed=3)
            reference = initialize(build_model("tiny_cnn", 10, 1, seed=7), "similar_filters",
                                   sources=sources, metric=metric, aligned=aligned, seed=3)
            for a, b in zip(ours.parameters(), reference.parameters()):
                assert torch.equal(a, b)
            assert choice.member.all()
            kernels = stacked_kernels(sources, aligned)
            written = stacked_kernels([ours])[0]
            for f, s in enumerate(choice.source):  # brute force: each kernel is its source's
                assert torch.equal(written[f], kernels[s, f])


def test_the_as_run_iteration_trains_what_the_original_trained(monkeypatch):
    calls = []
    monkeypatch.setattr(noise, "apply", lambda *a, **k: calls.append(a) or a[1])
    cfg = dataclasses.replace(profiles.load(STUDY, "smoke", as_run=True), subset_size=64,
                              batch_size=32, epochs=1, source_epochs=1, train_size=300,
                              metrics=("frobenius",))
    result = runs.run(cfg, CPU)
    assert calls == []  # corrupt=False: the noise was never applied
    assert result["noisy_models"].noise.tolist() == runs.source_names(cfg)
    assert result["noisy_models"].noise[0] == "whole clean set"
    chosen = result["selection"]
    assert (chosen.source == chosen.model_a + 1).all()  # index_range: models[i + 1]
    raw = chosen[chosen.method == "frobenius"]
    sims = result["similarity"].query("metric == 'frobenius' and not aligned")
    farthest = sims.groupby("filter").value.max()
    assert raw.value.tolist() == pytest.approx(farthest.tolist())  # the original's argmax
    tests = result["accuracy"].query("split == 'test' and metric == 'accuracy'")
    epochs = dict(zip(tests.method, tests.epoch))
    assert epochs["random"] == 2 and epochs["frobenius"] == 1  # random_epochs = 2


def test_the_default_iteration_corrupts_every_subset_with_the_chosen_set(monkeypatch):
    calls = []
    original = noise.apply
    monkeypatch.setattr(noise, "apply",
                        lambda name, x, g, corruption: calls.append((name, corruption))
                        or original(name, x, g, corruption))
    cfg = dataclasses.replace(profiles.load(STUDY, "smoke"), subset_size=64, batch_size=32,
                              epochs=1, source_epochs=1, train_size=300, metrics=("cosine",))
    result = runs.run(cfg, CPU)
    assert {c for c in calls} == {(n, "original") for n in cfg.noises}
    assert result["noisy_models"].noise.tolist() == list(cfg.noises)
    assert result["selection"].member.all()
