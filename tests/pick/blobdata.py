"""Tiny generated picking data: Gaussian blobs (the particles) in white noise."""

from __future__ import annotations

import numpy as np
import pandas as pd


def blob_micrographs(n: int, size: int = 128, per_image: int = 20, sigma: float = 2.5, noise: float = 0.8,
                     seed: int = 0, prefix: str = "m"):
    """``(images, names, truth)``: blobs at least 4 sigma apart, truth in Topaz columns."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    images, rows = [], []
    for k in range(n):
        pts: list[np.ndarray] = []
        while len(pts) < per_image:
            p = rng.uniform(6, size - 6, 2)
            if all(np.hypot(*(p - q)) > 4 * sigma for q in pts):
                pts.append(p)
        im = sum(np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma ** 2)) for x, y in pts)
        im = im + rng.normal(0, noise, im.shape)
        images.append(((im - im.mean()) / im.std()).astype(np.float32))
        rows += [(f"{prefix}{k}", float(x), float(y)) for x, y in pts]
    names = [f"{prefix}{k}" for k in range(n)]
    return images, names, pd.DataFrame(rows, columns=["image_name", "x_coord", "y_coord"])
