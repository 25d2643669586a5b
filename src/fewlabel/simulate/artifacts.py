"""What a real micrograph has besides particles: ice-thickness gradients, contaminations and
carbon edges. Contaminations and carbon are hard negatives for a picker (dark, edged, sometimes
particle-sized); particles are never placed on them, so the truth table stays exact.

Every function returns float masks or fields in [0, 1] or zero-mean units; the micrograph
simulator scales them in units of the noise standard deviation.
"""

from __future__ import annotations

import numpy as np


def ice_gradient(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A smooth zero-mean field with peak-to-peak 1: a random linear ramp plus a random
    trigonometric surface of at most two periods across the image (ice thickness varying across
    the hole). Built separably (``Ry @ C @ Rx.T``), so it costs almost nothing."""
    rows, cols = shape
    y = np.arange(rows) / rows
    x = np.arange(cols) / cols

    def basis(t: np.ndarray) -> np.ndarray:
        return np.column_stack([np.ones_like(t), np.cos(2 * np.pi * t), np.sin(2 * np.pi * t),
                                np.cos(4 * np.pi * t), np.sin(4 * np.pi * t)])

    coef = rng.standard_normal((5, 5)) / (1 + np.add.outer(np.arange(5) // 2, np.arange(5) // 2))
    smooth = basis(y) @ coef @ basis(x).T
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.add.outer(np.sin(angle) * y, np.cos(angle) * x)
    field = ramp / max(np.ptp(ramp), 1e-9) + rng.uniform(0.3, 1.0) * smooth / max(np.ptp(smooth), 1e-9)
    field -= field.mean()
    return field / max(np.ptp(field), 1e-9)


def contaminations(shape: tuple[int, int], rng: np.random.Generator, n: int,
                   radius_range: tuple[float, float], edge: float = 2.0) -> tuple[np.ndarray, list[dict]]:
    """``n`` irregular dark blobs (ice crystals, ethane contamination), soft-edged.

    Radii are log-uniform in ``radius_range`` (pixels); the outline is a circle perturbed by
    random harmonics 2-4. Returns the mask in [0, 1] and one dict per blob (x, y, radius).
    """
    rows, cols = shape
    mask = np.zeros(shape, dtype=np.float64)
    blobs = []
    lo, hi = radius_range
    for _ in range(n):
        radius = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        x, y = rng.uniform(0, cols), rng.uniform(0, rows)
        harm = rng.uniform(0, 0.18, size=3)
        phases = rng.uniform(0, 2 * np.pi, size=3)
        reach = radius * (1 + harm.sum()) + 3 * edge
        r0, r1 = max(int(y - reach), 0), min(int(y + reach) + 1, rows)
        c0, c1 = max(int(x - reach), 0), min(int(x + reach) + 1, cols)
        if r0 >= r1 or c0 >= c1:
            continue
        rr, cc = np.mgrid[r0:r1, c0:c1]
        dy, dx = rr - y, cc - x
        theta = np.arctan2(dy, dx)
        outline = radius * (1 + sum(h * np.cos(m * theta + p) for m, h, p in zip((2, 3, 4), harm, phases)))
        inside = np.clip((outline - np.hypot(dx, dy)) / edge + 0.5, 0.0, 1.0)
        mask[r0:r1, c0:c1] = np.maximum(mask[r0:r1, c0:c1], inside)
        blobs.append({"x": x, "y": y, "radius": radius})
    return mask, blobs


def carbon_edge(shape: tuple[int, int], rng: np.random.Generator, edge: float = 3.0) -> tuple[np.ndarray, dict]:
    """Mask (1 on carbon) of a hole edge crossing the image: a large circle, so slightly curved.

    The edge passes through a random point of the central half of the image; the hole radius is
    3-10 image widths; carbon covers 15-50 % of the field.
    """
    rows, cols = shape
    size = max(rows, cols)
    hole_radius = rng.uniform(3, 10) * size
    angle = rng.uniform(0, 2 * np.pi)
    normal = np.array([np.cos(angle), np.sin(angle)])  # points from the hole into the carbon
    # place the edge so that the carbon side covers a fraction of the field
    frac = rng.uniform(0.15, 0.5)
    center_img = np.array([cols / 2, rows / 2])
    extent = 0.5 * (abs(normal[0]) * cols + abs(normal[1]) * rows)
    edge_point = center_img + normal * extent * (1 - 2 * frac)
    hole_center = edge_point - normal * hole_radius
    rr, cc = np.mgrid[0:rows, 0:cols]
    dist = np.hypot(cc - hole_center[0], rr - hole_center[1])
    mask = np.clip((dist - hole_radius) / edge + 0.5, 0.0, 1.0)
    return mask, {"hole_center_x": float(hole_center[0]), "hole_center_y": float(hole_center[1]),
                  "hole_radius": float(hole_radius)}
