"""What `initlab run` shows: papermill's log goes to a file (and the terminal only when asked),
each cell's start reaches the study's progress line."""

from __future__ import annotations

import io
import logging

from initlab import console


def _papermill_says(*messages: str) -> None:
    logger = logging.getLogger("papermill")
    for message in messages:
        logger.info(message)


def test_the_notebook_log_goes_to_its_file_and_to_the_terminal_only_when_verbose(tmp_path,
                                                                                 capsys):
    cells = []
    with console.papermill_log(tmp_path / "quiet.log", on_cell=cells.append):
        _papermill_says("Executing Cell 1---", "some output", "Executing Cell 2---")
    assert cells == [1, 2]
    assert (tmp_path / "quiet.log").read_text() == "Executing Cell 1---\nsome output\n" \
        "Executing Cell 2---\n"
    assert capsys.readouterr().out == ""
    with console.papermill_log(tmp_path / "loud.log", verbose=True):
        _papermill_says("Executing Cell 1---")
    assert capsys.readouterr().out == "Executing Cell 1---\n"
    _papermill_says("after the block")  # the handlers are gone again
    assert "after" not in (tmp_path / "loud.log").read_text() + capsys.readouterr().out
    assert console.tail(tmp_path / "quiet.log", 2) == ["some output", "Executing Cell 2---"]


def test_the_study_line_counts_stored_runs_and_prints_once_off_a_terminal(tmp_path):
    runs = [tmp_path / "a", tmp_path / "b"]
    (runs[0]).mkdir()
    (runs[0] / "DONE").write_text("")
    stream = io.StringIO()  # not a terminal: one line when the study starts
    with console.StudyLine("01_warm_start (smoke)", 20, runs, stream=stream) as line:
        line.on_cell(8)
        assert line.text().startswith("== 01_warm_start (smoke): cell 8/20, runs 1/2 stored, ")
    assert stream.getvalue() == "== 01_warm_start (smoke)\n"
