"""classify2d figures: each returns a Figure with the expected panels, and saves as PNG."""

import numpy as np

from fewlabel.report import classify2d as figs
from fewlabel.report.figures import save_figure


def test_figures_have_expected_panels_and_save(tmp_path):
    m = np.array([[0.9, 0.1], [0.1, 0.8]])
    f = figs.similarity_heatmap(m, ["a", "b"])
    assert [t.get_text() for t in f.axes[0].texts] == ["0.90", "0.10", "0.10", "0.80"]
    xy = np.random.default_rng(0).normal(size=(20, 2))
    f = figs.embedding_scatter(xy, np.repeat([0, 1], 10), ["open", "closed"])
    assert [t.get_text() for t in f.axes[0].get_legend().get_texts()] == ["open (10)", "closed (10)"]
    f = figs.elbow_plot([1, 2, 3, 4], [10, 4, 1, 0.9], suggested=3, rule="Kneedle")
    assert "suggested k = 3" in f.axes[0].get_title()
    f = figs.class_average_gallery({0: np.eye(8), 1: np.ones((8, 8)), 2: np.zeros((8, 8))}, {0: 5, 1: 3, 2: 1},
                                   columns=2)
    assert len(f.axes) == 3 and f.axes[0].get_title() == "0 (n=5)"
    path = save_figure(f, tmp_path / "g.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
