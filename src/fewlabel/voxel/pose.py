"""Canonical pose of voxel grids: centre of mass to the grid centre, scale by the radius of gyration,
optionally principal axes (inertia tensor) along x, y, z.

Why: a featurizer fit on raw grids spends its components on *where* and *how big* a structure is
(random position and size in simulated sets, stray placement in real ones) rather than on its
shape, so an SVM on those features cannot tell shapes apart. Resampling every grid into one frame
removes position and scale (and, with ``align``, orientation up to axis signs) before featurizing.

Moments of a binary grid use its voxels directly. For any other grid (noisy densities, SMLM
localization counts) they use only its foreground: the voxels where the grid smoothed by a
1-voxel Gaussian exceeds Otsu's threshold. Without that, additive noise or stray background far
from the structure dominates the second moments (r^2 weighting) and the scale is mostly noise.
Binary grids stay binary (trilinear resampling thresholded at 0.5, uint8), other grids stay
float32, so a normalised set takes the same memory as the input.
"""

from __future__ import annotations

import numpy as np

from fewlabel.errors import InputError

POSES = ("none", "centre", "scale", "align")
# target radius of gyration as a fraction of the grid edge: a solid sphere then has radius ~0.32 n
# and a cube's corners reach ~0.43 n from the centre, so the usual shapes stay inside the grid
TARGET_RG = 0.25


def check_pose(pose: str) -> str:
    """Validate a pose option (``none | centre | scale | align``; each implies the ones before)."""
    if pose not in POSES:
        raise InputError(None, f"unknown pose {pose!r} (use {', '.join(POSES)})")
    return pose


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold: the cut maximising the between-class variance of a value histogram."""
    v = np.asarray(values, dtype=np.float64).ravel()
    lo, hi = float(v.min()), float(v.max())
    if not hi > lo:
        return lo
    hist, edges = np.histogram(v, bins=bins, range=(lo, hi))
    mids = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    s0 = np.cumsum(hist * mids)
    m0 = s0 / np.maximum(w0, 1)
    m1 = (s0[-1] - s0) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2
    return float(edges[1:][np.argmax(between[:-1])]) if bins > 1 else lo


def foreground_weights(grid: np.ndarray) -> np.ndarray:
    """Weights for the pose moments: a binary grid itself, else its values on the Otsu foreground."""
    from scipy import ndimage

    g = np.asarray(grid, dtype=np.float32)
    if np.all((g == 0) | (g == 1)):
        return g
    smooth = ndimage.gaussian_filter(g, 1.0)
    return np.where(smooth > otsu_threshold(smooth), np.maximum(g, 0), 0).astype(np.float32)


def grid_moments(grid: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(mass, centre of mass (3,) in voxel indices, second-moment covariance (3, 3)) of one grid."""
    g = np.asarray(grid, dtype=np.float64)
    n = g.shape[0]
    ax = np.arange(n, dtype=np.float64)
    mass = float(g.sum())
    if not mass > 0:
        c = np.full(3, (n - 1) / 2)
        return mass, c, np.eye(3)
    # marginal sums give the first moments cheaply; the second moments need the full products
    c = np.array([(g.sum(axis=tuple(j for j in range(3) if j != i)) * ax).sum() for i in range(3)]) / mass
    d = [ax - c[i] for i in range(3)]
    cov = np.empty((3, 3))
    for i in range(3):
        for j in range(i, 3):
            if i == j:
                w = g.sum(axis=tuple(k for k in range(3) if k != i))
                cov[i, i] = (w * d[i] ** 2).sum() / mass
            else:
                k = 3 - i - j
                w = g.sum(axis=k)  # 2D marginal over the remaining axis, axes (i, j) in order
                cov[i, j] = cov[j, i] = (w * np.outer(d[i], d[j])).sum() / mass
    return mass, c, cov


def _principal_axes(g: np.ndarray, c: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Rotation whose columns are the principal axes (largest variance first), signs fixed by skewness."""
    evals, evecs = np.linalg.eigh(cov)
    R = evecs[:, ::-1].copy()
    n = g.shape[0]
    pts = np.stack(np.meshgrid(*[np.arange(n)] * 3, indexing="ij"), -1).reshape(-1, 3) - c
    w = g.reshape(-1)
    proj = pts @ R
    skew = (w[:, None] * proj ** 3).sum(axis=0)
    R *= np.where(skew < 0, -1.0, 1.0)[None, :]
    if np.linalg.det(R) < 0:  # keep a proper rotation (no mirroring): flip the least certain axis
        R[:, 2] *= -1
    return R


def normalize_pose(grid: np.ndarray, pose: str = "scale", target_rg: float = TARGET_RG) -> np.ndarray:
    """One grid resampled into the canonical frame of ``pose`` (see module docstring).

    ``centre``: centre of mass to the grid centre (whole-voxel shift, exact); ``scale``: also radius of gyration to
    ``target_rg * n`` voxels; ``align``: also principal axes to x, y, z (largest first).
    """
    from scipy import ndimage

    check_pose(pose)
    g = np.asarray(grid)
    if pose == "none":
        return g
    n = g.shape[0]
    binary = g.dtype == np.uint8 or g.dtype == bool
    gf = g.astype(np.float32)
    w = foreground_weights(gf)
    mass, c, cov = grid_moments(w)
    if not mass > 0:
        return g.copy()
    mid = np.full(3, (n - 1) / 2)
    M = np.eye(3)
    if pose in ("scale", "align"):
        rg = float(np.sqrt(max(np.trace(cov), 1e-12)))
        M = M * (rg / (target_rg * n))  # output voxel step -> input voxels
    if pose == "align":
        M = _principal_axes(w, c, cov) @ M
    if pose == "centre":  # a whole-voxel shift is exact: no interpolation blur
        out = ndimage.shift(gf, np.round(mid - c), order=0, mode="constant", cval=0.0)
        return out.astype(g.dtype if binary else np.float32)
    out = ndimage.affine_transform(gf, M, offset=c - M @ mid, order=1, mode="constant", cval=0.0)
    if binary:
        return (out >= 0.5).astype(np.uint8)
    return out.astype(np.float32)


def normalize_poses(X: np.ndarray, pose: str = "scale", target_rg: float = TARGET_RG) -> np.ndarray:
    """:func:`normalize_pose` of every grid in an (m, n, n, n) stack (same dtype out; ``none``: X itself)."""
    check_pose(pose)
    if pose == "none":
        return X
    out = np.empty(X.shape, dtype=np.uint8 if X.dtype in (np.uint8, bool) else np.float32)
    for i in range(len(X)):
        out[i] = normalize_pose(X[i], pose, target_rg)
    return out


def rotate_grid(grid: np.ndarray, R: np.ndarray) -> np.ndarray:
    """One grid rotated by the 3x3 matrix ``R`` about the grid centre.

    Binary grids use nearest-neighbour sampling (trilinear + threshold would erase sparse or
    one-voxel-thin occupancy such as SMLM localizations or chair legs); other grids trilinear.
    """
    from scipy import ndimage

    g = np.asarray(grid)
    n = g.shape[0]
    mid = np.full(3, (n - 1) / 2)
    M = np.asarray(R, dtype=np.float64).T  # output index -> input index: x_in = R^T (x_out - mid) + mid
    binary = g.dtype == np.uint8 or g.dtype == bool
    out = ndimage.affine_transform(g.astype(np.float32), M, offset=mid - M @ mid, order=0 if binary else 1,
                                   mode="constant", cval=0.0)
    return out.astype(np.uint8) if binary else out.astype(np.float32)


def random_grid_rotations(m: int, symmetry: str, rng: np.random.Generator) -> np.ndarray:
    """``m`` random rotation matrices of a symmetry group: ``all`` = uniform on SO(3), ``z`` = about z only."""
    from fewlabel.simulate.project import random_rotations

    if symmetry == "all":
        return random_rotations(m, rng).as_matrix()
    if symmetry == "z":
        a = rng.uniform(0, 2 * np.pi, m)
        c, s = np.cos(a), np.sin(a)
        R = np.zeros((m, 3, 3))
        R[:, 0, 0], R[:, 0, 1], R[:, 1, 0], R[:, 1, 1], R[:, 2, 2] = c, -s, s, c, 1.0
        return R
    raise InputError(None, f"unknown symmetry {symmetry!r} (use all, z)")


def augment_rotations(X: np.ndarray, copies: int, symmetry: str, rng: np.random.Generator) -> np.ndarray:
    """``copies`` randomly rotated versions of every grid, grid-major: row ``i * copies + j``."""
    out = np.empty((len(X) * copies, *X.shape[1:]), dtype=np.uint8 if X.dtype in (np.uint8, bool) else np.float32)
    Rs = random_grid_rotations(len(X) * copies, symmetry, rng)
    for i in range(len(X)):
        for j in range(copies):
            out[i * copies + j] = rotate_grid(X[i], Rs[i * copies + j])
    return out
