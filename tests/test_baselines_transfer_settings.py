"""Study 04's settings as they reach the runs: baseline seeds, the protocol's linear head, the
precision setting in every recipe, and the t-SNE the frozen-backbone variants share."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from initlab import profiles, store
from initlab.data import ImageSet
from initlab.models import build_model
from initlab.studies.baselines_transfer import runs as study
from initlab.studies.baselines_transfer import transfer
from initlab.studies.baselines_transfer.settings import BaselinesTransferSettings
from initlab.training.runtime import Runtime

CPU = Runtime("cpu", progress="off")


def grey_set(n: int, classes: int, side: int) -> ImageSet:
    """`n` random grey images, labels cycling over `classes` (seeded)."""
    images = torch.randint(0, 256, (n, 1, side, side), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    return ImageSet(images, torch.arange(n) % classes, tuple("abcdefgh"[:classes]), (0.3,),
                    (0.2,), "grey")


def test_every_profile_repeats_the_baselines_over_seeds():
    counts = {p: profiles.load(study.STUDY, p).seeds for p in ("smoke", "quick", "paper")}
    assert counts["paper"] >= 3 and counts["quick"] >= 2 and counts["smoke"] >= 2
    cfg = dataclasses.replace(profiles.load(study.STUDY, "smoke"), seed=7, seeds=3)
    runs = study.baseline_runs(cfg)
    assert [(r.model, r.seed) for r in runs] == [
        (m, s) for s in (7, 8, 9) for m in ("simple_cnn", "reduced_alexnet")]
    assert len({store.run_name(r) for r in runs}) == 6
    no_alexnet = study.baseline_runs(dataclasses.replace(cfg, alexnet_dataset=""))
    assert [r.seed for r in no_alexnet] == [7, 8, 9]


def test_more_seeds_keep_the_stored_runs_of_the_first():
    cfg = profiles.load(study.STUDY, "smoke")
    two, three = (study.baseline_runs(dataclasses.replace(cfg, seeds=n)) for n in (2, 3))
    assert [store.run_name(r) for r in three[:4]] == [store.run_name(r) for r in two]
    assert store.run_name(cfg) == store.run_name(dataclasses.replace(cfg, seeds=5))


def test_the_head_is_a_new_linear_layer_unless_asked_for_the_mlp():
    for profile in ("smoke", "quick", "paper"):
        assert profiles.load(study.STUDY, profile).head == "linear"
        assert study.transfer_runs(profiles.load(study.STUDY, profile))[0].plan().head == "linear"
    mlp = profiles.load(study.STUDY, "smoke", head="mlp")
    assert {r.plan().head for r in study.transfer_runs(mlp)} == {"mlp"}
    with pytest.raises(ValueError, match="head"):
        BaselinesTransferSettings(head="deep")


def test_precision_reaches_every_recipe_and_names_the_runs():
    cfg = profiles.load(study.STUDY, "smoke", precision="bf16")
    assert {r.recipe().precision for r in study.baseline_runs(cfg)} == {"bf16"}
    assert study.source_run(cfg).recipe().precision == "bf16"
    plan = study.transfer_runs(cfg)[0].plan()
    assert plan.recipe("scratch").precision == plan.recipe("head").precision == "bf16"
    default = profiles.load(study.STUDY, "smoke")
    assert default.precision == "float32" and plan.recipe("head_aug").precision == "bf16"
    assert {profiles.load(study.STUDY, p).precision for p in profiles.PROFILES} == {"float32"}
    assert {r.recipe().precision for r in study.baseline_runs(default)} == {"float32"}
    auto = profiles.load(study.STUDY, "smoke", precision="auto")
    for make in (study.baseline_runs, lambda c: [study.source_run(c)], study.transfer_runs):
        named = [store.run_name(r) for r in make(cfg)]
        assert not set(named) & {store.run_name(r) for r in make(default)}
        # "auto" is the run classes' own default; float32 is named in every run's settings,
        # so no run computed under bf16 autocast is taken for a float32 one
        assert all("precision" not in store.hashed_settings(r) for r in make(auto))
        assert all(store.hashed_settings(r)["precision"] == "float32" for r in make(default))
    with pytest.raises(ValueError, match="precision"):
        profiles.load(study.STUDY, "smoke", precision="half")


def test_feature_source_shares_the_svm_features_only_with_a_linear_head():
    assert [transfer.feature_source(v, "linear") for v in transfer.VARIANTS] == [
        "scratch", "svm", "svm", "svm"]
    assert [transfer.feature_source(v, "mlp") for v in transfer.VARIANTS] == list(
        transfer.VARIANTS)
    with pytest.raises(ValueError, match="unknown variant"):
        transfer.feature_source("head", "conv")


def test_with_a_linear_head_the_fine_tuned_variants_read_the_svm_features():
    train = transfer.as_rgb(grey_set(24, 2, 32), 32)
    val = transfer.as_rgb(grey_set(10, 2, 32), 32)

    def backbone(pretrained: bool):
        torch.manual_seed(123 if pretrained else 5)
        return transfer.strip_head(build_model("resnet18", 4, 3, width=0.125))

    features = {}
    for head in ("linear", "mlp"):
        plan = transfer.TransferPlan.adam(1e-3, batch_size=8, scratch_epochs=1, head_epochs=1,
                                          head=head)
        for variant in ("svm", "head"):
            features[head, variant] = transfer.run_variant(variant, backbone, train, val,
                                                           plan, CPU, seed=0).features
    assert torch.equal(features["linear", "head"], features["linear", "svm"])
    assert features["mlp", "head"].shape == (10, transfer.HIDDEN)


def test_a_transfer_run_embeds_shared_features_once():
    cfg = dataclasses.replace(profiles.load(study.STUDY, "smoke"), image_size=16,
                              source_epochs=1, scratch_epochs=1, head_epochs=1, transfer_seeds=1,
                              task_train_size=40, task_val_size=30, source_train_size=200)
    (run,) = study.transfer_runs(cfg)
    result = study.run_transfer(run, CPU, source_settings=study.source_run(cfg))
    probes = result["embedding"].set_index("variant")
    assert probes.features.tolist() == ["scratch", "svm", "svm", "svm"]
    for variant in ("head", "head_aug"):
        assert torch.equal(result[f"tsne_{variant}"], result["tsne_svm"])
        assert probes.accuracy[variant] == probes.accuracy["svm"]
    assert not torch.equal(result["tsne_scratch"], result["tsne_svm"])


def test_first_seed_keeps_one_run_per_model_and_the_words_name_head_and_seeds():
    cfg = profiles.load(study.STUDY, "smoke")
    baselines = study.baseline_runs(cfg)
    runs = study.StudyRuns(baselines, [dict(index=i) for i in range(len(baselines))], None,
                           None, [], [])
    first, results = runs.first_seed()
    assert [(r.model, r.seed) for r in first] == [("simple_cnn", 0), ("reduced_alexnet", 0)]
    assert results == [dict(index=0), dict(index=1)]
    words = study.describe(cfg)
    assert "**Head** of the fine-tuned variants: a new linear layer" in words
    assert "**Seeds:** 2 per baseline, 2 for the transfer variants" in words
    assert "features -> 128 -> classes" in study.describe(dataclasses.replace(cfg, head="mlp"))
