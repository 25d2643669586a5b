"""Micrograph simulator: determinism, SNR, truth on particles, hard negatives, written files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from fewlabel.errors import InputError
from fewlabel.simulate.micrographs import (labeled_order, make_config, micrograph_rng, simulate_micrograph,
                                          simulate_micrographs)

# small and fast: adk at 2.5 A/px is ~30 px across
SMALL = dict(shape=(256, 256), pixel_size=2.5, particles_per_micrograph=25)


@pytest.fixture(scope="module")
def sim():
    return simulate_micrograph(make_config(**SMALL, carbon_probability=0.0, contaminations_per_micrograph=0),
                               micrograph_rng(5, 0))


def test_same_seed_same_micrograph_other_seed_differs(sim):
    config = make_config(**SMALL, carbon_probability=0.0, contaminations_per_micrograph=0)
    again = simulate_micrograph(config, micrograph_rng(5, 0))
    np.testing.assert_array_equal(sim.image, again.image)
    pd.testing.assert_frame_equal(sim.truth, again.truth)
    other = simulate_micrograph(config, micrograph_rng(6, 0))
    assert not np.array_equal(sim.image[:64, :64], other.image[:64, :64])


def test_noise_is_at_the_requested_per_particle_snr(sim):
    assert len(sim.truth) >= 10
    measured = sim.signal[sim.footprint].var() / sim.noise.var()
    assert measured == pytest.approx(0.05, rel=0.05)
    config = make_config(**SMALL, snr=0.5, carbon_probability=0.0, contaminations_per_micrograph=0)
    clearer = simulate_micrograph(config, micrograph_rng(5, 0))
    assert clearer.signal[clearer.footprint].var() / clearer.noise.var() == pytest.approx(0.5, rel=0.05)


def test_truth_coordinates_sit_on_dark_particles():
    config = make_config(**SMALL, snr=0.5, ice_gradient=0.0, carbon_probability=0.0,
                         contaminations_per_micrograph=0, overlap_fraction=0.0)
    s = simulate_micrograph(config, micrograph_rng(11, 0))
    smooth = ndimage.gaussian_filter(s.image.astype(np.float64), 3)
    radius = 0.5 * 73.8 / 2.5
    rows, cols = np.indices(s.image.shape)
    on = [smooth[(rows - y) ** 2 + (cols - x) ** 2 <= (0.5 * radius) ** 2].mean()
          for x, y in s.truth[["x_coord", "y_coord"]].to_numpy()]
    background = smooth[~s.footprint].mean()
    # particles are darker than the background, every one of them, and on average by a lot
    assert np.mean(on) < background - 2 * smooth[~s.footprint].std()
    assert np.mean(np.asarray(on) < background) > 0.9
    # shifted coordinates (by one particle radius) are much less dark than the true ones
    shifted = [smooth[(rows - y) ** 2 + (cols - x - 2 * radius) ** 2 <= (0.5 * radius) ** 2].mean()
               for x, y in s.truth[["x_coord", "y_coord"]].to_numpy() if x + 2.5 * radius < 256]
    assert np.mean(shifted) > np.mean(on)


def test_particles_avoid_contaminations_and_carbon_and_some_overlap():
    config = make_config(shape=(384, 384), pixel_size=2.5, particles_per_micrograph=60,
                         contaminations_per_micrograph=4, carbon_probability=1.0, overlap_fraction=0.3)
    s = simulate_micrograph(config, micrograph_rng(2, 3))
    xy = s.truth[["x_coord", "y_coord"]].to_numpy()
    for blob in s.info["contaminations"]:
        d = np.hypot(xy[:, 0] - blob["x"], xy[:, 1] - blob["y"])
        assert np.all(d > 0.46 * blob["radius"])
    carbon = s.info["carbon"]
    d_hole = np.hypot(xy[:, 0] - carbon["hole_center_x"], xy[:, 1] - carbon["hole_center_y"])
    assert np.all(d_hole < carbon["hole_radius"])
    assert s.truth["overlap"].any()
    diam = 73.8 / 2.5
    flagged = xy[s.truth["overlap"].to_numpy()]
    nearest = np.sort(np.hypot(*(flagged[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)), axis=1)[:, 1]
    assert np.all(nearest < diam)
    margin = 0.5 * diam / 2
    assert xy.min() >= margin - 1e-6 and xy.max() <= 384 - 1 - margin + 1e-6


def test_junk_is_drawn_but_kept_out_of_the_truth_and_off_particles():
    config = make_config(**{**SMALL, "particles_per_micrograph": 12}, junk_per_micrograph=6,
                         carbon_probability=0.0, contaminations_per_micrograph=0)
    s = simulate_micrograph(config, micrograph_rng(3, 1))
    junk = s.info["junk"]
    assert len(junk) >= 2 and {j["kind"] for j in junk} <= {"fragment", "aggregate"}
    xy = s.truth[["x_coord", "y_coord"]].to_numpy()
    r_particle = 0.5 * 73.8 / 2.5
    for j in junk:
        assert np.all(np.hypot(xy[:, 0] - j["x"], xy[:, 1] - j["y"]) >= 0.8 * (r_particle + j["radius"]) - 1e-6)
    # junk adds contrast that is not part of the particle signal
    no_junk = simulate_micrograph(make_config(**{**SMALL, "particles_per_micrograph": 12}, junk_per_micrograph=0,
                                              carbon_probability=0.0, contaminations_per_micrograph=0),
                                  micrograph_rng(3, 1))
    np.testing.assert_array_equal(s.signal, no_junk.signal)


def test_labeled_order_is_nested_and_spread_over_micrographs():
    truth = pd.DataFrame({"image_name": np.repeat(["a", "b", "c", "d"], [50, 5, 20, 1]),
                          "x_coord": np.arange(76.0), "y_coord": np.arange(76.0)})
    order = labeled_order(truth, np.random.default_rng(0))
    assert len(order) == 76 and set(order["x_coord"]) == set(truth["x_coord"])
    assert order["image_name"].iloc[:4].nunique() == 4
    assert order["image_name"].iloc[:10].value_counts().max() <= 3
    again = labeled_order(truth, np.random.default_rng(0))
    pd.testing.assert_frame_equal(order, again)


def test_bad_parameters_raise_input_error():
    for bad in (dict(snr=0), dict(pixel_size=-1), dict(defocus_min=3, defocus_max=1), dict(shape=(8, 8)),
                dict(molecules=("nonexistent_protein",))):
        with pytest.raises(InputError):
            simulate_micrographs("/nonexistent/never/written", n=1, **bad)
    with pytest.raises(InputError, match="unknown simulation parameter"):
        make_config(snrr=0.1)


def test_simulate_micrographs_writes_readable_deterministic_files(tmp_path):
    from fewlabel.io.micrographs import read_micrograph
    from fewlabel.io.picks import read_picks

    kwargs = dict(n=3, seed=4, labeled_sizes=(5, 20, 10000), progress=False, **SMALL)
    summary = simulate_micrographs(tmp_path / "a", **kwargs)
    simulate_micrographs(tmp_path / "b", **kwargs)
    mics = sorted((tmp_path / "a" / "micrographs").glob("*.mrc"))
    assert [m.name for m in mics] == ["mic_0000.mrc", "mic_0001.mrc", "mic_0002.mrc"]
    for m in mics:
        a, b = read_micrograph(m), read_micrograph(tmp_path / "b" / "micrographs" / m.name)
        assert a.image.shape == (256, 256) and a.pixel_size == pytest.approx(2.5)
        np.testing.assert_array_equal(a.image, b.image)
    truth = read_picks(tmp_path / "a" / "truth.tsv")
    star = read_picks(tmp_path / "a" / "truth.star")
    pd.testing.assert_frame_equal(truth, read_picks(tmp_path / "b" / "truth.tsv"))
    np.testing.assert_allclose(star[["x_coord", "y_coord"]], truth[["x_coord", "y_coord"]])
    assert len(truth) == summary["n_particles"] > 20
    assert sorted(summary["files"]["labeled"]) == ["20", "5"]  # 10000 is capped away
    labeled = read_picks(tmp_path / "a" / "labeled_20.tsv")
    assert len(labeled) == 20 and labeled["image_name"].nunique() == 3
    merged = labeled.merge(truth, on=["image_name", "x_coord", "y_coord"])
    assert len(merged) == 20  # positives only
    meta = json.loads((tmp_path / "a" / "simulation.json").read_text())
    assert meta["seed"] == 4 and meta["pixel_size"] == 2.5
    assert meta["particle_diameter_px"] == pytest.approx(73.76 / 2.5, abs=0.05)
    assert len(meta["micrographs"]) == 3 and "defocus_u" in meta["micrographs"][0]["ctf"]
    assert sum(m["n_particles"] for m in meta["micrographs"]) == len(truth)


def test_results_do_not_depend_on_the_number_of_workers(tmp_path):
    from fewlabel.io.micrographs import read_micrograph

    kwargs = dict(n=2, seed=9, progress=False, shape=(96, 96), pixel_size=4.0, particles_per_micrograph=6)
    one = simulate_micrographs(tmp_path / "one", workers=1, **kwargs)
    two = simulate_micrographs(tmp_path / "two", workers=2, **kwargs)
    assert one["n_particles"] == two["n_particles"]
    for name in ("mic_0000.mrc", "mic_0001.mrc"):
        np.testing.assert_array_equal(read_micrograph(tmp_path / "one" / "micrographs" / name).image,
                                      read_micrograph(tmp_path / "two" / "micrographs" / name).image)
    assert (tmp_path / "one" / "truth.tsv").read_text() == (tmp_path / "two" / "truth.tsv").read_text()


def test_refuses_a_folder_with_micrographs_from_another_run(tmp_path):
    (tmp_path / "micrographs").mkdir()
    (tmp_path / "micrographs" / "mic_0007.mrc").write_bytes(b"old")
    with pytest.raises(InputError, match="would not write"):
        simulate_micrographs(tmp_path, n=2, progress=False, shape=(64, 64))
    assert (tmp_path / "micrographs" / "mic_0007.mrc").read_bytes() == b"old"
