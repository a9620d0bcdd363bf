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


def _specs(requirements: list[str]) -> dict[str, str]:
    """name -> its version constraint, spaces dropped (conda and pip write them alike)."""
    pattern = re.compile(r"^([A-Za-z0-9_.\-]+)\s*(.*)$")
    return {m.group(1).lower(): m.group(2).replace(" ", "")
            for m in (pattern.match(r.strip()) for r in requirements if not r.startswith("-"))}


def test_conda_environments_pin_the_versions_pyproject_pins():
    """pyproject.toml is the one source of versions: each conda file repeats its constraints
    exactly (a looser pin there would build an environment the project was not tested in)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _specs(project["dependencies"] + project["optional-dependencies"]["dev"])
    assert wanted["ruff"] and wanted["torch"]  # the parse found the constraints
    for file in ("environment_cuda.yml", "environment_mps.yml"):
        env = yaml.safe_load((ROOT / file).read_text())
        pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
        conda = [d for d in env["dependencies"] if isinstance(d, str)]
        named = _specs(conda + pip)
        differ = {k: (named[k], v) for k, v in wanted.items() if named.get(k) != v}
        assert not differ, f"{file} differs from pyproject.toml (file, pyproject): {differ}"


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


def _tracked_text_files() -> list:
    import subprocess

    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / name for name in listed if (ROOT / name).suffix in
            (".py", ".md", ".ipynb", ".toml", ".yml", ".cfg", "") and (ROOT / name).is_file()]


def test_nothing_points_outside_the_repository():
    dead = ("../" + "shared", "STUDIES" + ".md")  # spelled apart: this file is scanned too
    outside = [str(p.relative_to(ROOT)) for p in _tracked_text_files()
               if any(link in p.read_text(errors="replace") for link in dead)]
    assert not outside, f"these files refer to files users do not have: {outside}"


STUDY_DOCS = ("01_warm_start", "02_clustered_init", "03_agop_nfm_init", "04_baselines_transfer",
              "05_parameter_dynamics")


def test_every_study_has_its_protocol_in_docs_and_its_notebook_links_it():
    import json

    assert (ROOT / "docs" / "ARCHITECTURE.md").exists()
    for study in STUDY_DOCS:
        doc = (ROOT / "docs" / f"{study}.md").read_text()
        for section in ("## The original work", "## Protocol", "## Known bugs",
                        "## Reported numbers"):
            assert section in doc, f"docs/{study}.md lacks {section}"
        cells = json.loads((ROOT / "notebooks" / f"{study}.ipynb").read_text())["cells"]
        text = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        assert f"../docs/{study}.md" in text, f"{study}.ipynb does not link its protocol"


def test_notebook_cells_are_short():
    import json

    long_cells = []
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for i, cell in enumerate(json.loads(notebook.read_text())["cells"]):
            lines = "".join(cell["source"]).strip().splitlines()
            if cell["cell_type"] == "code" and len(lines) > 12:
                long_cells.append(f"{notebook.name} cell {i}: {len(lines)} lines")
    assert not long_cells


def test_code_and_notebooks_pass_the_linter():
    import shutil
    import subprocess

    import pytest

    ruff = shutil.which("ruff") or (ROOT / ".venv" / "bin" / "ruff")
    if not shutil.which(str(ruff)):
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    result = subprocess.run([str(ruff), "check", "lib", "tests", "bench", "notebooks"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]


def test_no_module_is_over_300_lines():
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines())
             for p in (ROOT / "lib").rglob("*.py")}
    assert not {k: v for k, v in sizes.items() if v > 320}
