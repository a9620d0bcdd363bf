"""A notebook run by plain papermill (or Jupyter) stages its outputs: stopped before its last
cell it leaves the good folder untouched; finished, its `notebook.publish(out)` swaps the new
folder in (issue 23). The runner's own staging folder (`output_dir`) is left to the runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from initlab import notebook, paths

STUDY = "01_warm_start"


def _good_folder() -> Path:
    target = paths.figures_dir("smoke", STUDY)
    (target / "noise_examples.png").write_text("good")
    (target / "table2_accuracy.csv").write_text("good")
    return target


def _leftovers(target: Path) -> list[str]:
    """Anything beside the study folder but the (empty) staging area."""
    staging = target.parent / notebook.STAGING
    beside = [p.name for p in target.parent.iterdir() if p not in (target, staging)]
    return sorted(beside + [p.name for p in staging.glob("*")])


def test_outputs_land_only_when_published(tmp_path):
    target = _good_folder()
    _, _, out = notebook.setup(STUDY, {"profile": "smoke"})
    assert out != target and out.parent.parent == target.parent
    (out / "noise_examples.png").write_text("new")
    assert (target / "noise_examples.png").read_text() == "good"  # stopped here: untouched
    assert notebook.publish(out) == target
    assert [p.name for p in target.iterdir()] == ["noise_examples.png"]
    assert (target / "noise_examples.png").read_text() == "new"
    assert _leftovers(target) == [] and not out.exists()


def test_the_runners_output_folder_is_left_to_the_runner(tmp_path):
    target = _good_folder()
    given = tmp_path / "runner-staging"
    _, _, out = notebook.setup(STUDY, {"profile": "smoke", "output_dir": str(given)})
    assert out == given and out.is_dir()
    (out / "noise_examples.png").write_text("new")
    assert notebook.publish(out) == given and (given / "noise_examples.png").exists()
    assert (target / "noise_examples.png").read_text() == "good"


def _notebook(path: Path, stop: bool) -> Path:
    """A tiny study notebook: setup, save a figure, (stop,) publish as its last cell."""
    cells = [
        "from initlab import notebook\n"
        "cfg, runtime, out = notebook.setup('01_warm_start', globals())\n"
        "(out / 'noise_examples.png').write_text('new')",
        "raise KeyboardInterrupt('stopped before the last cell')" if stop else "pass",
        "notebook.publish(out)",
    ]
    path.write_text(json.dumps({
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"cell-{i}",
                   "metadata": {}, "outputs": [], "source": source}
                  for i, source in enumerate(cells)],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_a_notebook_run_by_papermill_replaces_its_folder_only_when_it_finishes(tmp_path):
    papermill = pytest.importorskip("papermill")
    target = _good_folder()
    run = dict(kernel_name="python3", cwd=str(tmp_path), progress_bar=False)
    with pytest.raises(papermill.PapermillExecutionError, match="KeyboardInterrupt"):
        papermill.execute_notebook(str(_notebook(tmp_path / "stop.ipynb", True)),
                                   str(tmp_path / "stop.out.ipynb"), **run)
    assert {p.name: p.read_text() for p in target.iterdir()} == {
        "noise_examples.png": "good", "table2_accuracy.csv": "good"}

    papermill.execute_notebook(str(_notebook(tmp_path / "done.ipynb", False)),
                               str(tmp_path / "done.out.ipynb"), **run)
    assert {p.name: p.read_text() for p in target.iterdir()} == {"noise_examples.png": "new"}
    assert _leftovers(target) == []  # the stopped kernel's staging was cleaned up too
