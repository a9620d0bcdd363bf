"""Study 05's measures: parameter layouts and counts, distances, change rate and share (against
hand-computed values), histograms, feature correlation and greedy matching, the data layer's
32x32x3 padding, the grid of runs, its recipes and its pretrained checkpoints' names."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from torch import nn

from initlab import data, profiles, store
from initlab.metrics import dynamics
from initlab.metrics.matching import greedy_pairs
from initlab.studies.parameter_dynamics import runs as study
from initlab.studies.parameter_dynamics import sources, work
from initlab.training.recipe import Recipe
from initlab.training.runtime import Runtime

STUDY = "05_parameter_dynamics"


def _model(arch: str, width: float = 1.0, head: str = "small") -> nn.Module:
    return sources.build(arch, 10, width, "imagenet", head, seed=0)


@pytest.mark.parametrize("arch, width, expected", [
    ("lenet5", 1.0, 62_006),        # the study's count on 32x32x3
    ("resnet18", 1.0, 11_181_642),  # torchvision's resnet18 with a 10-way head
    ("vgg19", 1.0, 20_024_384 + 2 * (512 * 512 + 512) + 512 * 10 + 10),  # convs + small head
])
def test_parameter_counts_and_layout_cover_the_flat_vector(arch, width, expected):
    model = _model(arch, width)
    table = dynamics.layout(model)
    assert table.numel.sum() == expected
    assert (table.offset.diff().dropna() == table.numel.iloc[:-1].to_numpy()).all()
    vector = dynamics.flatten(model.state_dict(), list(table.name))
    assert torch.equal(vector, nn.utils.parameters_to_vector(model.parameters()))


def test_layout_kinds_of_a_resnet():
    kinds = dynamics.layout(_model("resnet18", 0.125)).set_index("name").kind
    assert kinds["conv1.weight"] == "conv" and kinds["bn1.weight"] == "norm"
    assert kinds["fc.weight"] == "linear" and kinds["fc.bias"] == "bias"


def _tiny_snapshots():
    """A Linear(2, 2) at three epochs: +3 on w00 and +4 on b1, then +0.0005 on w11."""
    model = nn.Linear(2, 2)
    s0 = {"weight": torch.ones(2, 2), "bias": torch.ones(2)}
    s1 = {"weight": torch.tensor([[4.0, 1.0], [1.0, 1.0]]), "bias": torch.tensor([1.0, 5.0])}
    s2 = {"weight": torch.tensor([[4.0, 1.0], [1.0, 1.0005]]), "bias": torch.tensor([1.0, 5.0])}
    return model, {0: s0, 5: s1, 10: s2}


def test_distances_change_rate_and_share_match_hand_computed_values():
    model, snaps = _tiny_snapshots()
    table = dynamics.layout(model)
    epochs, matrix = dynamics.snapshot_matrix(snaps, list(table.name))
    assert epochs.tolist() == [0, 5, 10] and matrix.shape == (3, 6)
    dist = dynamics.interval_distances(epochs, matrix)
    assert dist.interval.tolist() == ["0-5", "5-10"]
    assert dist.distance.tolist() == pytest.approx([5.0, 0.0005], rel=1e-3)
    assert dist.from_start.iloc[-1] == pytest.approx(math.sqrt(25 + 0.0005 ** 2), rel=1e-6)
    start, end = matrix[0], matrix[-1]
    end_norm = math.sqrt(16 + 1 + 1 + 1.0005 ** 2 + 1 + 25)
    assert dynamics.change_rate(start, end) == pytest.approx(5.0 / end_norm, rel=1e-5)
    # tolerance 1e-3: w00 and b1 changed, w11 (5e-4) did not
    share = dynamics.change_share(start, end, table, 1e-3).set_index("name")
    assert share.loc["weight", "changed"] == 1 and share.loc["weight", "share"] == 0.25
    assert share.loc["bias", "changed"] == 1 and share.loc["bias", "share"] == 0.5
    assert share.loc["bias", "relative_change"] == pytest.approx(4 / math.sqrt(26))
    assert dynamics.overall_share(start, end, 1e-3) == pytest.approx(2 / 6)
    assert dynamics.overall_share(start, end, 1e-4) == pytest.approx(3 / 6)
    sweep = dynamics.share_by_tolerance(start, end, [1e-4, 1e-3, 10.0])
    assert sweep.share.tolist() == pytest.approx([0.5, 1 / 3, 0.0])


def test_weight_mask_and_histograms():
    model = _model("resnet18", 0.125)
    table = dynamics.layout(model)
    vector = dynamics.flatten(model.state_dict(), list(table.name))
    mask = dynamics.weight_mask(table, len(vector))
    assert mask.sum() == table[table.kind.isin(["conv", "linear"])].numel.sum()
    hist = dynamics.histograms(vector[mask], 2 * vector[mask], bins=20)
    counts = hist.groupby("when")["count"].sum()
    assert counts["start"] == counts["end"] == int(mask.sum())
    assert np.allclose(hist.left.iloc[1:20].to_numpy(), hist.right.iloc[:19].to_numpy())


def test_correlation_matches_numpy_and_dead_features_are_found():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 6, generator=g)
    x[:, 5] = 0.0  # a dead unit
    assert dynamics.live(x).tolist() == [True] * 5 + [False]
    ours = dynamics.correlation(x[:, :5]).numpy()
    assert np.allclose(ours, np.corrcoef(x[:, :5].numpy(), rowvar=False), atol=1e-6)
    summary = dynamics.within_summary(x)
    assert summary["dead"] == 1 and summary["features"] == 6


def test_greedy_matching_is_greedy_not_optimal():
    cross = torch.tensor([[0.9, 0.8], [0.85, 0.1]])
    rows, cols, values = greedy_pairs(cross)
    assert list(zip(rows.tolist(), cols.tolist())) == [(0, 0), (1, 1)]  # Hungarian: (0,1),(1,0)
    assert values.tolist() == pytest.approx([0.9, 0.1])


def test_features_of_a_model_with_itself_match_to_the_identity():
    model = _model("lenet5")
    x = torch.randn(300, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    features = dynamics.collect_features(model, x)
    assert features.shape == (300, 84)
    matched = dynamics.matched_correlation(features, features)
    keep = dynamics.live(features)
    assert matched["dead_a"] == int((~keep).sum())
    assert torch.equal(matched["rows"], matched["cols"])
    assert torch.allclose(matched["values"], torch.ones(int(keep.sum())), atol=1e-5)
    assert torch.allclose(matched["matrix"].diagonal(), torch.ones(int(keep.sum())), atol=1e-5)
    # a permuted copy of the same features is matched back to the permutation
    alive = features[:, keep]
    perm = torch.randperm(alive.shape[1], generator=torch.Generator().manual_seed(2))
    live_perm = dynamics.matched_correlation(alive, alive[:, perm])
    assert torch.equal(perm[live_perm["cols"]], live_perm["rows"])


@pytest.mark.parametrize("arch, width, dim", [("lenet5", 1.0, 84), ("resnet18", 0.25, 128),
                                              ("vgg19", 0.125, 64)])
def test_penultimate_is_what_the_last_linear_layer_reads(arch, width, dim):
    model = _model(arch, width).eval()
    x = torch.randn(4, 3, 32, 32)
    features = dynamics.penultimate(model, x)
    assert features.shape == (4, dim)
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    assert torch.allclose(last(features), model(x), atol=1e-5)


def test_padded_rgb_pads_with_background_and_repeats_the_channel():
    digits = data.load("digits", "test").subset(slice(0, 5))
    rgb = digits.padded(32).as_rgb()
    assert rgb.images.shape == (5, 3, 32, 32) and rgb.images.dtype == torch.uint8
    assert rgb.mean == digits.mean * 3 and rgb.std == digits.std * 3
    assert torch.equal(rgb.images[:, :, 2:30, 2:30], digits.images.expand(-1, 3, -1, -1))
    border = torch.ones(32, 32, dtype=torch.bool)
    border[2:30, 2:30] = False
    assert (rgb.images[:, :, border] == 0).all()
    assert rgb.padded(32).as_rgb().images.data_ptr() == rgb.images.data_ptr() or torch.equal(
        rgb.padded(32).as_rgb().images, rgb.images)


def test_cells_name_one_cell_each_and_resolve_the_pretrained_source():
    cfg = profiles.load(STUDY, "paper", archs="lenet5", optimizers="sgd")
    cells = study.cells(cfg)
    assert len(cells) == 3 * 3 * 3  # data sets x inits x seeds
    assert sorted({c.seed for c in cells}) == [0, 1, 2]
    assert len({store.run_name(c) for c in cells}) == len(cells)
    assert all(len(c.archs) == len(c.datasets) == len(c.inits) == 1 for c in cells)
    resolved = {c.datasets[0]: c.pretrain_source for c in cells
                if c.inits == ("pretrained",) and c.seed == 0}
    assert resolved == {"mnist": "fashion_mnist", "fashion_mnist": "cifar10", "cifar10": "mnist"}
    assert all(c.pretrain_source == "" for c in cells if c.inits != ("pretrained",))
    assert sources.source_spec(cells[2], "lenet5", "mnist").dataset == "fashion_mnist"
    assert {sources.source_spec(c, "lenet5", "mnist").seed for c in cells
            if c.inits == ("pretrained",) and c.datasets == ("mnist",)} == {0, 1, 2}
    with pytest.raises(ValueError, match="another data set"):
        study.cells(profiles.load(STUDY, "paper", datasets="mnist"))
    with pytest.raises(ValueError, match="snapshot_epochs"):
        study.cells(profiles.load(STUDY, "smoke", epochs=3))


def test_imagenet_weights_are_tried_only_where_they_fit():
    paper = profiles.load(STUDY, "paper")
    assert sources.imagenet_fits(paper, "resnet18")
    assert not sources.imagenet_fits(paper, "lenet5")
    assert sources.imagenet_fits(paper, "vgg19")  # torchvision's VGG19 in paper
    assert not sources.imagenet_fits(profiles.load(STUDY, "paper", vgg_head="small"), "vgg19")
    assert not sources.imagenet_fits(profiles.load(STUDY, "quick"), "resnet18")
    assert profiles.load(STUDY, "quick").vgg_head == "small"  # the narrow VGG19: a quick choice


def test_padding_only_taps_of_a_conv_on_a_1x1_map_and_of_resnet18_on_32x32():
    conv = nn.Conv2d(2, 3, 3, padding=1)
    mask = dynamics.padding_only_taps(conv, torch.zeros(1, 2, 1, 1))
    weight = mask[: conv.weight.numel()].view(conv.weight.shape)
    assert weight[:, :, 1, 1].sum() == 0 and weight.sum() == 2 * 3 * 8
    assert not mask[conv.weight.numel():].any()  # biases always move
    # ResNet-18 on 32x32 (ImageNet stem): layer4 sees 2x2 then 1x1 maps. layer4.0.conv1
    # (stride 2 on 2x2) uses 4 of 9 taps; its conv2 and layer4.1's convs only the centre.
    model = _model("resnet18")
    frozen = int(dynamics.padding_only_taps(model, torch.zeros(1, 3, 32, 32)).sum())
    assert frozen == 256 * 512 * 5 + 3 * 512 * 512 * 8
    assert frozen / 11_181_642 == pytest.approx(0.6213, abs=1e-4)
    assert not dynamics.padding_only_taps(_model("lenet5"), torch.zeros(1, 3, 32, 32)).any()


def test_a_run_stores_flat_float32_snapshots_features_and_the_sign_flip_jump():
    cfg = profiles.load(STUDY, "smoke", archs="lenet5", inits="kaiming_uniform",
                        optimizers="sgd", perturbations="sign_flip", seeds=1)
    (cell,) = study.cells(cfg)
    result = study.run(cell, Runtime(device="cpu", progress="off"))
    assert result["snapshots"].dtype == torch.float32
    assert result["snapshots"].shape == (3, 62_006)
    assert result["snapshot_epochs"].tolist() == [0, 1, 2]
    assert result["layout"].numel.sum() == 62_006
    assert result["features"].shape == (128, 84) and result["features"].dtype == torch.float16
    row = result["perturbation"].iloc[0]
    trained_norm = float(result["snapshots"][-1].norm())
    assert row.jump == pytest.approx(2 * trained_norm, rel=1e-5)
    assert row.norm_trained == pytest.approx(trained_norm, rel=1e-6)
    assert result["features_sign_flip"].shape == (128, 84)


def test_recipes_follow_the_original_optimizer_settings():
    paper = profiles.load(STUDY, "paper")
    assert paper.recipe("resnet18", "sgd") == Recipe(optimizer="sgd", lr=0.005, momentum=0.9,
                                                     eps=1e-8, epochs=20, batch_size=128,
                                                     precision="float32")
    assert paper.recipe("lenet5", "adam").eps == 1e-8
    assert paper.recipe("vgg19", "adam").eps == 0.1  # the original's VGG19 + Adam setting
    assert paper.recipe("vgg19", "sgd").eps == 1e-8
    assert paper.recipe("lenet5", "adam", epochs=3).epochs == 3
    smoke = profiles.load(STUDY, "smoke")
    assert smoke.recipe("lenet5", "sgd").batch_size == 64
    assert smoke.recipe("lenet5", "sgd").epochs == 2


def test_a_checkpoint_is_named_by_its_training_recipe():
    cells = study.cells(profiles.load(STUDY, "smoke"))
    pretrained = {c.archs[0]: c for c in cells if c.inits == ("pretrained",)}
    spec = sources.source_spec(pretrained["lenet5"], "lenet5", "digits")
    assert spec.recipe == Recipe(optimizer="sgd", lr=0.005, momentum=0.9, eps=1e-8, epochs=1,
                                 batch_size=64, precision="float32")
    assert store.hashed_settings(spec)["recipe"] == {"optimizer": "sgd", "lr": 0.005,
                                                     "precision": "float32"}  # vs Recipe()
    other = dataclasses.replace(spec, recipe=dataclasses.replace(spec.recipe, lr=0.01))
    assert store.run_name(other) != store.run_name(spec)


def test_data_loads_fresh_and_the_same_whatever_the_thread_count():
    """digits computes its normalization stats on load (in float64, so the thread count that
    a float32 sum would follow does not matter), and a load never changes the count."""
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(4)
        many = sources.rgb32("digits", "train")
        assert torch.get_num_threads() == 4
        torch.set_num_threads(1)
        one = sources.rgb32("digits", "train")
    finally:
        torch.set_num_threads(before)
    assert many.mean == one.mean and many.std == one.std
    assert many is not one and many.images.data_ptr() != one.images.data_ptr()  # no shared cache


def test_every_profile_replicates_and_perturbs_every_init_by_default():
    seeds = {p: profiles.load(STUDY, p).seeds for p in ("smoke", "quick", "paper")}
    assert seeds["paper"] >= 3 and seeds["quick"] >= 2 and seeds["smoke"] == 2
    paper = profiles.load(STUDY, "paper")
    assert paper.perturb_inits == () and all(paper.perturbs(i) for i in paper.inits)
    only = profiles.load(STUDY, "paper", perturb_inits="kaiming_uniform")
    assert only.perturbs("kaiming_uniform") and not only.perturbs("pretrained")
    # the original's 54 trained models each retrained after a sign flip and a distortion: 108
    flips = [t for c in study.cells(dataclasses.replace(paper, seeds=1))
             for t in work.trainings(c)[1:] if t.shared is None]  # [0]: the cell's training
    assert len(flips) == 54 * len(paper.perturbations) and "none" in paper.perturbations
    with pytest.raises(ValueError, match="precision"):
        profiles.load(STUDY, "smoke", precision="fp8")


def test_missing_runs_are_computed_in_chunks_that_fit_the_load_budget():
    paper = profiles.load(STUDY, "paper")
    grid = study.cells(paper)
    sizes = {c.archs[0]: study.result_bytes(c) for c in grid}
    # torchvision's VGG19: five float32 snapshots of 139,611,210 parameters, 4096 features
    assert sizes["vgg19"] == 4 * 139_611_210 * 5 + 2 * 10_000 * 4096 * 4
    assert sizes["lenet5"] < 2**20 * 10 < sizes["resnet18"] < sizes["vgg19"]
    chunks = study.chunks(grid, 8 * 2**30)
    assert [c for chunk in chunks for c in chunk] == grid  # every run once, in order
    assert all(sum(map(study.result_bytes, chunk)) <= 8 * 2**30 for chunk in chunks)
    assert len(study.chunks(study.cells(profiles.load(STUDY, "quick")), study.LOAD_BUDGET)) == 1


def test_compute_trains_only_the_missing_runs_in_chunks_and_never_when_rendering(monkeypatch):
    cfg = profiles.load(STUDY, "smoke")
    grid = study.cells(cfg)
    stored = {store.run_name(grid[0])}
    monkeypatch.setattr(store, "is_done", lambda _, s, root=None: store.run_name(s) in stored)
    sent = []
    monkeypatch.setattr(store, "run_many", lambda _, chunk, fn, runtime=None: sent.append(chunk))
    monkeypatch.setattr(study, "LOAD_BUDGET", 3 * study.result_bytes(grid[-1]))
    assert study.compute(cfg) == grid
    assert [s for chunk in sent for s in chunk] == grid[1:] and len(sent) > 1
    assert all(sum(map(study.result_bytes, chunk)) <= study.LOAD_BUDGET for chunk in sent)
    sent.clear()
    with pytest.raises(store.MissingRunError, match="initlab run 05_parameter_dynamics"):
        study.compute(cfg, train=False)
    assert sent == []
