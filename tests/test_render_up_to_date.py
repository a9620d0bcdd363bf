"""`initlab render` (and `run`) executes a study's notebook only when something its outputs
depend on changed since they were made (issue 22): the inputs stamp beside the outputs
(`initlab.stamp`). The notebook is a fake here (papermill replaced: it writes two output files
and counts its calls); the command line, the store folders, the package source and the stamp
are real. Every input is changed once, and each change must bring the notebook back."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import papermill
import pytest

from initlab import cli, paths, plan, profiles, runner, side_by_side, stamp, store

STUDY = "01_warm_start"
ROOT = paths.project_root()


class Fake:
    """papermill.execute_notebook: writes two outputs, then calls `during` (if set); its
    length is the number of notebooks it executed."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.during = None

    def __len__(self) -> int:
        return len(self.calls)

    def __call__(self, notebook, output, parameters, **kwargs) -> None:
        self.calls.append(parameters)
        Path(output).write_text("{}")
        out = Path(parameters["output_dir"])
        (out / "figure.png").write_bytes(b"png" * 100)
        (out / "table.csv").write_text("a,b\n1,2\n")
        if self.during:
            self.during()


@pytest.fixture
def executed(monkeypatch, tmp_path) -> Fake:
    """A project root of its own (the notebooks copied, so one can be edited), the package
    source hashed from a copy, and the fake notebook."""
    root = tmp_path / "root"
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    monkeypatch.setenv("INITLAB_ROOT", str(root))
    monkeypatch.setenv("INITLAB_DATA", str(tmp_path / "data"))
    source = tmp_path / "source"
    shutil.copytree(stamp.SOURCE, source, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(stamp, "SOURCE", source)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False, raising=False)
    fake = Fake()
    monkeypatch.setattr(papermill, "execute_notebook", fake)
    return fake


def _render(capsys, *extra: str, command: str = "render") -> str:
    assert cli.main([command, STUDY, *extra]) == 0
    return capsys.readouterr().out


def _outputs() -> Path:
    return paths.figures_root() / "smoke" / STUDY


def _entry(name: str = "0123abcd", study: str = STUDY) -> Path:
    """A finished store entry (as `store.entries` writes one: files, manifest, DONE)."""
    folder = paths.store_dir() / study / name
    folder.mkdir(parents=True)
    (folder / "curves.csv").write_text("epoch,accuracy\n1,0.5\n")
    (folder / stamp.MANIFEST).write_text(json.dumps({"curves.csv": {"size": 21}}))
    (folder / stamp.DONE).write_text("")
    return folder


def test_an_unchanged_render_is_skipped_in_one_line(executed, capsys):
    out = _render(capsys)
    assert len(executed) == 1 and f"ok {STUDY} in " in out
    assert (_outputs() / stamp.STAMP).is_file()
    out = _render(capsys)
    assert len(executed) == 1, "executed again though nothing changed"
    lines = out.splitlines()
    assert lines[0] == (f"up to date {STUDY} ({_outputs()}; nothing it depends on changed; "
                        "--force re-renders)")
    assert lines[1].startswith("report: ")  # the index page is still rebuilt


def test_force_renders_again(executed, capsys):
    _render(capsys)
    assert f"ok {STUDY} in " in _render(capsys, "--force")
    assert len(executed) == 2
    assert "up to date" in _render(capsys)  # and stamps what it made


def test_an_edited_notebook_renders_again(executed, capsys):
    _render(capsys)
    notebook = paths.notebooks_dir() / f"{STUDY}.ipynb"
    cells = json.loads(notebook.read_text())
    cells["cells"][0]["source"] = ["# edited\n"] + list(cells["cells"][0]["source"])
    notebook.write_text(json.dumps(cells, indent=1))
    assert stamp.why_stale(stamp.Request(STUDY, "smoke")) == "the notebook changed"
    _render(capsys)
    assert len(executed) == 2


def _edit_package_file() -> None:
    """An edit to one of the package's modules (the fixture's copy of the package)."""
    module = stamp.SOURCE / "plots.py"
    module.write_text(module.read_text() + "\n# edited\n")


def test_an_edited_package_file_renders_again(executed, capsys):
    _render(capsys)
    _edit_package_file()
    assert stamp.why_stale(stamp.Request(STUDY, "smoke")) == "the initlab package changed"
    _render(capsys)
    assert len(executed) == 2


@pytest.mark.parametrize("extra", [["--threads", "2"], ["--device", "cpu"]])
def test_other_runtime_parameters_render_again(executed, capsys, extra):
    _render(capsys)
    _render(capsys, *extra)
    assert len(executed) == 2
    assert "up to date" in _render(capsys, *extra)


def test_a_parameter_renders_its_own_outputs_and_keeps_the_profiles(executed, capsys):
    _render(capsys)
    out = _render(capsys, "-p", "iterations", "3")
    assert len(executed) == 2 and "smoke+iterations=3" in out
    assert "up to date" in _render(capsys)  # the profile's own outputs are still current
    assert "up to date" in _render(capsys, "-p", "iterations", "3")
    assert stamp.why_stale(stamp.Request(STUDY, "smoke", {"iterations": 3})) is None


def test_store_entries_changed_added_or_set_aside_render_again(executed, capsys):
    entry = _entry()
    _render(capsys)
    request = stamp.Request(STUDY, "smoke")
    manifest = entry / stamp.MANIFEST
    manifest.write_text(manifest.read_text().replace("21", "22"))  # recomputed, other numbers
    assert stamp.why_stale(request) == "the store entries changed"
    _render(capsys)
    _entry("4567cdef", f"{STUDY}_sources")  # a helper store of the study counts too
    assert stamp.why_stale(request) == "the store entries changed"
    _render(capsys)
    store.entries.set_aside(entry, "damaged")  # moved to .set-aside/: no longer an input
    assert stamp.why_stale(request) == "the store entries changed"
    _render(capsys)
    assert len(executed) == 4
    assert stamp.why_stale(request) is None


def test_another_studys_entries_do_not_count(executed, capsys):
    _render(capsys)
    _entry(study="02_clustered_init")
    assert "up to date" in _render(capsys)


@pytest.mark.parametrize("change", ["delete", "edit", "add"])
def test_a_deleted_edited_or_added_output_renders_again(executed, capsys, change):
    _render(capsys)
    table = _outputs() / "table.csv"
    if change == "delete":
        table.unlink()
    elif change == "edit":
        table.write_text("a,b\n1,3\n")
    else:
        (_outputs() / "extra.png").write_bytes(b"x")
    assert stamp.why_stale(stamp.Request(STUDY, "smoke")) == "its output files changed"
    _render(capsys)
    assert len(executed) == 2
    assert (_outputs() / "table.csv").read_text() == "a,b\n1,2\n"


def test_other_planned_runs_render_again(executed, capsys, monkeypatch):
    """An edited user init function plans runs of other names (its source is hashed into
    them): the outputs of the old ones are not current, though no file above changed."""
    _render(capsys)
    real = plan.run_folders
    monkeypatch.setattr(plan, "run_folders",
                        lambda study, cfg: [f.with_name(f.name + "x") for f in real(study, cfg)])
    assert stamp.why_stale(stamp.Request(STUDY, "smoke")) == "the runs it needs changed"


def test_another_machines_device_renders_again(executed, capsys, monkeypatch):
    """A figures folder shared by a CPU and a GPU machine: "auto" picks another device."""
    from initlab.training import runtime

    _render(capsys)
    monkeypatch.setattr(runtime, "pick_device", lambda name: "cuda")
    assert stamp.why_stale(stamp.Request(STUDY, "smoke")) == 'the device "auto" picks changed'


def test_an_input_changed_while_the_notebook_ran_leaves_no_stamp(executed, capsys):
    module = stamp.SOURCE / "tables.py"
    executed.during = lambda: module.write_text(module.read_text() + "\n# edited\n")
    out = _render(capsys)
    assert "no inputs stamp: the initlab package changed while it ran" in out
    assert not (_outputs() / stamp.STAMP).exists()
    executed.during = None
    _render(capsys)
    assert len(executed) == 2


def test_after_a_failed_render_the_old_stamp_still_names_the_old_inputs(executed, capsys):
    _render(capsys)
    _edit_package_file()

    def fail():
        raise papermill.PapermillExecutionError(3, 3, "x", "ValueError", "boom", [])

    executed.during = fail
    assert cli.main(["render", STUDY]) == 1
    executed.during = None
    _render(capsys)  # the old outputs' stamp names the old package: rendered again
    assert len(executed) == 3


def test_run_executes_while_runs_are_missing_and_skips_once_all_are_stored(executed, capsys):
    folders = plan.run_folders(STUDY, profiles.load(STUDY, "smoke"))
    _render(capsys)  # a render stamps outputs made without the runs
    executed.during = lambda: [_entry(f.name) for f in folders]
    out = _render(capsys, command="run")
    assert len(executed) == 2 and f"ok {STUDY} in " in out
    executed.during = None
    out = _render(capsys, command="run")
    assert len(executed) == 2
    assert out.splitlines()[0].endswith("nothing it depends on changed; --force runs it again)")
    assert "up to date" in _render(capsys)  # what run made is what a render would make
    shutil.rmtree(folders[0])
    assert stamp.why_stale(stamp.Request(STUDY, "smoke"), train=True) == \
        "the store entries changed"


def test_several_up_to_date_studies_start_no_process(executed, capsys, monkeypatch):
    monkeypatch.setattr(side_by_side, "workers", lambda studies: 1)
    assert cli.main(["render", STUDY, "03_agop_nfm_init"]) == 0
    assert len(executed) == 2
    capsys.readouterr()
    monkeypatch.setattr(side_by_side, "workers", lambda studies: 2)
    monkeypatch.setattr(side_by_side, "render", lambda *a: pytest.fail("started processes"))
    assert cli.main(["render", STUDY, "03_agop_nfm_init"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[3] for line in lines[:2]] == [STUDY, "03_agop_nfm_init"]
    assert lines[2].startswith("report: ") and len(lines) == 3  # no compare page to redo


def test_checking_creates_no_folder_and_the_names_are_the_stores(executed):
    request = stamp.Request(STUDY, "quick")
    assert stamp.why_stale(request) == "no inputs stamp beside its outputs"
    assert not request.folder.exists() and not request.folder.parent.exists()
    assert (stamp.DONE, stamp.MANIFEST) == (store.entries.DONE, store.entries.MANIFEST)
    assert side_by_side.options(cli.build_parser().parse_args(["render"]))[-1] == "--force"
    assert runner.cell_count(STUDY) > 1
