"""`initlab reference` (copy a finished profile into figures/reference/) and the shipped quick
results themselves: `initlab verify` passes on them and names a number edited in a copy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from initlab import reference, verify

SHIPPED = Path(__file__).resolve().parents[1] / "figures" / "reference"


def _finished(folder: Path, status: str = "ok") -> None:
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"status": status, "seconds": 90.0,
                                                 "finished": "2026-12-07 01:00:00"}))
    pd.DataFrame({"init": ["a"], "mean": [1.5]}).to_csv(folder / "summary.csv", index=False)
    (folder / "summary.md").write_text("| init | mean |\n")
    Image.new("RGB", (2400, 1200), "white").save(folder / "curves.png")
    (folder / "big.ipynb").write_text("{}")


def test_ship_copies_tables_and_small_figures_of_finished_studies_with_their_provenance(
        tmp_path):
    figures, shipped = tmp_path / "figures", tmp_path / "reference"
    _finished(figures / "quick" / "03_x")
    _finished(figures / "quick+dataset=fashion_mnist" / "01_y")
    _finished(figures / "quick" / "04_failed", status="failed")
    _finished(figures / "smoke" / "05_other")
    (figures / "quick" / "README.md").write_text(
        "# report\nNotebook: [03_x.ipynb](03_x/big.ipynb), table: [summary](03_x/summary.csv)\n"
        "[PDF](03_x/curves.pdf)\n![curves](03_x/curves.png)\n")
    lines = reference.ship("quick", figures, shipped)
    assert lines[:2] == ["quick/03_x: 3 files", "quick+dataset=fashion_mnist/01_y: 3 files"]
    assert sorted(p.name for p in (shipped / "quick" / "03_x").iterdir()) == [
        "curves.png", "summary.csv", "summary.md"]
    assert not (shipped / "quick" / "04_failed").exists() and not (shipped / "smoke").exists()
    with Image.open(shipped / "quick" / "03_x" / "curves.png") as image:
        assert image.size == (reference.MAX_WIDTH, reference.MAX_WIDTH // 2)
    assert (shipped / "quick" / "README.md").read_text() == (  # links to what is not shipped go
        "# report\nNotebook: 03_x.ipynb, table: [summary](03_x/summary.csv)\n"
        "![curves](03_x/curves.png)\n")
    about = (shipped / "ABOUT-quick.md").read_text()
    for needed in ("- commit: `", "- torch: ", "- machine: ", "| quick | 03_x | 1.5 min |",
                   "| all | | 3.0 min |"):
        assert needed in about


def test_ship_without_a_finished_study_says_what_to_run(tmp_path):
    with pytest.raises(ValueError, match="initlab run --profile quick"):
        reference.ship("quick", tmp_path / "figures", tmp_path / "reference")


@pytest.mark.skipif(not list(SHIPPED.glob("quick*/*/*.csv")),
                    reason="no shipped quick results in figures/reference/")
def test_the_shipped_quick_results_verify_and_an_edited_number_is_named(tmp_path):
    ours = tmp_path / "figures"
    for output in SHIPPED.glob("quick*/"):
        shutil.copytree(output, ours / output.name)
    results = verify.verify("quick", ours, SHIPPED)
    assert len(results) == 5 and all(c.ok for _, checks in results for c in checks)
    table = sorted(ours.glob("quick*/04_*/*.csv"))[0]
    frame = pd.read_csv(table)
    column = next(c for c in frame.columns if pd.api.types.is_float_dtype(frame[c])
                  and verify._compared(c) and frame[c].notna().any())
    row = frame[column].first_valid_index()
    frame.loc[row, column] = frame.loc[row, column] * 10 + 1
    frame.to_csv(table, index=False)
    problems = [line for _, checks in verify.verify("quick", ours, SHIPPED)
                for c in checks for line in c.different]
    assert len(problems) == 1 and problems[0].startswith(f"{table.stem}: {column} at ")
