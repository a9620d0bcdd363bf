"""Study 02's `as_run` settings against the original code (janulm/deep-learning-advanced-
initialization, `final_experiments.ipynb` and `infrastructure.py`).

Every literal below was produced by running the original's own functions on the same small
fixed inputs (its code copied into a scratch file outside this repository, torch 2.14, numpy
2.4): `get_custom_clustering_groups`/`custom_clustering` (alignment and aligned mean),
`create_initialized_model` (both on a whole custom ResNet-18), `generate_gabor_filter` and
`init_gabor_filters` (Gabor), and torch's `ReduceLROnPlateau(optimizer, "max", patience=5)`
stepped on the training loss, as the original's `train` does.
"""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn

from initlab import profiles
from initlab.inits.filters import aligned_mean, gabor, gabor_grid, gabor_kernel, group_mean
from initlab.metrics.matching import greedy_match, match_layer
from initlab.models import build_model
from initlab.studies.clustered_init import design
from initlab.studies.clustered_init.settings import ClusteredInitSettings
from initlab.studies.clustered_init.specs import recipe
from initlab.training.recipe import Recipe, plateau_drops

STUDY = "02_clustered_init"


def fixed_filters() -> list[torch.Tensor]:
    """Four "models" of eight 3x3x3 filters: the inputs the literals below were made from."""
    g = torch.Generator().manual_seed(0)
    return [torch.randn(8, 3, 3, 3, generator=g) for _ in range(4)]


# the original's permutations of the four models (perm[group] = the model's filter index)
ORIGINAL_PERMS = [[0, 1, 2, 3, 4, 5, 6, 7], [2, 3, 6, 7, 1, 5, 4, 0],
                  [6, 7, 4, 1, 3, 0, 2, 5], [6, 1, 0, 4, 2, 5, 3, 7]]


def test_greedy_in_the_originals_order_gives_its_permutations():
    weights = fixed_filters()
    as_run = [p.tolist() for p in match_layer(weights, "greedy", order="groups")]
    assert as_run == ORIGINAL_PERMS
    other = [p.tolist() for p in match_layer(weights, "greedy", order="filters")]
    assert other[0] == ORIGINAL_PERMS[0] and other[1:] != ORIGINAL_PERMS[1:]
    assert all(sorted(p) == list(range(8)) for p in other)


def test_greedy_orders_walk_the_cost_matrix_from_either_side():
    cost = torch.tensor([[1.0, 0.0, 5.0], [0.5, 0.2, 5.0], [9.0, 9.0, 9.0]])
    # groups first: group 0 takes filter 1, group 1 then filter 0
    assert greedy_match(cost, "groups").tolist() == [1, 0, 2]
    # filters first: filter 0 joins group 1 (0.5), filter 1 then group 0 (0.0)
    assert greedy_match(cost, "filters").tolist() == [1, 0, 2]
    assert greedy_match(cost.T.contiguous(), "groups").tolist() == [1, 0, 2]
    tied = torch.zeros(3, 3)
    assert greedy_match(tied, "groups").tolist() == greedy_match(tied, "filters").tolist() == [
        0, 1, 2]  # ties to the lower index, as the original's strict "<"
    with pytest.raises(ValueError, match="greedy order"):
        greedy_match(cost, "rows")


def test_aligned_mean_of_unit_filters_has_the_originals_values():
    weights = fixed_filters()
    aligned = [w[p] for w, p in zip(weights, match_layer(weights, "greedy", "groups"))]
    unit = group_mean(aligned, "unit")
    assert unit.pow(2).mean().sqrt().item() == pytest.approx(0.11144514381885529, rel=1e-6)
    assert unit[0, 0, 0].tolist() == pytest.approx(
        [-0.22072207927703857, -0.07034092396497726, -0.04919255152344704], abs=1e-6)
    raw = group_mean(aligned, "raw")
    assert raw.pow(2).mean().sqrt().item() == pytest.approx(
        torch.stack(aligned).mean(0).pow(2).mean().sqrt().item())
    assert abs(raw.pow(2).mean().sqrt().item() - 0.11144514381885529) > 0.1


def test_aligned_init_of_a_custom_resnet_matches_the_original_on_two_layers():
    sources = [build_model("resnet18", 10, 3, width=1.0, seed=s, custom=True) for s in range(3)]
    stem = match_layer([m.conv1.weight for m in sources], "greedy", "groups")
    assert stem[1][:8].tolist() == [26, 44, 38, 0, 10, 3, 39, 27]
    assert stem[2][:8].tolist() == [27, 58, 37, 47, 13, 38, 19, 7]
    model = build_model("resnet18", 10, 3, width=1.0, seed=123, custom=True)
    aligned_mean(model, sources, 2, "greedy", order="groups", mean="unit")
    expected = {"conv1": (0.051804009824991226, [-0.02697049081325531, 0.04754938185214996,
                                                 0.06401512771844864]),
                "layer1.0.conv1": (0.02507205493748188, [-0.05181369557976723,
                                                         0.029070474207401276,
                                                         -0.01410317700356245])}
    for name, (rms, first) in expected.items():
        weight = model.get_submodule(name).weight
        assert weight.pow(2).mean().sqrt().item() == pytest.approx(rms, rel=1e-5)
        assert weight.flatten()[:3].tolist() == pytest.approx(first, abs=1e-6)


FALLING = [2.3 - 0.1 * epoch for epoch in range(15)]


def drops(schedule: str, losses: list[float], lr_every: int = 6) -> list[int]:
    """The epochs after which a Recipe lowers the rate, trained on `losses`."""
    spec = Recipe(optimizer="sgd", lr=0.01, lr_every=lr_every, lr_factor=0.2,
                  lr_schedule=schedule, epochs=len(losses))
    optimizer = spec.make_optimizer([nn.Parameter(torch.zeros(1))])
    out = []
    for epoch in range(1, len(losses) + 1):
        before = optimizer.param_groups[0]["lr"]
        spec.step_lr(optimizer, epoch, [losses[:epoch]])
        out += [epoch] if optimizer.param_groups[0]["lr"] < before else []
    return out


def torch_plateau(losses: list[float], patience: int) -> list[int]:
    """The original's scheduler itself: ReduceLROnPlateau(mode="max") on each epoch's loss
    (factor 0.9 keeps every drop above torch's eps over these lengths)."""
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.01)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, "max", patience=patience,
                                                           factor=0.9)
    out = []
    for epoch, loss in enumerate(losses, 1):
        before = optimizer.param_groups[0]["lr"]
        scheduler.step(loss)
        out += [epoch] if optimizer.param_groups[0]["lr"] < before else []
    return out


def test_plateau_max_drops_after_epochs_7_and_13_on_a_falling_loss():
    assert torch_plateau(FALLING, patience=5) == [7, 13]
    assert drops("plateau_max", FALLING) == [7, 13]
    assert drops("step", FALLING) == [6, 12]
    assert drops("plateau_max", FALLING, lr_every=2) == [3, 5, 7, 9, 11, 13, 15]
    assert drops("plateau_max", FALLING, lr_every=0) == []


def test_plateau_drops_follow_torchs_scheduler_on_any_loss_sequence():
    rng = random.Random(0)
    for _ in range(500):
        losses = [rng.choice([1.0, 1.00005, 1.1, 0.9, rng.random()])
                  for _ in range(rng.randint(1, 30))]
        patience = rng.randint(0, 5)
        assert plateau_drops(losses, patience) == torch_plateau(losses, patience)


def test_plateau_max_needs_one_models_losses():
    spec = Recipe(optimizer="sgd", lr_every=6, lr_schedule="plateau_max")
    optimizer = spec.make_optimizer([nn.Parameter(torch.zeros(1))])
    with pytest.raises(ValueError, match="one model"):
        spec.step_lr(optimizer, 1, [[1.0], [1.0]])
    with pytest.raises(ValueError, match="lr_schedule"):
        Recipe(lr_schedule="cosine")


def test_the_originals_gabor_grid_and_filters():
    assert gabor_grid(3, "original").tolist() == [-2.0, -0.5, 1.0]
    assert gabor_grid(7, "original").tolist() == pytest.approx(
        [-4.0, -2.833333333333333, -1.6666666666666665, -0.5, 0.666666666666667,
         1.833333333333334, 3.0])
    assert gabor_grid(3).tolist() == [-1.0, 0.0, 1.0]
    kernel = gabor_kernel(3, 2.0, 0.5, 4.0, 1.0, 1.05, grid="original")
    assert kernel.flatten().tolist() == pytest.approx(
        [-0.36220931696231384, 0.2092813825864717, 0.3228600029508558,
         -0.31255208590671407, 0.9369047807323295, -0.3536348747681763,
         0.2752765566194339, 0.4087053832526252, -0.7771815918107554], abs=1e-6)


def two_convs() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(2, 3, 3, bias=False), nn.Conv2d(3, 2, 3, bias=False))


def test_shared_gabor_draws_are_the_originals_and_the_same_for_every_model():
    # the original's init_gabor_filters over both layers: numpy seeds 0, 1, 2, then 3, 4
    model = gabor(two_convs(), layers=2, seed=7, grid="original", draw="shared")
    first, second = model[0].weight, model[1].weight
    assert first[:, 0, 1, 1].tolist() == pytest.approx(
        [-0.9198987483978271, -0.1148785948753357, -0.6337550282478333], abs=1e-6)
    assert first[0, 0, 0].tolist() == pytest.approx(
        [-0.39612576365470886, -0.49322402477264404, -0.1426074057817459], abs=1e-6)
    assert second[:, 0, 0, 0].tolist() == pytest.approx(
        [-0.3079594373703003, -0.43528658151626587], abs=1e-6)
    assert torch.equal(first[:, 0], first[:, 1])  # one 2-D filter on every input channel
    again = gabor(two_convs(), layers=2, seed=8, grid="original", draw="shared")
    assert torch.equal(again[0].weight, first) and torch.equal(again[1].weight, second)
    own = [gabor(two_convs(), layers=2, seed=s)[0].weight for s in (7, 8)]
    assert not torch.equal(own[0], own[1])  # initlab's default: each model its own


def test_as_run_selects_every_original_behaviour_and_the_runs_carry_it():
    cfg = profiles.load(STUDY, "smoke", as_run=True)
    for name, value in ClusteredInitSettings.AS_RUN.items():
        assert getattr(cfg, name) == value, name
    assert cfg.lr_schedule == "plateau_max" and cfg.lr_every == 6  # patience 5
    runs = design.target_runs(cfg, design.conditions(cfg))
    gabor_runs = [r for r in runs if r.init == "gabor"]
    assert gabor_runs and {(r.gabor_grid, r.gabor_draw) for r in gabor_runs} == {
        ("original", "shared")}
    aligned = [r for r in runs if r.init == "aligned"]
    assert {(r.matching, r.align_order, r.align_mean) for r in aligned} == {
        ("greedy", "groups", "unit"), ("optimal", "filters", "unit")}  # optimal: no walk
    assert not any(r.augment for r in runs)
    assert {recipe(r).lr_schedule for r in [*runs, *design.source_runs(cfg)]} == {"plateau_max"}
    fixed = profiles.load(STUDY, "smoke")  # initlab's defaults: the Gabor fixes, augmentation
    assert (fixed.gabor_grid, fixed.gabor_draw, fixed.augment) == ("centred", "per_model", True)
    mine = profiles.load(STUDY, "smoke", as_run=True, align_order="filters")
    assert mine.align_order == "filters" and mine.align_mean == "unit"  # the user's value wins
