"""Point clouds and meshes -> n^3 voxel grids (binary occupancy or localization counts).

A point ``p`` goes to voxel ``floor((p - centre) / voxel_size + n / 2)``; points outside the grid
are dropped. By default the cloud is centred on its bounding box and scaled so its largest
extent spans ``n - 2 * padding`` voxels (ModelNet/3D ShapeNets use n=30, padding=3); a fixed
``voxel_size`` keeps physical scale (e.g. 10 nm voxels for SMLM, so size stays a feature).
Meshes are sampled densely on their triangles, voxelized the same way, and optionally filled
(binvox's default output is solid).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from fewlabel.errors import InputError

CENTRES = ("bbox", "centroid", "none")
EXTENTS = ("bbox", "robust")
MODES = ("binary", "count")


def _centre(points: np.ndarray, centre: str) -> np.ndarray:
    if centre == "bbox":
        return (points.min(axis=0) + points.max(axis=0)) / 2
    if centre == "centroid":
        return points.mean(axis=0)
    if centre == "none":
        return np.zeros(3)
    raise InputError(None, f"unknown centring {centre!r} (use {', '.join(CENTRES)})")


def fit_voxel_size(points: np.ndarray, n: int = 30, padding: int = 3, extent: str = "bbox",
                   centre: str = "bbox") -> float:
    """Voxel size that makes the cloud's largest extent span ``n - 2 * padding`` voxels.

    ``extent="robust"`` measures the extent between the 1st and 99th percentiles around the
    centre, so a few background localizations do not shrink the structure.
    """
    span = n - 2 * padding
    if span <= 0:
        raise InputError(None, f"padding {padding} leaves no room in a {n}^3 grid")
    if extent == "bbox":
        if centre == "bbox":
            ext = float((points.max(axis=0) - points.min(axis=0)).max())
        else:  # symmetric about the chosen centre so nothing falls off the grid
            ext = 2 * float(np.abs(points - _centre(points, centre)).max())
    elif extent == "robust":
        c = _centre(points, centre)
        ext = 2 * float(np.percentile(np.abs(points - c), 99, axis=0).max())
    else:
        raise InputError(None, f"unknown extent {extent!r} (use {', '.join(EXTENTS)})")
    ext = ext if ext > 0 else 1.0  # a single point or a flat degenerate cloud
    # a point exactly on the far face would land one past the edge: nudge the size up a hair
    return ext / span * (1 + 1e-9)


def voxelize_points(points: np.ndarray, n: int = 30, *, voxel_size: float | None = None,
                    centre: str = "bbox", padding: int = 3, extent: str = "bbox",
                    mode: str = "binary") -> np.ndarray:
    """Voxelize one (N, 2|3) cloud into an ``(n, n, n)`` grid, axes (x, y, z).

    ``mode="binary"`` gives uint8 occupancy, ``mode="count"`` float32 localizations per voxel.
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] not in (2, 3):
        raise InputError(None, f"points must be (N, 3), got shape {pts.shape}")
    if len(pts) == 0:
        raise InputError(None, "point cloud is empty")
    if not np.all(np.isfinite(pts)):
        raise InputError(None, "point cloud has NaN or infinite coordinates")
    if pts.shape[1] == 2:
        pts = np.column_stack([pts, np.zeros(len(pts))])
    if mode not in MODES:
        raise InputError(None, f"unknown mode {mode!r} (use {', '.join(MODES)})")
    if n < 2:
        raise InputError(None, f"grid size must be at least 2, got {n}")
    c = _centre(pts, centre)
    size = fit_voxel_size(pts, n, padding, extent, centre) if voxel_size is None else float(voxel_size)
    if not size > 0:
        raise InputError(None, f"voxel size must be positive, got {voxel_size}")
    idx = np.floor((pts - c) / size + n / 2).astype(np.int64)
    keep = np.all((idx >= 0) & (idx < n), axis=1)
    idx = idx[keep]
    flat = np.ravel_multi_index(idx.T, (n, n, n))
    counts = np.bincount(flat, minlength=n ** 3).reshape(n, n, n)
    if mode == "binary":
        return (counts > 0).astype(np.uint8)
    return counts.astype(np.float32)


def voxelize_clouds(clouds: Iterable[np.ndarray], n: int = 30, **kwargs) -> np.ndarray:
    """Voxelize many clouds with the same settings -> ``(m, n, n, n)`` array."""
    grids = [voxelize_points(c, n, **kwargs) for c in clouds]
    if not grids:
        raise InputError(None, "no point clouds to voxelize")
    return np.stack(grids)


def sample_mesh_surface(vertices: np.ndarray, faces: np.ndarray, spacing: float) -> np.ndarray:
    """Points on every triangle on a barycentric lattice no coarser than ``spacing``.

    Deterministic (no random sampling), so the same mesh always gives the same grid; small
    triangles contribute at least their corners and centroid.
    """
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    if len(f) == 0:
        return v.copy()
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    longest = np.max([np.linalg.norm(b - a, axis=1), np.linalg.norm(c - b, axis=1),
                      np.linalg.norm(a - c, axis=1)], axis=0)
    steps = np.clip(np.ceil(longest / spacing), 1, 4096).astype(np.int64)
    out = [v, (a + b + c) / 3]
    for k in np.unique(steps):
        sel = steps == k
        i, j = np.meshgrid(np.arange(k + 1), np.arange(k + 1), indexing="ij")
        ok = (i + j) <= k
        u, w = i[ok] / k, j[ok] / k  # barycentric weights of b and c
        aa, bb, cc = a[sel], b[sel], c[sel]
        pts = aa[:, None] + u[None, :, None] * (bb - aa)[:, None] + w[None, :, None] * (cc - aa)[:, None]
        out.append(pts.reshape(-1, 3))
    return np.concatenate(out)


def voxelize_mesh(vertices: np.ndarray, faces: np.ndarray, n: int = 30, *, padding: int = 3,
                  fill: bool = True) -> np.ndarray:
    """Voxelize a triangle mesh: bounding-box centred, largest extent = ``n - 2 * padding`` voxels.

    ``fill=True`` fills enclosed cavities (scipy ``binary_fill_holes``), like binvox's carving.
    """
    from scipy import ndimage

    v = np.asarray(vertices, dtype=np.float64)
    if len(v) == 0:
        raise InputError(None, "mesh has no vertices")
    size = fit_voxel_size(v, n, padding)
    pts = sample_mesh_surface(v, faces, spacing=size / 3)
    grid = voxelize_points(pts, n, voxel_size=size, centre="bbox", mode="binary")
    if fill:
        grid = ndimage.binary_fill_holes(grid).astype(np.uint8)
    return grid


def voxel_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two binary grids of the same shape."""
    a, b = np.asarray(a) > 0, np.asarray(b) > 0
    if a.shape != b.shape:
        raise InputError(None, f"grid shapes differ: {a.shape} vs {b.shape}")
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0
