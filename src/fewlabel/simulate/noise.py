"""Noise at a controlled per-particle SNR.

SNR definition used throughout fewlabel: the variance of the noise-free particle signal (after
the CTF) over the pixels of the particle *footprint* (disks of the particle radius around the
true centres), divided by the variance of the added noise. The noise is the sum of white
detector/shot noise and amorphous-ice structural noise (a random phase object seen through the
CTF, which is what makes the Thon rings in a micrograph's power spectrum); ``ice_fraction`` is
the share of the noise variance that comes from ice.
"""

from __future__ import annotations

import numpy as np

from fewlabel.simulate.ctf import CTFParams, ctf_2d


def footprint_mask(shape: tuple[int, int], centers: np.ndarray, radius: float | np.ndarray) -> np.ndarray:
    """Boolean mask of the pixels within ``radius`` (scalar or per centre) of any centre (col, row)."""
    mask = np.zeros(shape, dtype=bool)
    centers = np.asarray(centers, dtype=np.float64).reshape(-1, 2)
    radii = np.broadcast_to(np.asarray(radius, dtype=np.float64), (len(centers),))
    for (c, r), rad in zip(centers, radii):
        r0, r1 = max(int(np.floor(r - rad)), 0), min(int(np.ceil(r + rad)) + 1, shape[0])
        c0, c1 = max(int(np.floor(c - rad)), 0), min(int(np.ceil(c + rad)) + 1, shape[1])
        if r0 >= r1 or c0 >= c1:
            continue
        rr, cc = np.ogrid[r0:r1, c0:c1]
        mask[r0:r1, c0:c1] |= (rr - r) ** 2 + (cc - c) ** 2 <= rad**2
    return mask


def ice_noise(shape: tuple[int, int], pixel_size: float, ctf: CTFParams,
              rng: np.random.Generator) -> np.ndarray:
    """Unit-variance structural noise: white phase noise passed through the CTF and envelope."""
    from scipy import fft

    phase = rng.standard_normal(shape)
    img = fft.irfft2(fft.rfft2(phase) * ctf_2d(shape, pixel_size, ctf), s=shape)
    return img / img.std()


def make_noise(shape: tuple[int, int], pixel_size: float, ctf: CTFParams, rng: np.random.Generator,
               ice_fraction: float = 0.5) -> np.ndarray:
    """Unit-variance noise: ``sqrt(1-f)`` white + ``sqrt(f)`` CTF-filtered ice (``f = ice_fraction``)."""
    white = rng.standard_normal(shape)
    if ice_fraction <= 0:
        return white
    return np.sqrt(1 - ice_fraction) * white + np.sqrt(ice_fraction) * ice_noise(shape, pixel_size, ctf, rng)


def noise_sigma(signal: np.ndarray, footprint: np.ndarray, snr: float) -> float:
    """Noise standard deviation giving ``snr`` = var(signal in footprint) / noise variance."""
    return float(np.sqrt(signal[footprint].var() / snr))


def measured_snr(signal: np.ndarray, noise: np.ndarray, footprint: np.ndarray) -> float:
    """SNR by the definition above, measured on given signal and noise images."""
    return float(signal[footprint].var() / noise.var())
