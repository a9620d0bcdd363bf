"""Study 02's superclass tasks and pools."""

from __future__ import annotations

import pytest
import torch

from initlab import data, tasks


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
