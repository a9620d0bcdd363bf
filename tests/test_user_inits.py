"""A user's own initializer: named, imported, hashed into run names, given options; and the
two worked examples, orthogonal (W W^T = gain^2 I) and LSUV (unit output variance per layer)."""

from __future__ import annotations

import dataclasses
import importlib
import math
import sys

import pandas as pd
import pytest
import torch
from torch import nn

from initlab import settings, store
from initlab.inits import (
    InitOptions,
    InitSpec,
    check_methods,
    check_options,
    fingerprint,
    initialize,
    options_for,
    parse_options,
    register,
    resolve,
)
from initlab.inits import registry as init_registry
from initlab.inits.orthogonal import forward_order, output_variance, weighted_layers

FIRST = """
import torch

def ones(model, *, seed, value=1.0):
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(value)

NOT_A_FUNCTION = 3
"""
EDITED = FIRST.replace("p.fill_(value)", "p.fill_(value * 2)  # edited")


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """Write a module on a temporary sys.path entry; returns (name, path to rewrite)."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # a rewrite within a second reloads
    monkeypatch.syspath_prepend(str(tmp_path))
    name = f"user_inits_{tmp_path.name.replace('-', '_')}"
    path = tmp_path / f"{name}.py"
    path.write_text(FIRST)
    yield name, path
    sys.modules.pop(name, None)


@pytest.fixture
def own_registry(monkeypatch):
    """Registrations made by a test vanish after it."""
    copy = dict(init_registry.INITIALIZERS._functions)
    monkeypatch.setattr(init_registry.INITIALIZERS, "_functions", copy)


def _net() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 36, 5))


def test_a_module_function_resolves_and_initializes_in_place_returning_the_model(user_module):
    name, _ = user_module
    function = resolve(f"{name}:ones")
    assert function is importlib.import_module(name).ones
    model = _net()
    assert initialize(model, f"{name}:ones", seed=0, value=0.5) is model  # fn returned None
    assert all(torch.all(p == 0.5) for p in model.parameters())


@pytest.mark.parametrize("method, words", [
    ("no_such_init", ["unknown init method 'no_such_init'", "kaiming_normal", "module.path"]),
    ("no_such_module_x9:fn", ["cannot import module 'no_such_module_x9'",
                              "ModuleNotFoundError"]),
    ("{module}:missing", ["has no 'missing'"]),
    ("{module}:NOT_A_FUNCTION", ["is a int, not a function"]),
    ("{module}:", ["write it as 'module.path:function'"]),
])
def test_bad_names_fail_with_one_clear_line(user_module, method, words):
    with pytest.raises(ValueError) as error:
        resolve(method.format(module=user_module[0]))
    assert all(word in str(error.value) for word in words), str(error.value)
    assert "\n" not in str(error.value)


def test_a_module_that_fails_on_import_says_why_in_one_line(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "broken_inits_q7.py").write_text("raise RuntimeError('no\\ngpu here')\n")
    with pytest.raises(ValueError, match=r"cannot import module 'broken_inits_q7' "
                       r"\(RuntimeError: no gpu here\)$"):
        resolve("broken_inits_q7:anything")


def test_check_methods_accepts_registered_allowed_and_importable_names_only(user_module):
    check_methods(["kaiming_normal", "orthogonal", "pretrained_here", f"{user_module[0]}:ones"],
                  allowed=("pretrained_here",))
    with pytest.raises(ValueError, match=r"^inits: unknown init 'kaming_normal'; choose from "
                       r".*kaiming_normal.*pretrained_here"):
        check_methods(["kaiming_normal", "kaming_normal"], allowed=("pretrained_here",))
    with pytest.raises(ValueError, match=r"^inits: init method .*cannot import module"):
        check_methods(["nowhere_q8:fn"])


def test_fingerprint_follows_the_source_and_names_new_runs(user_module):
    name, path = user_module
    method = f"{name}:ones"
    module = importlib.import_module(name)
    before, spec = fingerprint(method), InitSpec.of(method, {"value": 2.0})
    assert len(before) == 16 and spec.source == before
    assert spec.options == (("value", 2.0),)

    @dataclasses.dataclass(frozen=True)
    class Run:
        init: InitSpec
        seed: int = 0

    path.write_text(EDITED)
    with pytest.raises(ValueError, match="changed since this run was named"):
        spec.apply(_net(), seed=0)  # the file changed after the run was named: never stale
    importlib.reload(module)
    after = InitSpec.of(method, {"value": 2.0})
    assert after.source != before
    assert store.run_name(Run(after)) != store.run_name(Run(spec))
    path.write_text(FIRST)
    importlib.reload(module)
    assert fingerprint(method) == before  # the text names it, not the time it was loaded


@dataclasses.dataclass(frozen=True)
class _InitRun:
    init: InitSpec
    seed: int = 0


def _first_weight(settings: _InitRun, runtime) -> dict:
    model = settings.init.apply(_net(), settings.seed)
    return {"weights": pd.DataFrame({"first": [model[0].weight.flatten()[0].item()]})}


def test_a_run_named_by_an_init_spec_is_stored_checked_and_found_again(user_module):
    spec = InitSpec.of(f"{user_module[0]}:ones", {"value": 0.25})
    stored = store.run("user_inits", _InitRun(spec), _first_weight)
    assert stored["weights"]["first"][0] == 0.25
    assert store.is_done("user_inits", _InitRun(spec))
    again = store.run("user_inits", _InitRun(spec), _first_weight, train=False)
    assert again["weights"].equals(stored["weights"])
    assert not store.is_done("user_inits", _InitRun(InitSpec.of(spec.name, {"value": 0.5})))


def test_fingerprint_without_source_uses_the_code_and_built_ins_have_none(own_registry):
    made = {}
    for key, body in (("a", "return model"), ("b", "return model"), ("c", "model.eval()")):
        scope: dict = {}
        exec(f"def init(model, *, seed):\n    {body}\n", scope)  # no file: no source
        register(f"exec_{key}")(scope["init"])
        made[key] = fingerprint(f"exec_{key}")
    assert made["a"] == made["b"] != made["c"]
    assert InitSpec.of("kaiming_normal").source == ""  # the package's: PROTOCOL covers them
    assert InitSpec.of("exec_a").source == made["a"]


def test_register_keeps_built_in_names_and_rejects_path_like_names(own_registry):
    def mine(model, *, seed):
        return None

    with pytest.raises(ValueError, match="one of the package's methods"):
        register("kaiming_normal")(mine)
    with pytest.raises(ValueError, match="plain name"):
        register("pkg:mine")
    register("mine")(mine)
    register("mine")(mine)  # a notebook cell run twice
    assert resolve("mine") is mine


def test_options_and_seed_are_checked_against_the_function_when_the_spec_is_made():
    with pytest.raises(ValueError, match=r"'orthogonal' has no option 'gian'; its options: gain$"):
        InitSpec.of("orthogonal", {"gian": 2.0})
    with pytest.raises(ValueError, match="'sign_flip' takes no `seed`"):
        InitSpec.of("sign_flip")
    assert InitSpec.of("lsuv", {"tol": 0.05, "max_iterations": 3}).options == (
        ("max_iterations", 3), ("tol", 0.05))


def test_initialize_refuses_a_function_that_returns_another_model(own_registry):
    register("swap")(lambda model, *, seed: _net())
    with pytest.raises(ValueError, match="returned another module"):
        initialize(_net(), "swap", seed=0)


def test_only_initializers_that_declare_data_get_the_batch(own_registry):
    seen = {}

    @register("takes_data")
    def takes_data(model, *, seed, data, scale=1.0):
        seen["data"], seen["scale"] = data, scale

    @register("takes_options")
    def takes_options(model, *, seed, **options):
        seen["options"] = options

    batch = torch.ones(2, 3, 8, 8)
    InitSpec.of("takes_data", {"scale": 3.0}).apply(_net(), 1, data=batch)
    InitSpec.of("takes_options", {"gain": 2}).apply(_net(), 1, data=batch)
    assert seen["data"] is batch and seen["scale"] == 3.0
    assert seen["options"] == {"gain": 2}  # no `data` pushed into **options


def test_parse_options_reads_yaml_and_rejects_wrong_shapes_in_one_line():
    assert parse_options("") == parse_options(None) == {}
    assert parse_options("{orthogonal: {gain: 1.4}, lsuv: , x: {ks: [1, 2]}}") == {
        "orthogonal": {"gain": 1.4}, "lsuv": {}, "x": {"ks": (1, 2)}}
    assert parse_options({"mypkg.inits:orth": {"gain": 2}}) == {"mypkg.inits:orth": {"gain": 2}}
    for text, words in (("{orthogonal: [1", "not valid YAML"), ("[1, 2]", "must map init names"),
                        ("{a: 3}", "must be a mapping"), ("{a: {seed: 1}}", "cannot take"),
                        ("{a: {b: {c: 1}}}", "is a mapping")):
        with pytest.raises(ValueError, match=words) as error:
            parse_options(text)
        assert "\n" not in str(error.value)


def test_options_find_their_init_by_full_or_function_name_and_typos_fail():
    options = parse_options("{orthogonal: {gain: 1.4}, 'a.b:lsuv': {tol: 0.05}}")
    assert options_for(options, "mypkg.inits:orthogonal") == {"gain": 1.4}
    assert options_for(options, "a.b:lsuv") == {"tol": 0.05}
    assert options_for(options, "kaiming_normal") == {}
    check_options(options, ["mypkg.inits:orthogonal", "a.b:lsuv"])
    with pytest.raises(ValueError, match="'orthogonal'.*not among"):
        check_options(options, ["kaiming_normal", "a.b:lsuv"])


def test_init_options_is_a_hashable_settings_value_from_the_command_line():
    @dataclasses.dataclass(frozen=True)
    class Study:
        init_options: InitOptions = InitOptions()

    from initlab.settings import parse_value as _parse_value

    given = settings.check_overrides(Study, {"init_options": _parse_value(
        "{orthogonal: {gain: 1.4}}")})
    study = Study(**given)
    assert study.init_options == InitOptions("{orthogonal: {gain: 1.4}}")
    assert study.init_options.get("pkg:orthogonal") == {"gain": 1.4}
    assert hash(study) == hash(Study(InitOptions({"orthogonal": {"gain": 1.4}})))
    assert store.run_name(study) != store.run_name(Study())
    assert dataclasses.asdict(study)["init_options"] == study.init_options
    assert InitOptions(str(study.init_options)) == study.init_options  # shown as it is read
    with pytest.raises(TypeError, match=r"^init_options: not valid YAML"):
        settings.check_overrides(Study, {"init_options": "{orthogonal: [1"})


def test_the_command_line_list_of_inits_keeps_no_spaces():
    @dataclasses.dataclass(frozen=True)
    class Study:
        inits: tuple[str, ...] = ("kaiming_normal",)

    from initlab.settings import parse_value as _parse_value

    given = settings.check_overrides(Study, {"inits": _parse_value(
        "kaiming_normal, mypkg.inits:orthogonal")})
    assert given["inits"] == ("kaiming_normal", "mypkg.inits:orthogonal")


def _rows(weight: torch.Tensor) -> torch.Tensor:
    return weight.detach().reshape(weight.shape[0], -1).double()


@pytest.mark.parametrize("options, gain", [({}, math.sqrt(2)), ({"gain": 1.4}, 1.4)])
def test_orthogonal_rows_are_orthonormal_times_the_gain(options, gain):
    model = nn.Sequential(nn.Conv2d(8, 16, 3), nn.Flatten(), nn.Linear(16, 64))
    state = torch.random.get_rng_state()
    InitSpec.of("orthogonal", options).apply(model, seed=4)
    assert torch.equal(torch.random.get_rng_state(), state)
    conv = _rows(model[0].weight)  # (16, 72): out <= in
    assert torch.allclose(conv @ conv.T, gain ** 2 * torch.eye(16, dtype=torch.float64),
                          atol=1e-5)
    linear = _rows(model[2].weight)  # (64, 16): out > in, orthonormal columns
    assert torch.allclose(linear.T @ linear, gain ** 2 * torch.eye(16, dtype=torch.float64),
                          atol=1e-5)
    assert not model[0].bias.any() and not model[2].bias.any()
    again = initialize(nn.Sequential(nn.Conv2d(8, 16, 3), nn.Flatten(), nn.Linear(16, 64)),
                       "orthogonal", seed=4, **options)
    assert torch.equal(again[0].weight, model[0].weight)


class _Reversed(nn.Module):
    """Layers defined in the opposite order to the one the forward pass uses them in."""

    def __init__(self):
        super().__init__()
        self.head = nn.Linear(16 * 4 * 4, 10)
        self.second = nn.Conv2d(16, 16, 3, padding=1)
        self.norm = nn.BatchNorm2d(16)
        self.first = nn.Conv2d(3, 16, 3, padding=1)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        x = torch.relu(self.norm(self.first(x)))
        x = nn.functional.max_pool2d(torch.relu(self.second(x)), 2)
        return self.head(self.drop(x.flatten(1)))


def test_lsuv_gives_every_layer_unit_output_variance_on_its_batch():
    torch.manual_seed(0)
    model, batch = _Reversed().eval(), 5.0 * torch.randn(64, 3, 8, 8)  # inputs of variance 25
    assert forward_order(model, batch) == [model.first, model.second, model.head]
    running = model.train().norm.running_var.clone()
    spec = InitSpec.of("lsuv", {"tol": 0.02})
    spec.apply(model, seed=1, data=batch)
    assert model.training and torch.equal(model.norm.running_var, running)
    model.eval()
    variances = [output_variance(model, layer, batch) for layer in weighted_layers(model)]
    assert all(abs(v - 1.0) < 0.02 for v in variances), variances
    plain = initialize(_Reversed().eval(), "orthogonal", seed=1, gain=1.0)
    assert abs(output_variance(plain, plain.first, batch) - 1.0) > 1.0  # LSUV had work to do


def test_lsuv_needs_its_batch():
    with pytest.raises(ValueError, match="needs a batch of training inputs"):
        InitSpec.of("lsuv").apply(_net(), seed=0)
