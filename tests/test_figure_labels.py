"""What the figures say matches what they draw (issue 22): no promised interval or band that
is not there, marks named without covering the data, units and scales kept in range."""

from __future__ import annotations

import matplotlib
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
