"""Study 05's settings checks (issue 23): every field's range and its relations to the other
fields fail in `profiles.load`, before any kernel starts, with one ValueError line that names
the field."""

from __future__ import annotations

import dataclasses

import pytest

from initlab import profiles
from initlab.studies.parameter_dynamics.settings import ParameterDynamicsSettings

STUDY = "05_parameter_dynamics"
NAN, INF = float("nan"), float("inf")

BAD = [  # (field, value): each must fail under `smoke` with the field's name in the message
    ("archs", "lenet5,nosuch"), ("archs", "lenet5,lenet5"), ("archs", ()),
    ("datasets", "tiny_imagenet"), ("datasets", "image_folder"), ("datasets", "digits,digits"),
    ("inits", "nosuch"), ("inits", "kaiming_uniform,kaiming_uniform"),
    ("init_options", "{nosuch: {gain: 2}}"),
    ("optimizers", "rmsprop"), ("optimizers", ()),
    ("width", NAN), ("width", 0.0), ("width", -1.0), ("width", 1e9), ("width", INF),
    ("resnet_stem", "nosuch"), ("vgg_head", "nosuch"), ("conv_bias", "nosuch"),
    ("precision", "fp8"), ("correlation", "spearman"),
    ("epochs", 0), ("epochs", -2), ("epochs", 10**9),
    ("snapshot_epochs", (0, 1)), ("snapshot_epochs", (1, 2)), ("snapshot_epochs", (0, 2, 3)),
    ("snapshot_epochs", (0, -1, 2)), ("snapshot_epochs", (0, 1, 1, 2)),
    ("batch_size", 0), ("batch_size", -1), ("batch_size", 129), ("batch_size", 10**9),
    ("lr_sgd", NAN), ("lr_sgd", 0.0), ("lr_sgd", -1.0), ("lr_sgd", 1e-400), ("lr_sgd", 1e9),
    ("lr_adam", NAN), ("lr_adam", 0.0), ("lr_adam", -1.0), ("lr_adam", INF),
    ("momentum", NAN), ("momentum", -5.0), ("momentum", 1.0), ("momentum", 1e9),
    ("adam_eps", NAN), ("adam_eps", 0.0), ("adam_eps", -1.0), ("adam_eps", 1e9),
    ("vgg_adam_eps", NAN), ("vgg_adam_eps", 0.0), ("vgg_adam_eps", 1e9),
    ("train_size", -1), ("train_size", 1439), ("train_size", 10**9),
    ("test_size", -1), ("test_size", 360), ("test_size", 10**9),
    ("pretrained", "nosuch"), ("pretrain_source", "nosuch"),
    ("pretrain_source", "tiny_imagenet"),
    ("pretrain_epochs", 0), ("pretrain_epochs", -1), ("pretrain_epochs", 10**9),
    ("pretrain_optimizer", "rmsprop"),
    ("perturb_inits", "kaiming_normal"), ("perturbations", "nosuch"),
    ("perturbations", "sign_flip,sign_flip"),
    ("distortion", NAN), ("distortion", 0.0), ("distortion", -1.0), ("distortion", 1e9),
    ("retrain_epochs", 0), ("retrain_epochs", -1), ("retrain_epochs", 10**9),
    ("feature_samples", 0), ("feature_samples", 1), ("feature_samples", -1),
    ("feature_samples", 129), ("feature_samples", 10**9),
    ("seed", -1), ("seed", 10**12),
    ("seeds", 0), ("seeds", -1), ("seeds", 10**9),
    ("tolerance", NAN), ("tolerance", 0.0), ("tolerance", -1.0), ("tolerance", 1e9),
    ("tolerance_sweep", (1e-3, NAN)), ("tolerance_sweep", (0.0,)), ("tolerance_sweep", ()),
    ("tolerance_sweep", (1e9,)),
    ("histogram_bins", 0), ("histogram_bins", -1), ("histogram_bins", 10**9),
]


def _not_a_float(value) -> bool:
    """nan, infinity and 1e-400 (0.0 once parsed): the settings' coercion refuses these
    itself (a TypeError naming the setting) before the class's checks see them."""
    values = value if isinstance(value, tuple) else (value,)
    return any(isinstance(v, float) and (v != v or v in (INF, -INF) or v == 1e-400)
               for v in values)


@pytest.mark.parametrize("field, value", BAD, ids=[f"{f}={v!r}" for f, v in BAD])
def test_a_bad_value_fails_in_load_naming_its_field(field, value):
    expected = (ValueError, TypeError) if _not_a_float(value) else ValueError
    with pytest.raises(expected, match=field) as error:
        profiles.load(STUDY, "smoke", **{field: value})
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("field, value", [(f, v) for f, v in BAD if _not_a_float(v)])
def test_the_class_itself_refuses_what_coercion_refuses(field, value):
    """A notebook's or a test's settings built without `profiles.load` are checked too."""
    cfg = profiles.load(STUDY, "smoke")
    if value == 1e-400:
        value = 0.0
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(cfg, **{field: value})


def test_every_field_is_covered_and_the_profiles_and_as_run_are_valid():
    names = {f.name for f in dataclasses.fields(ParameterDynamicsSettings)}
    checked = {f for f, _ in BAD} | {"init_spec", "normalize", "as_run"}
    assert names == checked  # a new field needs its bad values here
    for profile in ("smoke", "quick", "paper"):
        profiles.load(STUDY, profile)
        profiles.load(STUDY, profile, as_run=True)


def test_values_at_the_edges_that_are_genuinely_valid():
    for field, value in (("train_size", 0), ("test_size", 0), ("seed", 0), ("momentum", 0.0),
                         ("train_size", 1438), ("test_size", 359), ("feature_samples", 2),
                         ("perturbations", ()), ("batch_size", 128)):
        assert getattr(profiles.load(STUDY, "smoke", **{field: value}), field) == value


def test_pretrained_needs_another_data_set_and_bools_and_specs_are_typed():
    with pytest.raises(ValueError, match="pretrain_source"):
        profiles.load(STUDY, "smoke", pretrain_source="")  # digits alone, pretrained init
    profiles.load(STUDY, "smoke", pretrain_source="", inits="kaiming_uniform")
    cfg = profiles.load(STUDY, "smoke")
    for field, value in (("normalize", "yes"), ("as_run", 1), ("init_spec", "kaiming_normal")):
        with pytest.raises(ValueError, match=field):
            dataclasses.replace(cfg, **{field: value})


def test_perturb_inits_names_a_subset_and_its_cells_perturb_only_those():
    from initlab.studies.parameter_dynamics import runs

    cfg = profiles.load(STUDY, "smoke", perturb_inits="kaiming_uniform")
    cells = {c.inits[0]: c for c in runs.cells(dataclasses.replace(cfg, seeds=1))
             if c.archs == ("lenet5",)}
    assert cells["kaiming_uniform"].perturbs("kaiming_uniform")
    assert not cells["pretrained"].perturbs("pretrained")
    assert cells["pretrained"].perturbations == () and cells["pretrained"].perturb_inits == ()
