"""Picking figures render from real metric/training outputs."""

import numpy as np
import pandas as pd

from fewlabel.pick.metrics import precision_recall
from fewlabel.report.figures import save_figure
from fewlabel.report.pick import pr_curve_figure, score_map_figure, training_curve_figure


def test_figures_written(tmp_path):
    curve = precision_recall(np.array([3.0, 2.0, 1.0]), np.array([True, False, True]), n_true=4)
    point = precision_recall(np.zeros(3), np.array([True, False, True]), n_true=4)
    fig = pr_curve_figure({"fewlabel": curve, "crYOLO": point})
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(f"AUPRC={curve.auprc:.3f}" in t for t in labels) and any("crYOLO" in t for t in labels)
    save_figure(fig, tmp_path / "pr.png")
    fig = training_curve_figure([{"epoch": 1, "loss": 1.0, "val_auprc": 0.2, "val_auprc_est": 0.5},
                                 {"epoch": 2, "loss": 0.5, "val_auprc": 0.4, "val_auprc_est": 0.9}])
    assert len(fig.axes) == 2  # loss and AUPRC axes
    assert len(fig.axes[1].lines) == 3  # labeled-only AUPRC, its all-particle estimate, best-epoch marker
    save_figure(fig, tmp_path / "train.png")
    img = np.random.default_rng(0).normal(size=(30, 40))
    fig = score_map_figure(img, img, pd.DataFrame({"x_coord": [3.0], "y_coord": [4.0]}))
    save_figure(fig, tmp_path / "map.png")
    assert all((tmp_path / f).stat().st_size > 1000 for f in ("pr.png", "train.png", "map.png"))
