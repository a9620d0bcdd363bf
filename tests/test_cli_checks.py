"""What `initlab` checks before a notebook starts and says when one ends (issues 22, 23): one
line for a bad request or a bad folder, nothing left behind, and the run counts and set-aside
entries on the terminal. Notebooks are replaced by fakes here (the real kernel's end is in
tests/test_cli_kernel.py); the store, the folders and the messages are real."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

import papermill
import pytest

from initlab import cli, console, kernel, paths, plan, profiles, runner, settings, store
from initlab.settings import _coerce

sys.path.insert(0, str(Path(__file__).parent))
from lock_job import Slow, compute  # noqa: E402


def _error(argv: list[str], capsys) -> str:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


# --------------------------------------------------------------------------- requests


def test_a_wrong_init_option_fails_up_front_and_leaves_no_folder(capsys, isolated_outputs):
    err = _error(["run", "02_clustered_init", "-p", "inits", "orthogonal", "-p",
                  "init_options", "{orthogonal: {gian: 1}}"], capsys)
    assert "init_options: init 'orthogonal' has no option 'gian'; its options: gain" in err
    assert not (isolated_outputs / "figures").exists()
    err = _error(["run", "05_parameter_dynamics", "-p", "inits", "kaiming_normal,lsuv",
                  "-p", "init_options", "{lsuv: {tolerance: 0.1, iters: 3}}"], capsys)
    assert "init 'lsuv' has no option 'iters'" in err


def test_a_parameter_of_another_study_names_the_study_as_typed(capsys):
    err = _error(["run", "-p", "iterations", "3"], capsys)
    assert "unknown parameter 'iterations' for study 02_clustered_init" in err
    assert "-p applies to every study run; no study was named, so all of them run" in err
    assert "01_warm_start has it: name it, e.g. `initlab run 01_warm_start -p iterations" in err
    assert "Settings" not in err  # no class names
    err = _error(["run", "02_clustered_init", "-p", "iteration", "3"], capsys)
    assert "for study 02_clustered_init (-p applies to every study run);" in err
    assert "02_clustered_init's settings: dataset, width" in err


@pytest.mark.parametrize("text", ["1e-400", "1.0e-400", "2e-999", "1e400", "nan", "inf",
                                  ".inf", "NaN"])
def test_a_float_that_is_not_what_was_written_is_refused(text, capsys):
    err = _error(["run", "01_warm_start", "-p", "lr", text], capsys)
    assert "parameter 'lr' wants a finite number a float can hold" in err


def test_values_are_named_in_plain_words():
    with pytest.raises(TypeError, match="'iterations' wants a whole number, got 'many'"):
        _coerce("iterations", "many", int)
    with pytest.raises(TypeError, match="'lr' wants a number, got 'fast'"):
        _coerce("lr", "fast", float)
    with pytest.raises(TypeError, match="'augment' wants true or false"):
        _coerce("augment", "maybe", bool)
    with pytest.raises(TypeError, match="finite number"):
        _coerce("lr", 10 ** 400, float)  # beyond a float
    with pytest.raises(TypeError, match="finite number"):
        _coerce("levels", "0.1, nan", tuple[float, ...])
    assert _coerce("lr", "1e-5", float) == 1e-5 and _coerce("lr", "0", float) == 0.0
    assert _coerce("lr", "0e-400", float) == 0.0 and _coerce("lr", 3, float) == 3.0
    assert _coerce("lr", "4.9e-324", float) > 0  # the smallest float is one
    assert settings.parse_value("1.0e-400") == "1.0e-400" and settings.parse_value("0.0") == 0.0


# --------------------------------------------------------------------------- folders


@pytest.mark.parametrize("variable", ["INITLAB_STORE", "INITLAB_FIGURES", "INITLAB_DATA"])
def test_a_symlink_loop_is_named_in_one_line(variable, tmp_path, monkeypatch, capsys):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    monkeypatch.setenv(variable, str(tmp_path / "a" / "sub"))
    err = _error(["run", "01_warm_start"], capsys)
    assert f"({variable}={tmp_path / 'a' / 'sub'}): is a symbolic link loop" in err


def test_a_store_that_is_a_file_or_cannot_be_created(tmp_path, monkeypatch, capsys):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("INITLAB_STORE", str(tmp_path / "file"))
    err = _error(["plan", "01_warm_start"], capsys)
    assert f"store folder (INITLAB_STORE={tmp_path / 'file'}) {tmp_path / 'file'} is a file" \
        in err
    monkeypatch.setenv("INITLAB_STORE", str(tmp_path / "file" / "store"))
    err = _error(["run", "01_warm_start"], capsys)
    assert f"cannot be created: {tmp_path / 'file'} is a file, not a folder" in err
    monkeypatch.setenv("INITLAB_FIGURES", str(tmp_path / "file"))
    assert "figures folder" in _error(["report"], capsys)


def test_a_read_only_store_is_refused_only_with_runs_to_compute(monkeypatch, capsys):
    monkeypatch.setattr(paths, "writable", lambda folder: folder != paths.store_dir())
    err = _error(["run", "01_warm_start"], capsys)
    assert f"store {paths.store_dir()} cannot be written (read-only?)" in err
    assert "01_warm_start has 2 of 2 runs to compute" in err
    cfg = profiles.load("01_warm_start", "smoke")
    for folder in plan.run_folders("01_warm_start", cfg):
        folder.mkdir(parents=True)
        (folder / "DONE").write_text("")
    plan.check_store_writable("01_warm_start", cfg)  # all stored: reading is enough


def test_writable_tries_the_folder_or_the_one_it_would_be_created_in(tmp_path):
    assert paths.writable(tmp_path) and paths.writable(tmp_path / "new" / "deeper")
    (tmp_path / "file").write_text("")
    assert not paths.writable(tmp_path / "file" / "below")


# --------------------------------------------------------------------------- notebook ends


def _fake_notebook(monkeypatch, write, error: BaseException | None = None) -> None:
    """papermill.execute_notebook that runs `write(output_dir)` then raises `error`."""
    def execute_notebook(source, output, parameters, **kwargs):
        Path(output).write_text("{}")
        write(Path(parameters["output_dir"]))
        if error is not None:
            raise error

    monkeypatch.setattr(papermill, "execute_notebook", execute_notebook)


def test_a_failed_run_leaves_no_empty_study_folder(monkeypatch):
    failure = papermill.PapermillExecutionError(3, 3, "x = 1", "ValueError", "boom", [])
    _fake_notebook(monkeypatch, lambda out: None, failure)
    outcome = runner.execute("01_warm_start", "quick")
    assert outcome.error == "cell 3: ValueError: boom"
    base = paths.figures_dir("quick")
    assert sorted(p.name for p in base.iterdir()) == ["01_warm_start.failed"]


def _figures_then(error: BaseException):
    def write(out: Path) -> None:
        (out / "01_warm_start.log").write_text("log\n")
        (out / "figure.png").write_bytes(b"x" * 1000)
        (out / "tables").mkdir()
        (out / "tables" / "t.csv").write_text("a\n")
    return write, error


def test_a_full_disk_names_the_path_and_keeps_only_the_log_and_notebook(monkeypatch, capsys):
    _fake_notebook(monkeypatch, *_figures_then(OSError(errno.ENOSPC, "No space left on device")))
    err = _error(["run", "01_warm_start"], capsys)
    failed = paths.figures_dir("smoke") / "01_warm_start.failed"
    assert f"no space left on the device of {paths.figures_dir('smoke')}" in err
    assert f"kept only its log and notebook in {failed}" in err
    assert sorted(p.name for p in failed.iterdir()) == ["01_warm_start.ipynb",
                                                         "01_warm_start.log"]


def test_a_full_disk_inside_a_cell_keeps_only_the_log_and_notebook(monkeypatch):
    full = papermill.PapermillExecutionError(
        6, 6, "save()", "OSError", "[Errno 28] No space left on device", [])
    _fake_notebook(monkeypatch, *_figures_then(full))
    outcome = runner.execute("01_warm_start", "smoke")
    assert "No space left on device" in outcome.error
    assert sorted(p.name for p in outcome.notebook.parent.iterdir()) == [
        "01_warm_start.ipynb", "01_warm_start.log", "run.json"]


def _runs_stored_by_the_notebook(monkeypatch, log_lines: tuple[str, ...] = ()) -> None:
    folders = plan.run_folders("01_warm_start", profiles.load("01_warm_start", "smoke"))

    def write(out: Path) -> None:
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "DONE").write_text("")
        with open(out / "01_warm_start.log", "a") as log:
            log.writelines(f"{line}\n" for line in log_lines)

    _fake_notebook(monkeypatch, write)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False, raising=False)


def test_piped_output_says_how_many_runs_were_trained_and_loaded(monkeypatch, capsys):
    _runs_stored_by_the_notebook(monkeypatch)
    assert cli.main(["run", "01_warm_start"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "== 01_warm_start (smoke)"
    assert lines[1].startswith("ok 01_warm_start in ")
    assert ": 2 runs trained, 0 loaded -> " in lines[1]
    assert cli.main(["render", "01_warm_start", "--force"]) == 0  # else: up to date
    assert ": 0 runs trained, 2 loaded -> " in capsys.readouterr().out


def test_entries_set_aside_are_counted_on_the_terminal(monkeypatch, capsys, tmp_path):
    root = paths.store_dir()
    store.run("slow", Slow(), compute, root=root)
    (store.run_dir("slow", Slow(), root) / "settings.json").write_text("{")  # damaged
    capsys.readouterr()
    store.run("slow", Slow(), compute, root=root)  # the store's own line, set aside
    said = capsys.readouterr().err.strip()
    assert "moved it to" in said
    checkpoint = (f"checkpoint {root}/slow/x.partial/001.pt is damaged: it fails its checksum;"
                  f" set aside as {root}/slow/.set-aside/x-001.pt; this training resumes")
    _runs_stored_by_the_notebook(monkeypatch, (said, checkpoint))
    assert cli.main(["run", "01_warm_start"]) == 0
    log = paths.figures_dir("smoke", "01_warm_start") / "01_warm_start.log"
    line = capsys.readouterr().out.splitlines()[2]
    assert line == (f"   store: 2 damaged or outdated entries set aside (kept, not deleted) "
                    f"in {root / 'slow' / '.set-aside'}; why: {log}")
    assert console.set_aside(tmp_path / "no.log") is None


def test_data_check_says_what_an_image_folder_needs(capsys):
    assert cli.main(["data", "check", "image_folder"]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith("image_folder    MISSING  your own folder of train/<class>/")
    assert "-p folder" in line and "path=" in line


def test_kernel_processes_are_stopped_by_their_group(tmp_path):
    """`kernel.stop` ends a kernel still running when the notebook ended (Ctrl-C): a real
    process group, SIGTERM first."""
    import subprocess

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                             start_new_session=True)

    class Provisioner:
        process, pgid = child, os.getpgid(child.pid)

    kernel.stop(Provisioner())
    assert child.poll() is not None
