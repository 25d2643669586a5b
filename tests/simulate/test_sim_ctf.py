"""CTF: wavelength, interaction constant, analytic zeros, astigmatism, sign convention."""

from __future__ import annotations

import numpy as np
import pytest

from fewlabel.errors import InputError
from fewlabel.simulate.ctf import (CTFParams, ctf_2d, ctf_from_frequencies, ctf_zeros, electron_wavelength,
                                   interaction_constant, random_ctf)


def test_wavelength_and_interaction_constant_reference_values():
    assert electron_wavelength(300) == pytest.approx(0.019687, abs=2e-6)
    assert electron_wavelength(200) == pytest.approx(0.025079, abs=2e-6)
    # Kirkland: sigma = 0.000653 (300 kV), 0.000729 (200 kV) rad/(V*A)
    assert interaction_constant(300) == pytest.approx(6.526e-4, rel=2e-3)
    assert interaction_constant(200) == pytest.approx(7.288e-4, rel=2e-3)


@pytest.mark.parametrize("cs", [0.0, 2.7])
def test_ctf_vanishes_at_the_analytic_zeros_and_changes_sign(cs):
    params = CTFParams(defocus_u=12000, defocus_v=12000, cs=cs, amplitude_contrast=0.1, bfactor=0)
    zeros = ctf_zeros(params, n=6)
    assert np.all(np.diff(zeros) > 0)
    kx = zeros
    assert np.abs(ctf_from_frequencies(kx, np.zeros_like(kx), params)).max() < 1e-9
    below = ctf_from_frequencies(zeros * 0.999, np.zeros(6), params)
    above = ctf_from_frequencies(zeros * 1.001, np.zeros(6), params)
    assert np.all(np.sign(below) == -np.sign(above))
    # no other zero in between: count sign changes on a fine 1D sample up to the 6th zero
    k = np.linspace(1e-4, zeros[-1] * 1.0005, 200001)
    values = ctf_from_frequencies(k, np.zeros_like(k), params)
    assert np.count_nonzero(np.diff(np.sign(values)) != 0) == 6


def test_zeros_on_the_2d_grid_follow_astigmatism():
    params = CTFParams(defocus_u=20000, defocus_v=14000, astigmatism_angle=30.0, bfactor=0)
    along_u, along_v = ctf_zeros(params, 3, angle=30.0), ctf_zeros(params, 3, angle=120.0)
    assert np.all(along_u < along_v)  # more defocus, zeros closer to the origin
    # sample the 2D grid along the U direction and find its first zero crossing
    n, pixel = 1024, 1.0
    grid = ctf_2d((n, n), pixel, params, real=False)
    t = np.deg2rad(30.0)
    radii = np.arange(1, n // 2 - 1)
    cols = np.round(radii * np.cos(t)).astype(int) % n
    rows = np.round(radii * np.sin(t)).astype(int) % n
    profile = grid[rows, cols]
    first = np.flatnonzero(np.diff(np.sign(profile)) != 0)[0]
    k_first = np.hypot(np.round(radii[first] * np.cos(t)), np.round(radii[first] * np.sin(t))) / (n * pixel)
    assert k_first == pytest.approx(along_u[0], abs=2.0 / (n * pixel))


def test_dc_value_is_amplitude_contrast_and_envelope_damps():
    params = CTFParams(amplitude_contrast=0.07, bfactor=100)
    grid = ctf_2d((64, 64), 1.0, params)
    assert grid[0, 0] == pytest.approx(0.07)
    no_env = ctf_2d((64, 64), 1.0, params, envelope=False)
    assert np.all(np.abs(grid) <= np.abs(no_env) + 1e-12)


def test_random_ctf_is_seeded_and_checks_the_range():
    a = random_ctf(np.random.default_rng(3), (10000, 20000), 400)
    b = random_ctf(np.random.default_rng(3), (10000, 20000), 400)
    assert a == b
    assert 10000 <= a.defocus <= 20000 and 0 <= a.defocus_u - a.defocus_v <= 400
    with pytest.raises(InputError, match="defocus"):
        random_ctf(np.random.default_rng(0), (20000, 10000))
