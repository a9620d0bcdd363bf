"""What the figures say matches what they draw (issue 22): no promised interval or band that
is not there, marks named without covering the data, units and scales kept in range."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest

from initlab import profiles

matplotlib.use("Agg")


def _texts(fig) -> str:
    """Every title, suptitle and legend text of a figure, in one string."""
    parts = [fig._suptitle.get_text() if fig._suptitle else ""]
    for ax in fig.axes:
        parts.append(ax.get_title())
        legend = ax.get_legend()
        parts += [t.get_text() for t in legend.get_texts()] if legend else []
    parts += [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    return " | ".join(parts)


def _per_tensor(cfg) -> pd.DataFrame:
    """Two seeds per optimizer: a conv weight changed 90% / 100% (sd would pass 100%), a
    linear weight, and two small tensors (a bias, a norm) that are pooled."""
    rows = []
    tensors = [("0.weight", "conv", 100), ("0.bias", "bias", 4), ("bn.weight", "norm", 4),
               ("fc.weight", "linear", 40)]
    for arch in cfg.archs:
        for opt in cfg.optimizers:
            for seed, full in ((0, 90), (1, 100)):
                for position, (name, kind, numel) in enumerate(tensors):
                    changed = full if kind == "conv" else numel // 2 + seed
                    rows.append(dict(position=position, name=name, kind=kind, numel=numel,
                                     changed=changed, share=changed / numel, arch=arch,
                                     dataset=cfg.datasets[0], init=cfg.inits[0],
                                     optimizer=opt, seed=seed))
    return pd.DataFrame(rows)


def test_05_per_tensor_shares_stay_in_range_with_weight_labels_only():
    from initlab.studies.parameter_dynamics import figures

    cfg = profiles.load("05_parameter_dynamics", "smoke")
    fig = figures.change_share_per_tensor(_per_tensor(cfg), cfg)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["conv 0", "fc", "biases + norms"]
    tops = [max(line.get_ydata()) for line in ax.lines if len(line.get_ydata())]
    assert max(tops) == pytest.approx(100)  # the range over seeds: never above a share of 1
    pooled = [p.get_height() for p in ax.patches if p.get_width() > 0][2]
    assert pooled == pytest.approx((50 + 75) / 2)  # (2 + 2) / 8 and (3 + 3) / 8, averaged
    assert "min to max" in _texts(fig) and "sd" not in _texts(fig)


def test_05_change_share_names_its_marks_in_a_legend_below_not_on_the_panel():
    from initlab.studies.parameter_dynamics import figures

    cfg = profiles.load("05_parameter_dynamics", "smoke")
    summary = pd.DataFrame([dict(arch=a, dataset="digits", init=i, optimizer=o, seed=s,
                                 changed_share=30.0 + s, frozen_share=61.0 if a == "resnet18"
                                 else 0.0, change_rate=1.0)
                            for a in cfg.archs for i in cfg.inits for o in cfg.optimizers
                            for s in (0, 1)])
    fig = figures.change_share(summary, cfg)
    assert all(not ax.texts for ax in fig.axes)
    assert "ceiling: padding-only kernel taps never move" in _texts(fig)
    assert "lines: sd over seeds" in _texts(fig)
    one_seed = figures.change_share(summary[summary.seed == 0],
                                    profiles.load("05_parameter_dynamics", "smoke", seeds=1))
    assert "sd" not in _texts(one_seed) and "one seed" in _texts(one_seed)


def test_captions_say_what_is_drawn():
    from initlab import plots

    assert plots.interval_caption([3, 5]) == "diamonds: mean, 95% t-interval"
    assert plots.interval_caption([2, 2]) == "diamonds: mean, no interval at n < 3"
    assert plots.interval_caption([2, 3]) == "diamonds: mean, 95% t-interval where n >= 3"
    assert plots.spread_caption(2) == "band: sd over runs"
    assert plots.spread_caption(1, "lines", "seed") == "one seed: no lines"
    frame = pd.DataFrame({"m": ["a", "a", "b"], "v": [1.0, np.nan, 2.0]})
    assert plots.group_sizes(frame, "m", "v") == [1, 1]


def _curves(seeds: int) -> pd.DataFrame:
    return pd.DataFrame([dict(dataset="d", init=i, seed=s, epoch=e, split=sp, metric=m,
                              value=0.1 * e + 0.01 * s)
                         for i in ("kaiming_normal", "nfm") for s in range(seeds)
                         for e in (1, 2) for sp in ("train", "val") for m in ("accuracy", "loss")])


@pytest.mark.parametrize("seeds", [1, 2])
def test_03_curves_name_the_band_only_when_drawn_and_no_family_that_did_not_run(seeds):
    from initlab.studies.agop_nfm_init import figures, results

    fig = figures.accuracy_curves(_curves(seeds), ["kaiming_normal", "nfm"])
    text = _texts(fig)
    assert ("band: sd over runs" in text) == (seeds > 1)
    assert ("one run: no band" in text) == (seeds == 1)
    assert "yours" not in text and "matrix (NFM/AGOP)" in text
    bands = [c for ax in fig.axes for c in ax.collections
             if any(len(path.vertices) for path in c.get_paths())]
    assert bool(bands) == (seeds > 1)
    gap = figures.loss_gap(results.loss_gap(_curves(seeds)), ["kaiming_normal", "nfm"])
    assert ("band: sd over runs" in _texts(gap)) == (seeds > 1)
    mine = figures.accuracy_curves(_curves(seeds).replace({"nfm": "my_init"}),
                                   ["kaiming_normal", "my_init"])
    assert "yours" in _texts(mine) and "matrix" not in _texts(mine)


def test_03_points_title_promises_an_interval_only_from_three_runs():
    from initlab.studies.agop_nfm_init import figures

    frame = pd.DataFrame([dict(dataset="d", init=i, seed=s, acc=50.0 + s)
                          for i in ("kaiming_normal", "nfm") for s in range(3)])
    three = figures.accuracy_per_init(frame, "acc", ["d"], ["kaiming_normal", "nfm"], "acc")
    assert "diamonds: mean, 95% t-interval)" in _texts(three)
    two = figures.accuracy_per_init(frame[frame.seed < 2], "acc", ["d"],
                                    ["kaiming_normal", "nfm"], "acc")
    assert "no interval at n < 3" in _texts(two) and "bootstrap" not in _texts(two)


def _accuracy(iterations: int) -> pd.DataFrame:
    return pd.DataFrame([dict(method=m, seed=s, accuracy=40.0 + 5 * s + i)
                         for i, m in enumerate(("random", "cosine")) for s in range(iterations)])


@pytest.mark.parametrize("iterations", [2, 3])
def test_01_accuracy_names_the_interval_as_drawn_and_the_report_data_set(iterations):
    from initlab.studies.warm_start import figures

    fig = figures.accuracy_per_method(_accuracy(iterations), ["random", "cosine"], "digits")
    text = _texts(fig)
    assert ("95% t-interval" in text) == (iterations >= 3) and "CI" not in text
    assert "red x: reported on MNIST, not digits" in text
    (ax,) = fig.axes
    intervals = [line for line in ax.lines if line.get_marker() in ("None", "")  # bar + caps
                 and np.isfinite(np.asarray(line.get_ydata(), float)).any()]
    assert len(intervals) == (2 if iterations >= 3 else 0)
    mnist = figures.accuracy_per_method(_accuracy(3), ["random", "cosine"], "mnist")
    assert "reported on MNIST" in _texts(mnist) and "not mnist" not in _texts(mnist)



def test_04_curves_show_accuracy_in_percent_and_loss_as_it_is():
    from initlab.studies.baselines_transfer import figures

    curves = pd.DataFrame([dict(model="simple_cnn", epoch=e, split=s, metric=m, seed=0,
                                value=0.25 * e if m == "accuracy" else 2.0 / e)
                           for m in ("loss", "accuracy") for s in ("train", "val")
                           for e in (1, 2, 3)])
    fig = figures.learning_curves(curves, "t")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["simple_cnn: loss", "simple_cnn: accuracy (%)"]
    loss, accuracy = ([max(line.get_ydata()) for line in ax.lines if len(line.get_ydata())]
                      for ax in fig.axes)
    assert max(loss) == pytest.approx(2.0) and max(accuracy) == pytest.approx(75.0)
    variants = figures.transfer_curves(curves.rename(columns={"model": "variant"}))
    assert "simple_cnn: accuracy (%)" in [ax.get_title() for ax in variants.axes]


def test_04_transfer_title_names_the_interval_as_drawn_and_the_report_data():
    from initlab.studies.baselines_transfer import figures

    accuracy = pd.DataFrame([dict(variant=v, seed=s, accuracy=60.0 + s)
                             for v in ("scratch", "head") for s in range(2)])
    text = _texts(figures.transfer_accuracy(accuracy, "digits"))
    assert "no interval at n < 3" in text and "CI" not in text
    assert "red x: reported on alien vs predator" in text


def test_02_final_panel_legend_sits_under_the_axis_with_every_mark():
    """Figure 3's legend covered the dashed random line: it now sits under the x axis."""
    import matplotlib.pyplot as plt

    from initlab.studies.clustered_init import figures

    fig, ax = plt.subplots()
    ax.plot([0, 1], [50, 60], label="euclidean")
    ax.axhline(59, ls="--", label="random")
    marks = figures.mark_reported(ax, [([(0, 60.0), (1, 65.0)], "x", "reported euclidean")],
                                  "digits")
    assert marks is not ax and marks.get_ylim() == pytest.approx((58.0, 67.0))  # padded
    figures.legend_below(ax, marks)
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["euclidean", "random",
                                                         "reported euclidean"]
    assert marks.get_legend() is None
    fig.canvas.draw()
    box = legend.get_window_extent().transformed(ax.transAxes.inverted())
    assert box.y1 < 0  # wholly under the axis: nothing it names is covered
    plt.close(fig)
