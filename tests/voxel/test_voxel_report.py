"""Voxel figures: the data drawn are the data given."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fewlabel.report.voxel import accuracy_curve_figure, confusion_matrix_figure, grid_views_figure


def test_confusion_matrix_cells_hold_the_counts():
    fig = confusion_matrix_figure(np.array([0, 0, 1, 1, 1]), np.array([0, 1, 1, 1, 0]), ["a", "b"])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["1", "1", "1", "2"]
    assert "60.0%" in fig.axes[0].get_title()


def test_accuracy_curve_has_one_line_per_method_and_panel_per_dataset():
    df = pd.DataFrame({"dataset": ["g"] * 4 + ["c"] * 2, "method": ["pca", "pca", "cnn", "cnn", "pca", "pca"],
                       "n_unlabeled": [0, 10, 0, 10, 0, 10], "accuracy": [0.5, 0.6, 0.7, 0.9, 0.4, 0.5]})
    fig = accuracy_curve_figure(df)
    assert len(fig.axes) == 2
    assert len(fig.axes[0].get_legend().get_texts()) == 2 and len(fig.axes[1].get_legend().get_texts()) == 1


def test_grid_views_show_projections_of_each_grid():
    g = np.zeros((2, 6, 6, 6))
    g[0, 1, 2, :] = 1
    fig = grid_views_figure(g, [0, 1], ["a", "b"])
    img = fig.axes[0].images[0].get_array()  # xy projection of grid 0, transposed for display
    assert img[2, 1] == 6 and img.sum() == 6
    assert fig.axes[0].get_title() == "a"
