"""`initlab compare`: every init across the studies' init_scores.csv, checked by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from initlab import cli, compare, paths, report

T_975_2 = 4.302652729911275  # Student t quantile, 2 degrees of freedom


def _scores(study: str, dataset: str, baseline: str, values: dict[str, list[float]],
            units: list | None = None) -> pd.DataFrame:
    rows = [dict(study=study, dataset=dataset, init=init, unit=(units or range(len(v)))[i],
                 value=x, metric="test accuracy (%)", baseline=baseline)
            for init, v in values.items() for i, x in enumerate(v)]
    return pd.DataFrame(rows)


def _write(output: str, frame: pd.DataFrame) -> None:
    study = frame["study"].iloc[0]
    frame.to_csv(paths.figures_dir(output, study) / compare.SCORES, index=False)


@pytest.fixture
def three_studies() -> str:
    """03: Kaiming normal ran; 02: only its baseline `default` ran (two seeds, and two rows
    per task for one init); 05: neither Kaiming normal nor its baseline ran."""
    _write("quick", _scores("03_agop_nfm_init", "fashion_mnist", "kaiming_normal", {
        "kaiming_normal": [80, 82, 84], "orthogonal": [81, 84, 84], "lsuv": [79, 80, 81]}))
    _write("quick", pd.concat([
        _scores("02_clustered_init", "cifar10", "default", {"default": [70, 72]}),
        _scores("02_clustered_init", "cifar10", "default", {"clustered": [70, 72, 75, 75]},
                units=[0, 0, 1, 1])]))
    _write("quick", _scores("05_parameter_dynamics", "mnist", "pretrained", {
        "kaiming_uniform": [90, 91, 92], "orthogonal": [90, 90, 90]}))
    return "quick"


def _row(table: pd.DataFrame, study: str, init: str) -> pd.Series:
    return table[(table.study == study) & (table.init == init)].iloc[0]


def test_means_differences_and_ranks_are_the_hand_computed_ones(three_studies):
    table = compare.summarize(compare.load_scores(three_studies))
    kn = _row(table, "03_agop_nfm_init", "kaiming_normal")
    orth = _row(table, "03_agop_nfm_init", "orthogonal")
    lsuv = _row(table, "03_agop_nfm_init", "lsuv")
    assert (kn["mean"], kn["sd"], kn["n"], kn["rank"]) == (82, 2, 3, 2)
    assert kn["ci95_low"] == pytest.approx(82 - T_975_2 * 2 / math.sqrt(3))
    assert (orth["mean"], orth["rank"], lsuv["rank"]) == (pytest.approx(83), 1, 3)
    assert orth["reference"] == "kaiming_normal" and math.isnan(kn["difference"])
    assert orth["difference"] == pytest.approx(1.0)  # pairs: +1, +2, 0 (sd 1)
    assert orth["difference_high"] == pytest.approx(1 + T_975_2 / math.sqrt(3))
    assert lsuv["difference"] == pytest.approx(-2.0) and lsuv["pairs"] == 3


def test_without_kaiming_normal_the_study_baseline_is_the_reference(three_studies):
    table = compare.summarize(compare.load_scores(three_studies))
    clustered = _row(table, "02_clustered_init", "clustered")
    default = _row(table, "02_clustered_init", "default")
    assert clustered["reference"] == "default"
    assert (clustered["mean"], clustered["n"]) == (73.0, 2)  # task means 71 and 75
    assert clustered["difference"] == pytest.approx(2.0)  # 71 - 70 and 75 - 72
    assert math.isnan(clustered["ci95_low"]) and math.isnan(clustered["difference_low"])
    assert math.isnan(clustered["p_value"])  # n < 3: no interval, no test
    assert (clustered["rank"], default["rank"]) == (1, 2)
    five = table[table.study == "05_parameter_dynamics"]
    assert (five["reference"] == "").all() and five["difference"].isna().all()
    assert list(five.sort_values("init")["rank"]) == [1, 2]


def test_the_page_figure_and_table_are_written_and_the_report_links_them(three_studies):
    page = compare.write(three_studies)
    base = paths.figures_dir(three_studies)
    text = page.read_text()
    assert {"compare.md", "compare.csv", "compare.png", "compare.pdf"} <= {
        p.name for p in base.iterdir()}
    assert "## 03_agop_nfm_init, fashion_mnist: test accuracy (%)" in text
    assert "`kaiming_normal` has no score here: differences are paired against the study's " \
        "baseline `default`." in text
    assert "Neither `kaiming_normal` nor the study's baseline has a score here" in text
    assert "| 1 | orthogonal | 3 | 83.0 |" in text  # accuracies to one decimal, n beside
    assert len(pd.read_csv(base / "compare.csv")) == 7
    assert "[compare.md](compare.md)" in report.write(three_studies).read_text()


def test_no_scores_yet_is_one_line_saying_what_to_run(capsys):
    with pytest.raises(compare.NoScores, match="initlab run 03_agop_nfm_init --profile smoke`$"):
        compare.load_scores("smoke")
    assert cli.main(["compare", "--profile", "smoke"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "no study has written init_scores.csv" in error
    assert "[compare.md]" not in report.write("smoke").read_text()


def test_a_file_without_the_columns_is_named(tmp_path):
    pd.DataFrame({"init": ["a"], "value": [1.0]}).to_csv(
        paths.figures_dir("quick", "03_agop_nfm_init") / compare.SCORES, index=False)
    with pytest.raises(ValueError, match="init_scores.csv lacks the columns study, dataset"):
        compare.load_scores("quick")


def test_the_command_finds_the_output_folder_of_a_run_with_overrides(capsys):
    overrides = {"inits": "kaiming_normal, mypkg.inits:orthogonal"}
    output = paths.output_name("quick", overrides)
    _write(output, _scores("03_agop_nfm_init", "mnist", "kaiming_normal", {
        "kaiming_normal": [97, 98, 99], "mypkg.inits:orthogonal": [98, 98, 98]}))
    assert cli.main(["compare", "--profile", "quick", "-p", "inits",
                     "kaiming_normal, mypkg.inits:orthogonal"]) == 0
    assert f"compare: {paths.figures_dir(output) / 'compare.md'}" in capsys.readouterr().out
    text = (paths.figures_dir(output) / "compare.md").read_text()
    assert "| 1 | mypkg.inits:orthogonal | 3 | 98.0 |" in text


def test_initlab_run_rebuilds_the_page_the_report_links(three_studies, monkeypatch, capsys):
    monkeypatch.setattr(cli, "_run_one", lambda *args: True)  # the notebooks ran (not here)
    assert cli.main(["run", "03_agop_nfm_init", "--profile", three_studies]) == 0
    out = capsys.readouterr().out
    page = paths.figures_dir(three_studies) / "compare.md"
    assert f"compare: {page}" in out and page.exists()
    assert "[compare.md](compare.md)." in (page.parent / "README.md").read_text()


def test_an_init_without_any_score_is_neither_reference_nor_ranked():
    nan = float("nan")
    _write("quick", _scores("03_agop_nfm_init", "mnist", "default", {
        "kaiming_normal": [nan, nan, nan], "default": [90, 91, 92], "lsuv": [91, 93, 92]}))
    table = compare.summarize(compare.load_scores("quick"))
    assert set(table["reference"]) == {"default"}
    assert _row(table, "03_agop_nfm_init", "lsuv")["difference"] == pytest.approx(1.0)
    assert math.isnan(_row(table, "03_agop_nfm_init", "kaiming_normal")["rank"])
    assert list(table["init"]) == ["lsuv", "default", "kaiming_normal"]


def test_the_figure_is_sized_by_its_panels_and_says_which_intervals_it_draws(three_studies):
    scores = compare.load_scores(three_studies)
    table = compare.summarize(scores)
    fig = compare.figure(scores, table)
    width, height = fig.get_size_inches()
    assert width == pytest.approx(3 * compare.COLUMN_INCHES)
    # one row of three panels, its longest list of inits has three
    assert height == pytest.approx(compare.ROW_INCHES + 3 * compare.INIT_INCHES + 0.4)
    assert "95% t-interval where n >= 3" in fig._suptitle.get_text()  # 03 has 3, 02 has 2
    only_two = scores[scores.unit.isin([0, 1])]
    fig = compare.figure(only_two, compare.summarize(only_two))
    assert "no interval at n < 3" in fig._suptitle.get_text()
    many = pd.concat([_scores("01_warm_start", "digits", "random",
                              {f"init{i}": [50.0, 51.0, 52.0] for i in range(12)}), scores])
    rows = compare.figure(many, compare.summarize(many)).axes[0].get_gridspec()
    ratios = rows.get_height_ratios()
    assert ratios == pytest.approx([compare.ROW_INCHES + 12 * compare.INIT_INCHES,
                                    compare.ROW_INCHES + 2 * compare.INIT_INCHES])
