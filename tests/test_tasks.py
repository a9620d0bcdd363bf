"""Study 02's superclass tasks and pools, its run specs' recipes and its source models."""

from __future__ import annotations

import pytest
import torch

from initlab import data, profiles, store
from initlab.inits.clustered import fit_clusters, layer_slices
from initlab.seeds import derive_seed
from initlab.studies.clustered_init import design, runs, tasks
from initlab.studies.clustered_init.specs import STUDY, SourceRun, recipe
from initlab.training.recipe import Recipe
from initlab.training.runtime import Runtime


def test_cifar100_groups_are_the_twenty_superclasses_of_five_fine_classes():
    groups = tasks.groups("cifar100")
    assert sorted(groups) == list(range(20))
    assert all(len(fine) == 5 for fine in groups.values())
    assert sorted(f for fine in groups.values() for f in fine) == list(range(100))
    assert groups[4] == (0, 51, 53, 57, 83)  # fruit_and_vegetables: apple, mushroom, orange, ...
    assert tasks.pools("cifar100") == (tuple(range(10)), tuple(range(10, 20)))
    assert len(tasks.source_tasks("cifar100")) == 45
    assert tasks.task_classes("cifar100", (4, 1)) == sorted(groups[1] + groups[4])


def test_ten_class_sets_use_classes_0_to_4_as_sources_and_5_to_9_as_targets():
    assert tasks.pools("fashion_mnist") == ((0, 1, 2, 3, 4), (5, 6, 7, 8, 9))
    assert tasks.source_tasks("digits")[:2] == [(0, 1), (0, 2)]
    assert len(tasks.source_tasks("digits")) == 10
    with pytest.raises(ValueError, match="superclass tasks"):
        tasks.groups("svhn_extra")


def test_target_pairs_are_a_seeded_draw_of_distinct_target_pairs():
    a = tasks.draw_target_pairs("cifar100", 10, seed=3)
    assert a == tasks.draw_target_pairs("cifar100", 10, seed=3)
    assert a != tasks.draw_target_pairs("cifar100", 10, seed=4)
    assert len(set(a)) == 10 and all(10 <= s1 < s2 <= 19 for s1, s2 in a)
    order = tasks.source_order("cifar100", 0)
    ascending = tasks.source_tasks("cifar100")
    assert sorted(order) == ascending and order != ascending
    with pytest.raises(ValueError, match="target pairs"):
        tasks.draw_target_pairs("digits", 11, seed=0)


def test_a_task_keeps_its_classes_relabelled_in_ascending_order_and_subsamples_per_class():
    full = data.load("digits", "train")
    task = tasks.make_task("digits", (7, 5), "train")
    assert task.classes == ("5", "7") and task.num_classes == 2
    assert len(task) == int(((full.labels == 5) | (full.labels == 7)).sum())
    fives = full.images[full.labels == 5]
    assert torch.equal(task.images[task.labels == 0], fives)
    small = tasks.make_task("digits", (5, 7), "train", per_class_limit=20, seed=1, image_size=16)
    assert torch.bincount(small.labels).tolist() == [20, 20]
    assert small.image_size == (16, 16) and small.images.dtype == torch.uint8


def test_cifar100_task_is_ten_fine_classes_when_the_data_is_there():
    if not data.available("cifar100"):
        with pytest.raises(data.DataUnavailableError):
            tasks.cifar100_task(0, 1)
        return
    task = tasks.cifar100_task(0, 1, "test")
    assert task.num_classes == 10 and len(task) == 1000


def test_recipes_are_sgd_with_the_source_and_target_plateau_schedules():
    cfg = profiles.load("02_clustered_init", "paper")
    target = design.template(cfg)
    source = design.source_runs(cfg)[0]
    common = dict(optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=1e-4, batch_size=128,
                  lr_every=6, lr_schedule="plateau_max", precision="float32")
    assert recipe(source) == Recipe(**common, epochs=25, lr_factor=0.5)
    assert recipe(target) == Recipe(**common, epochs=15, lr_factor=0.2)
    quick = profiles.load("02_clustered_init", "quick")
    assert recipe(design.source_runs(quick)[0]).lr_every == 2
    assert recipe(design.template(quick)).epochs == 4


def tiny_source(task: tuple[int, int]) -> SourceRun:
    return SourceRun(dataset="digits", task=task, width=0.0625, image_size=16, train_size=40,
                     test_size=20, batch_size=16, epochs=1, augment=False)


def test_source_models_are_fresh_copies_of_the_stored_weights():
    spec = tiny_source((0, 1))
    with pytest.raises(store.MissingRunError):
        runs.source_model(spec, train=False)
    first = runs.source_model(spec, Runtime(device="cpu", progress="off"))
    stored = store.model_state(store.run(STUDY, spec, runs.run_source, train=False))[
        "conv1.weight"]
    assert torch.equal(first.conv1.weight, stored)
    with torch.no_grad():
        first.conv1.weight.add_(1.0)  # a caller changing its model ...
    again = runs.source_model(spec, train=False)
    assert torch.equal(again.conv1.weight, stored)  # ... changes nobody else's
    assert again.conv1.weight.data_ptr() != first.conv1.weight.data_ptr()
    with pytest.raises(TypeError):
        runs.source_state(spec, train=False)["conv1.weight"] = stored  # read-only mapping


def test_cached_clusterings_equal_k_means_on_the_source_models_slices():
    specs = (tiny_source((0, 1)), tiny_source((0, 2)))
    for spec in specs:
        runs.ensure_source(spec, Runtime(device="cpu", progress="off"))
    models = [runs.source_model(s, train=False) for s in specs]
    for index in (0, 3):
        fitted = runs.fitted_layer(specs, index, 2, "euclidean", 0)
        seed = derive_seed(specs[0].seed, "kmeans", index, 2, "euclidean")
        direct = fit_clusters(layer_slices(models, index), 2, "euclidean", seed)
        assert torch.equal(fitted.labels, direct.labels)
        assert torch.equal(fitted.centres, direct.centres)
