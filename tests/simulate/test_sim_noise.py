"""Noise model: unit variance, CTF-shaped ice component, footprint masks."""

from __future__ import annotations

import numpy as np
import pytest

from fewlabel.simulate.ctf import CTFParams, ctf_zeros
from fewlabel.simulate.noise import footprint_mask, ice_noise, make_noise, measured_snr, noise_sigma


def test_footprint_area_and_clipping():
    mask = footprint_mask((200, 200), [(100.0, 100.0), (0.0, 0.0)], 20.0)
    full = np.pi * 20**2
    assert mask.sum() == pytest.approx(full * 1.25, rel=0.03)  # one full disk + a quarter at the corner
    assert mask[100, 100] and not mask[100, 125]


def test_noise_has_unit_variance_and_ice_follows_the_ctf():
    shape, pixel = (512, 512), 1.0
    ctf = CTFParams(defocus_u=15000, defocus_v=15000, bfactor=0)
    noise = make_noise(shape, pixel, ctf, np.random.default_rng(1), ice_fraction=0.5)
    assert noise.var() == pytest.approx(1.0, rel=0.02)
    ice = ice_noise(shape, pixel, ctf, np.random.default_rng(2))
    power = np.abs(np.fft.rfft2(ice)) ** 2
    ky = np.fft.fftfreq(shape[0], pixel)[:, None]
    kx = np.fft.rfftfreq(shape[1], pixel)[None, :]
    k = np.hypot(kx, ky)
    zero = ctf_zeros(ctf, 3)[2]
    near_zero = power[np.abs(k - zero) < 0.3 / shape[0]].mean()
    ring = power[(k > 0.02) & (k < 0.3)].mean()
    assert near_zero < 0.05 * ring


def test_sigma_for_snr_gives_that_snr():
    rng = np.random.default_rng(0)
    signal = rng.normal(size=(100, 100))
    mask = footprint_mask(signal.shape, [(50, 50)], 30)
    sigma = noise_sigma(signal, mask, 0.05)
    noise = sigma * rng.standard_normal(signal.shape)
    assert measured_snr(signal, noise, mask) == pytest.approx(0.05, rel=0.05)
