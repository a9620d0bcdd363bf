"""`initlab plan`: runs stored and missing, the training work they need (counted from the
studies' `work.trainings`, without data), and a time measured on this device. The runs are
listed by each study's torch-free `design.batches`, which names the functions computing them
(`store.LazyFn`)."""

from __future__ import annotations

import functools
import importlib
import inspect
import pickle

import pytest

from initlab import calibrate, catalog, cli, data, plan, profiles, store
from initlab.studies.warm_start import runs as warm_start
from initlab.training.runtime import Runtime
from initlab.training.work import Training

CPU = Runtime("cpu", progress="off")


def test_plan_counts_stored_and_missing_runs_and_their_image_passes(tmp_path):
    cfg = profiles.load("01_warm_start", "smoke")
    before = plan.plan_study("01_warm_start", cfg, root=tmp_path)
    per_run = 6 * cfg.subset_size * cfg.epochs + 8 * 1438 * cfg.epochs  # noisy + warm starts
    assert (before.total, before.stored, before.missing) == (2, 0, 2)
    assert before.passes == 2 * per_run and len(before.trainings) == 2 * 14
    (batch,) = plan.batches("01_warm_start", cfg)
    first = warm_start.iteration_settings(cfg)[0]
    store.run("01_warm_start", first, batch.fn, runtime=CPU, root=tmp_path)  # runs.run, lazily
    after = plan.plan_study("01_warm_start", cfg, root=tmp_path)
    assert (after.total, after.stored, after.missing, after.passes) == (2, 1, 1, per_run)


def test_a_source_model_trained_inside_runs_is_counted_once():
    cfg = profiles.load("05_parameter_dynamics", "smoke")  # pretrained = checkpoints
    study = plan.plan_study("05_parameter_dynamics", cfg)
    shared = [t for t in study.trainings if t.shared is not None]
    pretrained_cells = [s for s in plan.batches("05_parameter_dynamics", cfg)[0].settings
                        if s.inits == ("pretrained",)]
    # two optimizers per architecture and seed; one checkpoint per architecture and seed, once
    assert len(pretrained_cells) == 2 * len(cfg.archs) * cfg.seeds
    assert len(shared) == len(cfg.archs) * cfg.seeds


def test_the_calibration_counts_flops_and_times_steps():
    model = Training("simple_cnn", 10, 1, 28, images=100, epochs=1, batch_size=32,
                     options=(("image_size", 28),))
    cost = calibrate.measure(model, CPU)
    # conv 1->32 and 32->32 (3x3, 28x28), linear 6272->128 and 128->10, per image, x2 per MAC
    forward = 2 * (28 * 28 * 32 * 9 + 28 * 28 * 32 * 32 * 9 + 6272 * 128 + 128 * 10)
    assert cost.flops == pytest.approx(3 * forward, rel=0.01)
    assert 0 < cost.seconds < 1
    frozen = calibrate.measure(Training(**{**model.__dict__, "frozen": True}), CPU)
    assert frozen.flops == pytest.approx(forward, rel=0.01)


def test_the_catalog_matches_every_data_set_present():
    checked = 0
    for name, shape in catalog.SHAPES.items():
        if name != "digits" and not data.available(name):
            continue
        train, test = data.load(name, "train"), data.load(name, "test")
        assert (train.num_classes, train.in_channels, train.image_size[0]) == \
            (shape.classes, shape.channels, shape.size), name
        assert (len(train), len(test)) == (shape.train, shape.test), name
        checked += 1
    assert checked >= 1
    with pytest.raises(ValueError, match="no published size"):
        catalog.shape("image_folder")


def test_plan_on_the_command_line(capsys):
    assert cli.main(["plan", "01_warm_start", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "profile smoke" in out and "1 CPU thread" in out
    row = next(line for line in out.splitlines() if line.startswith("01_warm_start"))
    assert row.split()[1:4] == ["2", "0", "2"]


def test_the_paper_profile_is_planned_without_its_data(tmp_path, monkeypatch):
    monkeypatch.setenv("INITLAB_DATA", str(tmp_path / "no-data"))
    plans = {study: plan.plan_study(study, profiles.load(study, "paper"))
             for study in plan.PACKAGES}
    # 02: 51 source models and 2,815 target runs (Tiny ImageNet's 15 counted as asked for);
    # 03: a source per data set and 108 VGG11 runs; 04: 2 baselines x 3 seeds and 5 transfer
    # runs; 05: 54 grid cells x 3 seeds
    assert {s: p.total for s, p in plans.items()} == {
        "01_warm_start": 10, "02_clustered_init": 2866, "03_agop_nfm_init": 112,
        "04_baselines_transfer": 11, "05_parameter_dynamics": 162}
    assert all(p.missing == p.total and p.passes > 0 for p in plans.values())
    vgg = {t.size for t in plans["03_agop_nfm_init"].trainings}
    assert vgg == {224}  # ImageNet sources train nothing; every target VGG11 sees 224x224


def test_plan_without_time_builds_no_model(capsys, monkeypatch):
    def no_calibration(*args, **kwargs):
        raise AssertionError("--no-time calibrated a model")

    monkeypatch.setattr(calibrate, "measure", no_calibration)
    assert cli.main(["plan", "01_warm_start", "--no-time"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines()
               if line.startswith("01_warm_start"))
    assert row.split()[1:4] == ["2", "0", "2"] and row.split()[-2:] == ["-", "-"]


def _function(fn):
    """The function a batch's run function (a `LazyFn`, perhaps with bound arguments) calls."""
    if isinstance(fn, functools.partial):
        return _function(fn.func)
    assert isinstance(fn, store.LazyFn), fn  # listing a batch imports no training code
    return fn.resolve()


@pytest.mark.parametrize("study", list(plan.PACKAGES))
def test_a_studys_batches_name_the_functions_that_compute_them(study):
    cfg = profiles.load(study, "smoke")
    listed = plan.batches(study, cfg)
    runs = plan.module(study, "runs")
    assert [(b.study, b.settings) for b in listed] == [(b.study, b.settings)
                                                       for b in runs.batches(cfg)]
    package = f"initlab.studies.{plan.PACKAGES[study]}."
    for batch in listed:
        function = _function(batch.fn)
        assert inspect.isfunction(function) and function.__module__.startswith(package)
        assert getattr(importlib.import_module(function.__module__), function.__name__) \
            is function
        assert _function(pickle.loads(pickle.dumps(batch.fn))) is function  # workers, jobs


def test_a_lazy_function_is_imported_when_called():
    fn = functools.partial(store.LazyFn("math:hypot"), 3)
    assert pickle.loads(pickle.dumps(fn))(4) == 5.0
    with pytest.raises(AttributeError):
        store.LazyFn("math:nosuch")(1)
