"""Small rotated-shape particle sets with known classes, made in memory (shared by classify2d tests)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def shape_templates(box: int = 24) -> np.ndarray:
    """Four asymmetric 2D 'molecules' (L, T, bar + blob, three blobs) on a ``box`` grid."""
    c = box // 2
    t = np.zeros((4, box, box), np.float32)
    u = box // 8
    t[0, c - 3 * u:c + 3 * u, c - u:c + u] = 1; t[0, c + u:c + 3 * u, c - u:c + 3 * u] = 1      # L
    t[1, c - 3 * u:c - u, c - 3 * u:c + 3 * u] = 1; t[1, c - u:c + 3 * u, c - u:c + u] = 1      # T
    t[2, c - u // 2 - 1:c + u // 2 + 1, c - 3 * u:c + 3 * u] = 1                                 # bar
    yy, xx = np.mgrid[:box, :box]
    t[2] += np.exp(-((yy - c + 2 * u) ** 2 + (xx - c - 2 * u) ** 2) / (2 * u**2))               # + blob
    for dy, dx in [(-2 * u, 0), (u, 2 * u), (u, -2 * u)]:
        t[3] += np.exp(-((yy - c - dy) ** 2 + (xx - c - dx) ** 2) / (1.2 * u**2))                # 3 blobs
    return np.stack([ndimage.gaussian_filter(x, 0.7) for x in t])


def make_shapes(n_per_class: int = 30, box: int = 24, snr: float | None = None, seed: int = 0,
                shift: float = 1.0):
    """Randomly rotated and shifted copies of :func:`shape_templates` plus Gaussian noise at ``snr``
    (signal variance / noise variance; None = clean). Returns (images [n, box, box], labels [n])."""
    rng = np.random.default_rng(seed)
    tmpl = shape_templates(box)
    images, labels = [], []
    for c, t in enumerate(tmpl):
        for _ in range(n_per_class):
            im = ndimage.rotate(t, rng.uniform(0, 360), reshape=False, order=1)
            im = ndimage.shift(im, rng.uniform(-shift, shift, 2), order=1)
            images.append(im)
            labels.append(c)
    images = np.stack(images).astype(np.float32)
    if snr is not None:
        sig = images.var(axis=(1, 2)).mean()
        images = images + rng.normal(0, np.sqrt(sig / snr), images.shape).astype(np.float32)
    return images, np.array(labels)
