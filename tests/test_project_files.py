"""The files a newcomer relies on: environments, README commands, CI."""

from __future__ import annotations

import re
import tomllib

import yaml

from initlab import paths

ROOT = paths.project_root()


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[ ]", r.strip(), maxsplit=1)[0].lower() for r in requirements}


def test_conda_environments_parse_and_name_every_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _names(project["dependencies"]) | _names(project["optional-dependencies"]["dev"])
    for file in ("environment_cuda.yml", "environment_mps.yml"):
        env = yaml.safe_load((ROOT / file).read_text())
        assert "conda-forge" in env["channels"]
        conda = [d for d in env["dependencies"] if isinstance(d, str)]
        pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
        assert any(d.startswith("python=3.11") for d in conda)
        assert "-e ." in pip
        named = _names(conda) | _names([p for p in pip if not p.startswith("-")])
        assert wanted <= named, f"{file} lacks {sorted(wanted - named)}"
    mps = yaml.safe_load((ROOT / "environment_mps.yml").read_text())
    assert mps["variables"]["PYTORCH_ENABLE_MPS_FALLBACK"] == "1"


def test_torch_ranges_admit_the_pinned_builds():
    from packaging.requirements import Requirement

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    reqs = {Requirement(d).name: Requirement(d) for d in deps}
    assert reqs["torch"].specifier.contains("2.14.1")
    assert reqs["torchvision"].specifier.contains("0.29.1")


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:bash|sh)?\n(.*?)```", readme, re.S).group(1)
    assert "make reproduce" in first_block and "make test" in first_block
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)
