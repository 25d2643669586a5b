"""Non-maximum suppression on score maps: local maxima within a disk, vectorized.

A pixel is a pick if it holds the maximum of the score map over the disk of ``radius`` pixels
around it (``scipy.ndimage.maximum_filter`` with a disk footprint: one C pass, no Python loop
over pixels). Equal-score plateaus can leave several maxima closer than ``radius``; a greedy
pass over those few candidates (not over pixels) keeps one of each.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree


def disk(radius: float) -> np.ndarray:
    """Boolean disk footprint of the given radius (pixels within ``radius`` of the centre)."""
    r = int(np.floor(radius))
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    return (xx ** 2 + yy ** 2) <= radius ** 2


def non_maximum_suppression(scores: np.ndarray, radius: float,
                            threshold: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Peaks of a 2-D score map: returns ``(xy [n, 2] as (column, row), scores [n])``, best first."""
    scores = np.asarray(scores, dtype=np.float32)
    radius = max(float(radius), 0.0)
    peak = ndimage.maximum_filter(scores, footprint=disk(radius), mode="constant", cval=-np.inf)
    keep = (scores == peak) & np.isfinite(scores)
    if threshold is not None:
        keep &= scores >= threshold
    rows, cols = np.nonzero(keep)
    vals = scores[rows, cols]
    order = np.argsort(-vals, kind="stable")
    xy = np.stack([cols[order], rows[order]], axis=1).astype(float)
    vals = vals[order]
    if len(xy) > 1 and radius > 0:
        xy, vals = _drop_plateau_duplicates(xy, vals, radius)
    return xy, vals


def _drop_plateau_duplicates(xy: np.ndarray, vals: np.ndarray, radius: float):
    """Greedy suppression among candidate peaks that have a neighbour within ``radius``."""
    pairs = cKDTree(xy).query_pairs(radius, output_type="ndarray")
    if len(pairs) == 0:
        return xy, vals
    removed = np.zeros(len(xy), dtype=bool)
    neighbours: dict[int, list[int]] = {}
    for a, b in pairs:
        neighbours.setdefault(int(a), []).append(int(b))
        neighbours.setdefault(int(b), []).append(int(a))
    for i in sorted(neighbours):  # candidates are sorted best first
        if not removed[i]:
            for j in neighbours[i]:
                if j > i:
                    removed[j] = True
    return xy[~removed], vals[~removed]
