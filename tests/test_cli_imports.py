"""`initlab --help`, a mistyped study or profile answer at once: importing the command line
imports neither torch nor pandas, matplotlib or papermill (they load in the commands that use
them), and the names it checks without them are the package's own. `initlab list` builds every
study's settings (each checked in full) without torch either: the init, noise, model and
alignment names those checks use live in torch-free modules, which must name what the modules
that use them register. `initlab plan --no-time` lists every study's runs without them too:
the store, the runtime and the studies' `design` and `work` modules are torch-free."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from initlab import cli, paths, plan, profiles, runner, settings
from initlab.training import runtime

HEAVY = ("torch", "pandas", "matplotlib", "papermill", "numpy", "initlab.profiles")


def _loaded_after(code: str) -> list[str]:
    """The heavy modules a fresh interpreter has loaded after running `code`."""
    probe = (f"import sys\n{code}\n"
             f"print(__import__('json').dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=120, cwd=paths.project_root())
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.splitlines()[-1])


def test_importing_the_command_line_loads_no_heavy_module():
    assert _loaded_after("import initlab.cli") == []


@pytest.mark.parametrize("argv", [["run", "01_warm"], ["render", "nosuch"],
                                  ["run", "--profile", "fast"], ["plan", "01_warmstart"],
                                  ["report", "--profile", "huge"]])
def test_a_mistyped_study_or_profile_fails_before_anything_heavy_loads(argv):
    code = ("import contextlib, io\nfrom initlab import cli\n"
            "with contextlib.redirect_stderr(io.StringIO()):\n"
            f"    assert cli.main({argv!r}) == 2\n")
    assert _loaded_after(code) == []


def test_help_loads_no_heavy_module():
    code = ("import contextlib, io\nfrom initlab import cli\n"
            "with contextlib.redirect_stdout(io.StringIO()), "
            "contextlib.suppress(SystemExit):\n    cli.main(['run', '--help'])\n")
    assert _loaded_after(code) == []


def test_the_names_checked_without_the_settings_are_the_packages_own():
    assert runner.PROFILES == settings.PROFILES == cli.PROFILES
    assert cli.DEVICES == runtime.DEVICES
    assert runner.studies() == list(profiles.STUDIES)  # found on disk, no study imported
    for study, cls in profiles.STUDIES.items():
        assert cls.__module__ == f"initlab.studies.{plan.PACKAGES[study]}.settings"
    assert list(plan.PACKAGES) == list(profiles.STUDIES)


def test_data_check_finds_the_files_without_torch():
    code = ("import contextlib, io\nfrom initlab import cli\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            "    assert cli.main(['data', 'check', 'digits', 'cifar10']) == 0\n"
            "assert 'digits' in out.getvalue() and 'cifar10' in out.getvalue()\n")
    assert _loaded_after(code) == []


def test_list_builds_every_studys_settings_without_torch():
    code = ("import contextlib, io\nfrom initlab import cli, profiles\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            "    assert cli.main(['list']) == 0\n"
            "shown = out.getvalue().splitlines()\n"
            "assert [s for s in shown if not s.startswith(' ')] == list(profiles.STUDIES)\n"
            "assert len(shown) == len(profiles.STUDIES) * (1 + len(profiles.PROFILES))\n")
    assert _loaded_after(code) == ["initlab.profiles"]  # every study's settings, nothing heavy


@pytest.mark.parametrize("profile", [[], ["--profile", "quick"]])
def test_plan_without_timing_lists_every_studys_runs_without_torch(profile):
    code = ("import contextlib, io\nfrom initlab import cli, profiles\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            f"    assert cli.main(['plan', '--no-time', *{profile!r}]) == 0\n"
            "rows = [line.split()[0] for line in out.getvalue().splitlines()[4:]]\n"
            "assert rows == [*profiles.STUDIES, 'all'], rows\n")
    assert _loaded_after(code) == ["initlab.profiles"]  # every study's runs, nothing heavy


@pytest.mark.parametrize("env", [{}, {"XDG_CACHE_HOME": "/x/cache"},
                                 {"TORCH_HOME": "~/th", "XDG_CACHE_HOME": "/x/cache"}])
def test_torchs_cache_of_imagenet_weights_is_found_without_torch(env, monkeypatch):
    import torch
    import torchvision

    from initlab.models.pretrained import IMAGENET_WEIGHTS
    from initlab.studies.parameter_dynamics import design

    for arch, file in design.IMAGENET_FILES.items():
        weights = getattr(torchvision.models, IMAGENET_WEIGHTS[arch]).IMAGENET1K_V1
        assert weights.url.rsplit("/", 1)[-1] == file
    for name in ("TORCH_HOME", "XDG_CACHE_HOME", "TORCH_HUB"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = ("from initlab.studies.parameter_dynamics import work\nprint(work.hub_dir())\n"
            "import sys\nassert 'torch' not in sys.modules\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, cwd=paths.project_root())
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == torch.hub.get_dir()


def test_the_init_names_checked_without_torch_are_the_registered_methods():
    from initlab.inits import methods, names, resolve, wants_data

    package = {}
    for name in methods():  # importing every method module
        module = resolve(name).__module__
        if module.startswith("initlab.inits."):
            package[name] = module.rpartition(".")[2]
    assert package == {name: module for module, listed in names.METHODS.items()
                       for name in listed}
    assert names.BUILTINS == set(package)
    assert names.DATA_METHODS == {name for name in package if wants_data(name)}


def test_the_noise_and_model_names_checked_without_torch_are_the_functions_names():
    from initlab.data import corruptions, noise
    from initlab.models import model_names, vgg, vgg_configs

    assert [fn.__name__ for fn in noise.NOISES.values()] == list(corruptions.NOISE_NAMES)
    assert all(set(params) == set(corruptions.NOISE_NAMES)
               for params in corruptions.CORRUPTIONS.values())
    assert set(vgg_configs.CONFIGS) == {n for n in model_names() if n.startswith("vgg")}
    assert vgg.CONFIGS is vgg_configs.CONFIGS
