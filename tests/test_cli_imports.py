"""`initlab --help`, a mistyped study or profile answer at once: importing the command line
imports neither torch nor pandas, matplotlib or papermill (they load in the commands that use
them), and the names it checks without them are the package's own."""

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
