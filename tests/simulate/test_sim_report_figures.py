"""Figures of fewlabel.report.micrograph: picks circles per set, power spectrum with Thon rings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fewlabel.report.figures import save_figure
from fewlabel.report.micrograph import plot_micrograph_picks, plot_power_spectrum, power_spectrum


def test_picks_figure_draws_one_circle_set_per_table(tmp_path):
    image = np.random.default_rng(0).normal(size=(300, 400)).astype(np.float32)
    truth = pd.DataFrame({"image_name": ["a", "a", "b"], "x_coord": [10.0, 200, 50], "y_coord": [20.0, 150, 60]})
    pred = pd.DataFrame({"x_coord": [12.0], "y_coord": [22.0], "score": [0.9]})
    fig = plot_micrograph_picks(image, {"truth": truth, "predicted": pred}, radius=15, image_name="a",
                                title="overlay")
    ax = fig.axes[0]
    offsets = [c.get_offsets() for c in ax.collections]
    assert [len(o) for o in offsets] == [2, 1]  # truth filtered to micrograph "a"
    np.testing.assert_allclose(offsets[0], [[10, 20], [200, 150]])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["truth (2)", "predicted (1)"]
    path = save_figure(fig, tmp_path / "overlay.png")
    assert path.stat().st_size > 1000


def test_power_spectrum_shows_rings_of_a_ctf_filtered_image(tmp_path):
    from fewlabel.simulate.ctf import CTFParams, ctf_zeros
    from fewlabel.simulate.noise import ice_noise

    ctf = CTFParams(defocus_u=15000, defocus_v=15000, bfactor=0)
    image = ice_noise((512, 512), 1.0, ctf, np.random.default_rng(0))
    ps = power_spectrum(image, tile=512)
    assert ps.shape == (512, 512)
    yy, xx = np.indices(ps.shape) - 256
    k = np.hypot(yy, xx) / 512
    zero = ctf_zeros(ctf, 2)[1]
    peak = (ctf_zeros(ctf, 2)[0] + zero) / 2
    assert ps[np.abs(k - zero) < 1 / 512].mean() < 0.2 * ps[np.abs(k - peak) < 1 / 512].mean()
    fig = plot_power_spectrum(image, pixel_size=1.0, tile=256, rings=ctf_zeros(ctf, 4), max_frequency=0.3)
    assert fig.axes[0].get_xlim() == pytest.approx((-0.3, 0.3))
    assert len(fig.axes[0].patches) == 4
    assert save_figure(fig, tmp_path / "ps.png").stat().st_size > 1000
