"""`initlab verify`: each number against the reference, with its own seed spread as tolerance."""

from __future__ import annotations

import pandas as pd

from initlab import verify


def _summary_table() -> pd.DataFrame:
    return pd.DataFrame({"init": ["kaiming", "uniform"], "mean": [80.0, 10.0],
                         "sd": [1.5, 0.5], "n": [3, 3], "ci95_low": [76.3, 8.8],
                         "p_holm": [0.01, 0.2]})


def test_the_same_table_is_equal_in_every_compared_number():
    table = _summary_table()
    check = verify.compare_table("summary", table.copy(), table)
    assert check.ok and check.within == 0
    assert check.equal == 4  # mean and ci95_low of two rows; sd, n and p_holm are not compared


def test_a_mean_inside_two_sds_is_within_and_outside_is_named():
    reference = _summary_table()
    ours = reference.copy()
    ours.loc[0, "mean"] = 80.0 + 2.9  # 1.93 sd of 1.5: a reproduction
    assert verify.compare_table("summary", ours, reference).within == 1
    ours.loc[1, "mean"] = 10.0 + 1.1  # 2.2 sd of 0.5: not one
    check = verify.compare_table("summary", ours, reference)
    assert not check.ok and len(check.different) == 1
    assert "summary: mean at init=uniform, n=3 is 11.1 (reference 10, tolerance 1)" \
        == check.different[0]


def test_integer_keys_of_a_table_with_floats_match_their_rows():
    reference = pd.DataFrame({"filter": [0, 1], "cosine": [0.38, 0.31], "n": [3, 3]})
    check = verify.compare_table("table1", reference.copy(), reference)
    assert check.ok and check.equal == 2, check.different
    ours = reference.copy()
    ours.loc[1, "cosine"] = 0.5
    assert verify.compare_table("table1", ours, reference).different == [
        "table1: cosine at filter=1, n=3 is 0.5 (reference 0.31, tolerance 0)"]


def test_rows_that_share_their_text_keys_match_in_order():
    reference = pd.DataFrame({"arch": ["lenet5"] * 3, "seed": [0] * 3,
                              "tolerance": [1e-6, 1e-3, 0.1], "share": [97.7, 88.3, 0.1]})
    check = verify.compare_table("share_vs_tolerance", reference.copy(), reference)
    assert check.ok and check.equal == 6, check.different
    ours = reference.copy()
    ours.loc[1, "share"] = 500.0  # the spread over these rows' seeds is 2 x 54
    different = verify.compare_table("share_vs_tolerance", ours, reference).different
    assert len(different) == 1 and different[0].startswith(
        "share_vs_tolerance: share at arch=lenet5, seed=0 (row 2 of these) is 500 (reference "
        "88.3, tolerance 10")


def test_per_seed_tables_take_the_spread_over_seeds_of_the_same_row():
    reference = pd.DataFrame({"init": ["a"] * 3 + ["b"] * 3, "seed": [0, 1, 2] * 2,
                              "accuracy": [70.0, 72.0, 74.0, 50.0, 50.0, 50.0]})
    ours = reference.copy()
    ours.loc[0, "accuracy"] = 70.0 + 3.9  # sd over seeds of a is 2: within 2 sd
    ours.loc[3, "accuracy"] = 50.001  # b has no spread at all: must be equal
    check = verify.compare_table("per_seed", ours, reference)
    assert check.within == 1 and check.equal == 4
    assert check.different == ["per_seed: accuracy at init=b, seed=0 is 50.001 "
                               "(reference 50, tolerance 0)"]


def test_missing_rows_and_tables_are_different(tmp_path):
    reference, ours = tmp_path / "reference", tmp_path / "ours"
    reference.mkdir()
    ours.mkdir()
    _summary_table().to_csv(reference / "summary.csv", index=False)
    _summary_table().to_csv(reference / "other.csv", index=False)
    _summary_table().iloc[:1].to_csv(ours / "summary.csv", index=False)
    checks = verify.compare_study(ours, reference)
    problems = [line for c in checks for line in c.different]
    assert problems == [f"other: table not in {ours}",
                        "summary: row init=uniform, n=3 is missing"]
    assert verify.summary("03_x", checks).startswith("DIFFERENT 03_x: 2 tables, 2 numbers equal")


def test_the_command_passes_on_the_same_tables_and_names_an_edited_number(tmp_path, capsys):
    import os

    from initlab import cli

    figures = tmp_path / "figures"
    reference = tmp_path / "reference"
    for root in (figures, reference):
        for output, study in (("quick", "03_x"), ("quick+dataset=fashion_mnist", "01_y")):
            (root / output / study).mkdir(parents=True)
            _summary_table().to_csv(root / output / study / "summary.csv", index=False)
    (reference / "smoke" / "05_z").mkdir(parents=True)  # another profile: not compared
    assert os.environ["INITLAB_FIGURES"] == str(figures)  # conftest's isolated folders
    assert cli.main(["verify", "--profile", "quick", "--reference", str(reference)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["reproduced 01_y (quick+dataset=fashion_mnist): 1 tables, 4 numbers "
                     "equal, 0 within the seed spread, 0 different",
                     "reproduced 03_x (quick): 1 tables, 4 numbers equal, 0 within the seed "
                     "spread, 0 different"]
    edited = _summary_table()
    edited.loc[0, "mean"] = 90.0
    edited.to_csv(reference / "quick" / "03_x" / "summary.csv", index=False)
    assert cli.main(["verify", "--profile", "quick", "--reference", str(reference)]) == 1
    out = capsys.readouterr().out
    assert "DIFFERENT 03_x (quick)" in out
    assert "summary: mean at init=kaiming, n=3 is 80 (reference 90, tolerance 3)" in out
