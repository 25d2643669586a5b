"""Classical, training-free particle features: the baselines the learned embedding must beat.

- :func:`pixel_features`: raw pixels (for PCA + k-means), not rotation invariant.
- :func:`polar_fourier_features`: invariant to in-plane shifts AND rotations: the 2D Fourier
  amplitude (shift invariant) is resampled on a polar grid and the amplitude of its angular
  Fourier transform is kept (rotation invariant), low frequencies only, log-compressed. This is the
  classical "rotational invariant" used for reference-free 2D alignment-free classification.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def standardize(images: np.ndarray) -> np.ndarray:
    """Each image to zero mean and unit standard deviation (float32)."""
    x = np.asarray(images, dtype=np.float32)
    m = x.mean(axis=(1, 2), keepdims=True)
    s = x.std(axis=(1, 2), keepdims=True)
    return (x - m) / np.maximum(s, 1e-6)


def pixel_features(images: np.ndarray, mask_radius: float | None = None) -> np.ndarray:
    """Standardised pixels inside a centred circle (radius default box/2), flattened ``[n, p]``."""
    x = standardize(images)
    b = x.shape[-1]
    r = b / 2 if mask_radius is None else mask_radius
    yy, xx = np.mgrid[:b, :b] - (b - 1) / 2
    inside = yy**2 + xx**2 <= r**2
    return x[:, inside]


def polar_fourier_features(images: np.ndarray, n_r: int | None = None, n_theta: int = 64,
                           n_harmonics: int = 16, max_freq: float = 0.5) -> np.ndarray:
    """Shift- and rotation-invariant features ``[n, n_r * n_harmonics]``.

    ``max_freq`` is the highest spatial frequency used (cycles/pixel, 0.5 = Nyquist): lower it for
    noisy data. Each image is standardised and apodised by a soft circular mask first.
    """
    x = standardize(images)
    n, b, _ = x.shape
    yy, xx = np.mgrid[:b, :b] - (b - 1) / 2
    rr = np.sqrt(yy**2 + xx**2)
    apod = 0.5 * (1 + np.cos(np.pi * np.clip((rr - (b / 2 - 4)) / 4, 0, 1)))
    pad = 2 * b  # zero-padding oversamples the spectrum, so polar interpolation is smooth
    amp = np.abs(np.fft.fftshift(np.fft.fft2(x * apod, s=(pad, pad)), axes=(1, 2)))
    c = pad // 2  # zero frequency after fftshift
    r_max = min(max_freq, 0.5) * b  # in frequency pixels of the unpadded box
    n_r = n_r or max(4, int(r_max))
    radii = np.linspace(r_max / n_r, r_max, n_r)  # skip r = 0 (the mean, constant after standardising)
    # harmonics above ~pi * r cannot be resolved on a circle of radius r px: keep them out
    keep = np.arange(n_harmonics)[None, :] <= np.maximum(1.0, np.pi * radii[:, None])
    t = np.linspace(0, 2 * np.pi, n_theta, endpoint=False)[None, :]
    coords = np.stack([c + 2 * radii[:, None] * np.sin(t), c + 2 * radii[:, None] * np.cos(t)])
    feats = np.empty((n, n_r, n_harmonics), dtype=np.float32)
    for i in range(n):
        p = ndimage.map_coordinates(amp[i], coords, order=1, mode="constant")
        feats[i] = np.abs(np.fft.rfft(p, axis=1))[:, :n_harmonics] / n_theta * keep
    return np.log1p(feats).reshape(n, -1)
