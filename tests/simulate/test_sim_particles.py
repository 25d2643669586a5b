"""Labeled particle sets: shapes, balance, determinism, view classes, SNR, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.transform import Rotation

from fewlabel.errors import InputError
from fewlabel.simulate.particles import (parse_snr, rotation_for_view, sample_cone, simulate_particles,
                                        view_directions)

SMALL = dict(box=32, seed=3)


def test_molecule_classes_are_balanced_shuffled_and_deterministic():
    images, labels = simulate_particles(6, classes=("adk_open", "adk_closed", "5a7u"), snr=0.1, **SMALL)
    assert images.shape == (18, 32, 32) and images.dtype == np.float32
    assert labels["label"].value_counts().to_dict() == {0: 6, 1: 6, 2: 6}
    assert list(labels["index"]) == list(range(18))
    assert labels.attrs["class_names"] == ["adk_open", "adk_closed", "5a7u"]
    assert (labels["class_name"] == labels["molecule"]).all()
    assert not (np.diff(labels["label"].to_numpy()) >= 0).all()  # interleaved, not sorted
    np.testing.assert_allclose(images.mean(axis=(1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(images.std(axis=(1, 2)), 1, atol=1e-4)
    again_images, again_labels = simulate_particles(6, classes=("adk_open", "adk_closed", "5a7u"), snr=0.1,
                                                    **SMALL)
    np.testing.assert_array_equal(images, again_images)
    pd.testing.assert_frame_equal(labels, again_labels)


def test_view_classes_cluster_their_viewing_directions():
    _, labels = simulate_particles(20, classes="views", n_views=4, view_spread=10.0, snr="clean", **SMALL)
    dirs = np.asarray(labels.attrs["view_directions"])
    assert dirs.shape == (4, 3)
    rots = Rotation.from_euler("ZYZ", labels[["rot", "tilt", "psi"]].to_numpy(), degrees=True)
    seen = rots.inv().apply([0.0, 0.0, 1.0])  # the molecule direction that ends on the viewing axis
    cos_to_class = np.einsum("ij,ij->i", seen, dirs[labels["label"].to_numpy()])
    assert np.degrees(np.arccos(np.clip(cos_to_class, -1, 1))).max() <= 10.0 + 1e-6
    # tetrahedral class directions are 109.5 degrees apart
    angles = np.degrees(np.arccos(np.clip(dirs @ dirs.T, -1, 1)))[np.triu_indices(4, 1)]
    np.testing.assert_allclose(angles, 109.47, atol=0.01)


def test_view_helpers():
    rng = np.random.default_rng(0)
    d = np.array([0.3, -0.5, 0.8])
    d /= np.linalg.norm(d)
    np.testing.assert_allclose(rotation_for_view(d, 1.3).apply(d), [0, 0, 1], atol=1e-12)
    cone = sample_cone(d, 15.0, 500, rng)
    assert np.degrees(np.arccos(np.clip(cone @ d, -1, 1))).max() <= 15.0 + 1e-9
    six = view_directions(6, rng)
    assert np.allclose(np.linalg.norm(six, axis=1), 1)


def test_noise_is_added_at_the_requested_pooled_snr():
    from fewlabel.simulate.density import load_molecule
    from fewlabel.simulate.noise import footprint_mask

    kwargs = dict(classes=("adk_open", "5a7u"), max_shift=0.0, normalize=False, **SMALL)
    clean, labels = simulate_particles(8, snr="clean", **kwargs)
    pixel = labels.attrs["pixel_size"]
    radius = {m: load_molecule(m).radius / pixel for m in ("adk_open", "5a7u")}
    signal_var = np.mean([img[footprint_mask(img.shape, [(16, 16)], radius[m])].var()
                          for img, m in zip(clean, labels["molecule"])])
    for snr in (0.1, 0.03):
        noisy, _ = simulate_particles(8, snr=snr, **kwargs)  # same seed: same particles, CTFs
        noise = noisy.astype(np.float64) - clean
        assert signal_var / noise.var() == pytest.approx(snr, rel=0.1)


def test_parse_snr_and_bad_options():
    assert parse_snr("clean") is None and parse_snr("0.1") == 0.1 and parse_snr(float("inf")) is None
    with pytest.raises(InputError):
        parse_snr("loud")
    with pytest.raises(InputError):
        parse_snr(-1)
    for bad in (dict(n_per_class=0), dict(box=8), dict(classes=("adk_open",)),
                dict(classes=("adk_open", "adk_open")), dict(classes="views", n_views=1),
                dict(defocus_range=(2.0, 1.0)), dict(pixel_size=-1.0)):
        kwargs = {"n_per_class": 2, **SMALL, **bad}
        with pytest.raises(InputError):
            simulate_particles(**kwargs)
