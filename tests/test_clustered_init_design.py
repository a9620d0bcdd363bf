"""Study 02's design and initializations: Figure 8's first-layer-only runs, one k-means draw per
seed, Tiny ImageNet without augmentation, and the precision setting reaching every recipe."""

from __future__ import annotations

import pytest
import torch

from initlab import profiles
from initlab.inits.clustered import main_convs
from initlab.seeds import derive_seed
from initlab.studies.clustered_init import design, runs
from initlab.studies.clustered_init.specs import recipe, sources_of
from initlab.training.runtime import Runtime

STUDY = "02_clustered_init"


def test_figure_8_conditions_are_in_the_design_even_where_the_sweeps_leave_l1_out():
    cfg = profiles.load(STUDY, "smoke", gabor_layers="17", sweep_layers="17")
    first = design.first_layer_conditions(cfg)
    assert [design.label(c) for c in first] == [
        "random", "Gabor L=1", "euclidean N=3 K=2 L=1", "fourier_abs N=3 K=2 L=1"]
    assert all(c in design.conditions(cfg) for c in first)
    assert all(c.get("layers") == 1 for c in first[1:])  # they set the stem alone
    labels = [design.label(r) for r in design.target_runs(cfg, design.conditions(cfg))]
    assert all(labels.count(design.label(c)) == cfg.targets * cfg.runs for c in first)
    # the paper design already held them: nothing added, nothing repeated
    paper = design.conditions(profiles.load(STUDY, "paper"))
    assert len(paper) == 2 + 5 + 3 * 14 + 1 + 6
    assert len({design.label(c) for c in paper}) == len(paper)


def test_each_seed_lists_its_tasks_together_and_tiny_imagenet_has_no_augmentation():
    cfg = profiles.load(STUDY, "smoke", runs=2, targets=3)
    specs = design.target_runs(cfg, [dict(init="random")])
    assert [s.seed for s in specs] == [0, 0, 0, 1, 1, 1]
    assert len({s.task for s in specs[:3]}) == 3
    assert cfg.augment and all(s.augment for s in specs)
    tiny = design.tiny_runs(cfg)
    assert tiny and not any(s.augment for s in tiny)


def test_precision_reaches_every_recipe_and_is_checked():
    cfg = profiles.load(STUDY, "smoke", precision="bf16")
    specs = [*design.source_runs(cfg), *design.target_runs(cfg, design.conditions(cfg)),
             *design.tiny_runs(cfg)]
    assert {recipe(s).precision for s in specs} == {"bf16"}
    for profile in ("smoke", "quick", "paper"):  # float32 unless asked: the original's
        defaults = profiles.load(STUDY, profile)
        assert {recipe(s).precision for s in design.source_runs(defaults)} == {"float32"}
    with pytest.raises(ValueError, match="precision"):
        profiles.load(STUDY, "smoke", precision="fp16")


@pytest.fixture(scope="module")
def stored_sources(tmp_path_factory):
    """Two tiny source models trained into a store of this module, and settings drawing on
    them (K = 3 clusters, two seeds on two tasks)."""
    store = tmp_path_factory.mktemp("store")
    monkey = pytest.MonkeyPatch()
    monkey.setenv("INITLAB_STORE", str(store))
    cfg = profiles.load(STUDY, "smoke", source_models=2, n_sources=2, sweep_sources=2,
                        source_epochs=1, train_size=40, test_size=20, width=0.0625,
                        distances="euclidean", clusters=3, runs=2)
    for spec in design.source_runs(cfg)[:2]:
        runs.ensure_source(spec, Runtime(device="cpu", progress="off"))
    yield cfg, str(store)
    monkey.undo()


def test_figure_8_runs_change_the_first_conv_layer_only(stored_sources, monkeypatch):
    cfg, store = stored_sources
    monkeypatch.setenv("INITLAB_STORE", store)
    for cond in design.first_layer_conditions(cfg):
        spec = design.target_runs(cfg, [cond])[0]
        reference, _ = runs.task_data(spec)
        model = runs.initialized_model(spec, reference, train=False)
        base = runs.new_model(spec, reference,
                              derive_seed(spec.seed, "target-model", *spec.task))
        changed = {name for (name, a), b in zip(model.state_dict().items(),
                                                 base.state_dict().values())
                   if not torch.equal(a, b)}
        assert changed == (set() if cond["init"] == "random" else {"conv1.weight"}), cond


def drawn_from(weight: torch.Tensor, centres: torch.Tensor) -> bool:
    """Whether every k x k slice of `weight` is one of `centres`."""
    slices = weight.reshape(-1, 1, weight.shape[-2] * weight.shape[-1])
    gaps = (slices - centres.reshape(1, len(centres), -1)).abs().amax(-1)
    return bool((gaps.min(1).values < 1e-6).all())


def test_each_seed_draws_its_own_reproducible_clustering(stored_sources, monkeypatch):
    cfg, store = stored_sources
    monkeypatch.setenv("INITLAB_STORE", store)
    cond = design.clustered(cfg, "euclidean", 2, 3, 4)
    specs = design.target_runs(cfg, [cond])  # seed 0 on two tasks, then seed 1
    sources = tuple(sources_of(specs[0], 2))
    fits = {}
    for seed in (0, 1):
        fits[seed] = runs.fitted_layer(sources, 3, 3, "euclidean", 0, seed)
        runs.fitted_layer.cache_clear()
        again = runs.fitted_layer(sources, 3, 3, "euclidean", 0, seed)  # computed afresh
        assert torch.equal(fits[seed].centres, again.centres)
        assert torch.equal(fits[seed].labels, again.labels)
    assert not torch.equal(fits[0].labels, fits[1].labels)  # two k-means draws
    assert runs.kmeans_seed(0, 3, 3, "euclidean") != runs.kmeans_seed(1, 3, 3, "euclidean")
    for spec in specs:  # every run draws its layer from its own seed's clustering
        reference, _ = runs.task_data(spec)
        model = runs.initialized_model(spec, reference, train=False)
        weight = main_convs(model)[3][1].weight.detach()
        assert drawn_from(weight, fits[spec.seed].centres), spec.seed
        assert not drawn_from(weight, fits[1 - spec.seed].centres), spec.seed
