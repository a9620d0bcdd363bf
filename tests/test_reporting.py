"""Tables, figures, the report page and the runner's request checks, on small fixed inputs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from initlab import paths, plots, report, runner, tables
from initlab.tempfiles import HOST
from initlab.training.cluster import Cluster
from initlab.training.runtime import Runtime

matplotlib.use("Agg")


def _paired_frame() -> pd.DataFrame:
    """Three methods over five seeds; 'b' is 'a' plus a known per-seed shift."""
    a = np.array([70.0, 72.0, 69.0, 75.0, 71.0])
    shift = np.array([1.0, 2.5, -0.5, 3.0, 1.5])
    c = np.array([60.0, 80.0, 65.0, 77.0, 70.0])
    rows = [dict(method=m, seed=s, accuracy=v) for m, values in (("a", a), ("b", a + shift),
            ("c", c)) for s, v in enumerate(values)]
    return pd.DataFrame(rows)


def test_paired_tests_are_the_textbook_paired_t_test():
    frame = _paired_frame().sample(frac=1.0, random_state=0)  # order must not matter
    result = tables.paired_tests(frame, by="method", pair_on="seed", baseline="a",
                                 value="accuracy").set_index("method")
    wide = _paired_frame().pivot(index="seed", columns="method", values="accuracy")
    for method in ("b", "c"):
        reference = stats.ttest_rel(wide[method], wide["a"])
        interval = reference.confidence_interval(0.95)
        row = result.loc[method]
        assert row.difference == pytest.approx((wide[method] - wide["a"]).mean())
        assert row.p_value == pytest.approx(reference.pvalue)
        assert (row.ci95_low, row.ci95_high) == pytest.approx((interval.low, interval.high))
        assert row.n == 5
    assert result.loc["b", "difference"] == pytest.approx(1.5)


def test_paired_tests_drop_unpaired_seeds_and_give_no_interval_under_three_pairs():
    frame = _paired_frame()
    frame = frame[~((frame.method == "c") & (frame.seed > 1))]  # c ran seeds 0 and 1 only
    result = tables.paired_tests(frame, "method", "seed", "a", "accuracy").set_index("method")
    assert result.loc["c", "n"] == 2 and result.loc["c", "difference"] == pytest.approx(-1.0)
    assert np.isnan(result.loc["c", "ci95_low"]) and np.isnan(result.loc["c", "p_value"])
    assert np.isnan(result.loc["c", "p_holm"]) and not np.isnan(result.loc["b", "p_holm"])


def test_describe_by_group():
    summary = tables.describe(_paired_frame(), ["method"], "accuracy").set_index("method")
    assert summary.loc["c", "mean"] == pytest.approx(70.4)
    assert summary.loc["c", "sd"] == pytest.approx(np.std([60, 80, 65, 77, 70], ddof=1))
    assert summary.loc["a", "n"] == 5


def test_tables_save_csv_and_markdown(tmp_path):
    frame = pd.DataFrame({"method": ["a", "b"], "value": [1.23456, float("nan")]})
    csv, md = tables.save(frame, "t", tmp_path, digits=2)
    pd.testing.assert_frame_equal(pd.read_csv(csv), frame)
    assert md.read_text().splitlines() == ["| method | value |", "| --- | --- |", "| a | 1.23 |",
                                           "| b |  |"]


def test_points_with_mean_draws_every_point_and_the_reported_crosses(tmp_path):
    frame = _paired_frame()
    ax = plots.points_with_mean(frame, x="method", y="accuracy", order=["a", "b", "c"],
                                reference={"a": 71.0, "c": 99.0})
    points = sum(len(c.get_offsets()) for c in ax.collections[:3])
    assert points == 15
    crosses = ax.collections[-1].get_offsets()
    assert np.allclose(crosses, [[0, 71.0], [2, 99.0]])
    np.random.seed(123)  # whatever numpy's global state, the jittered points are the same
    again = plots.points_with_mean(frame, x="method", y="accuracy", order=["a", "b", "c"])
    assert np.array_equal(again.collections[0].get_offsets(), ax.collections[0].get_offsets())
    png, pdf = plots.save(ax.figure, "points", tmp_path)
    assert png.stat().st_size > 1000 and pdf.read_bytes().startswith(b"%PDF")


def test_image_grid_has_one_axis_per_image_and_a_symmetric_scale():
    images = np.random.default_rng(0).normal(size=(2, 3, 4, 4))
    fig = plots.image_grid(images, row_labels=("x", "y"), symmetric=True, cmap="RdBu_r")
    assert len(fig.axes) == 6
    low, high = fig.axes[0].images[0].get_clim()
    assert low == -high == -np.abs(images[0]).max()


def _fake_study(base, study: str, status: str) -> None:
    folder = base / study
    folder.mkdir(parents=True)
    (folder / f"{study}.ipynb").write_text("{}")
    (folder / "run.json").write_text(json.dumps(dict(status=status, seconds=3.0, overrides={},
                                                     error=None)))
    tables.save(pd.DataFrame({"method": ["a"], "value": [0.5]}), "reported_vs_ours", folder)
    tables.save(pd.DataFrame({"x": [1]}), "another", folder)


def test_report_lists_every_study_with_tables_first_and_its_settings():
    base = paths.figures_dir("smoke")
    _fake_study(base, "01_warm_start", "ok")
    _fake_study(base, "03_agop_nfm_init", "failed")
    page = report.write("smoke").read_text()
    assert "[01_warm_start](#01_warm_start), [03_agop_nfm_init](#03_agop_nfm_init)" in page
    assert "Status: **failed**" in page and "Status: **ok**" in page
    section = page.split("## 01_warm_start")[1].split("## 03_agop_nfm_init")[0]
    assert section.index("### reported vs ours") < section.index("### another")
    assert "| `dataset` | digits |" in section  # the smoke settings, rebuilt from the profile
    with pytest.raises(ValueError, match="unknown profile"):
        report.write("huge")


def test_report_inlines_short_tables_and_links_long_ones():
    base = paths.figures_dir("smoke")
    _fake_study(base, "05_parameter_dynamics", "ok")
    folder = base / "05_parameter_dynamics"
    limit = report.INLINE_ROWS
    tables.save(pd.DataFrame({"bin": range(limit)}), "short", folder)
    tables.save(pd.DataFrame({"bin": range(limit + 1)}), "weight_histograms", folder)
    page = report.write("smoke").read_text()
    short = page.split("### short")[1].split("###")[0]
    assert f"| {limit - 1} |" in short and "[CSV](05_parameter_dynamics/short.csv)" in short
    long = page.split("### weight histograms")[1].split("###")[0]
    assert "| 0 |" not in long and f"{limit + 1} rows" in long
    assert "[Markdown](05_parameter_dynamics/weight_histograms.md)" in long
    assert "[CSV](05_parameter_dynamics/weight_histograms.csv)" in long
    tables.save(pd.DataFrame({"bin": range(limit + 1)}), "reported_vs_ours", folder)
    first = report.write("smoke").read_text().split("### reported vs ours")[1]
    assert f"| {limit} |" in first.split("###")[0]  # what a reader looks for: always shown


def _fake_papermill(monkeypatch, seen: dict, fail: bool = False):
    import papermill

    def execute_notebook(source, out, parameters, **kwargs):
        seen.update(parameters)
        folder = Path(parameters["output_dir"])
        (folder / "table.csv").write_text("fresh\n")
        Path(out).write_text("{}")
        if fail:
            raise papermill.PapermillExecutionError(3, 3, "x = 1", "ValueError", "boom", [])

    monkeypatch.setattr(papermill, "execute_notebook", execute_notebook)


def test_runner_checks_the_request_and_passes_the_runtime_as_parameters(monkeypatch):
    assert runner.check_request([], "smoke", {}) == runner.studies()
    assert len(runner.studies()) == 5
    with pytest.raises(ValueError, match="unknown study"):
        runner.check_request(["01_warm"], "smoke", {})
    with pytest.raises(ValueError, match="unknown parameter 'epoch'"):
        runner.check_request(["01_warm_start"], "smoke", {"epoch": 2})
    seen = {}
    _fake_papermill(monkeypatch, seen)
    cluster = Cluster("slurm", jobs=4, partition="gpu", time="2:00:00")
    outcome = runner.execute("01_warm_start", "smoke", {}, Runtime("cpu", threads=2,
                                                                   progress="log",
                                                                   cluster=cluster))
    assert outcome.error is None
    assert seen.pop("output_dir").endswith(f"01_warm_start.tmp-{os.getpid()}@{HOST}")
    assert seen == dict(profile="smoke", device="cpu", torch_compile=False, threads=2,
                        progress="log", train=True, overrides={},
                        cluster={"executor": "slurm", "jobs": 4, "partition": "gpu",
                                 "time": "2:00:00"})
    assert Cluster.from_dict(seen["cluster"]) == cluster  # what the notebook rebuilds
    assert outcome.notebook == paths.figures_dir("smoke", "01_warm_start") / "01_warm_start.ipynb"
    record = json.loads((outcome.notebook.parent / "run.json").read_text())
    assert record["status"] == "ok" and record["threads"] == 2


def test_a_failed_run_keeps_the_good_outputs_and_overrides_get_their_own_folder(monkeypatch):
    good = paths.figures_dir("smoke", "01_warm_start")
    _fake_papermill(monkeypatch, {})
    runner.execute("01_warm_start", "smoke")
    _fake_papermill(monkeypatch, {}, fail=True)
    outcome = runner.execute("01_warm_start", "smoke")
    assert outcome.error == "cell 3: ValueError: boom"
    assert outcome.notebook.parent.name == "01_warm_start.failed"
    assert json.loads((good / "run.json").read_text())["status"] == "ok"  # untouched
    page = report.write("smoke").read_text()
    assert "Status: **ok**" in page and "The last attempt failed" in page
    _fake_papermill(monkeypatch, {})
    variant = runner.execute("01_warm_start", "smoke", {"iterations": 1, "lr": 0.01})
    assert variant.notebook.parent == paths.figures_dir("smoke+iterations=1,lr=0.01",
                                                        "01_warm_start")
    assert "smoke+iterations=1,lr=0.01" in report.write("smoke+iterations=1,lr=0.01").read_text()
    assert not list(good.parent.glob("*.tmp-*")), "staging folders left behind"
