"""Simulated 3D data with exact labels for voxel classification.

- :func:`geometries`: solid cubes, spheres and diamonds (L1 balls) in n^3 grids with random size,
  rotation and position plus additive Gaussian noise (the "Geometries" benchmark set).
- :func:`clathrin`: SMLM-like localizations of clathrin coats at endocytosis stages from flat
  lattice to shallow cap to deep pit. The coat is a spherical cap of roughly constant area whose
  opening angle grows with the stage; proteins sit uniformly on it, each blinks a Poisson number
  of times, each localization is blurred anisotropically (axial precision worse than lateral), and
  uniform background localizations are added. Label: curved (CME pit) or not, plus the stage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fewlabel.simulate.project import random_rotations

GEOMETRY_CLASSES = ("cube", "sphere", "diamond")
# stage name -> range of the cap's half opening angle (degrees); 0 is a flat disc, 180 a closed sphere
CLATHRIN_STAGES = {"flat": (0.0, 15.0), "shallow": (35.0, 80.0), "deep": (100.0, 160.0)}


# half-width s -> inside test and circumscribed radius (fraction of the grid); the cube and diamond
# factors give all three shapes similar volumes at the same s
_SHAPES = {
    0: (lambda p, s: np.abs(p).max(axis=1) <= 0.8 * s, 0.8 * np.sqrt(3)),  # cube
    1: (lambda p, s: np.linalg.norm(p, axis=1) <= s, 1.0),  # sphere
    2: (lambda p, s: np.abs(p).sum(axis=1) <= 1.3 * s, 1.3),  # diamond (L1 ball)
}


def geometries(n_samples: int = 600, n: int = 30, noise: float = 0.1, seed: int = 0,
               size_range: tuple[float, float] = (0.16, 0.32),
               shift: float = 0.15) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Balanced cubes/spheres/diamonds -> (X float32 (m, n, n, n), y int64, class names).

    Sizes are half-widths as a fraction of the grid (a factor 2 range); each shape is rotated
    uniformly at random and shifted by up to ``shift`` of the grid per axis, but never so far that
    it is cut by the grid's edge (its circumscribed sphere stays one voxel inside): a clipped cube
    is no longer a cube. ``noise`` is the SD of additive Gaussian noise on the 0/1 occupancy.
    """
    rng = np.random.default_rng(seed)
    y = np.arange(n_samples) % len(GEOMETRY_CLASSES)
    rng.shuffle(y)
    coords = (np.stack(np.meshgrid(*[np.arange(n)] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5) / n - 0.5
    rots = random_rotations(n_samples, rng).as_matrix()
    X = np.empty((n_samples, n, n, n), dtype=np.float32)
    for i in range(n_samples):
        inside, reach = _SHAPES[int(y[i])]
        s = rng.uniform(*size_range)
        room = max(0.0, min(shift, 0.5 - 1.0 / n - reach * s))
        c = rng.uniform(-room, room, 3)
        X[i] = inside((coords - c) @ rots[i], s).reshape(n, n, n)
    if noise > 0:
        X += rng.normal(0.0, noise, X.shape).astype(np.float32)
    return X, y.astype(np.int64), GEOMETRY_CLASSES


@dataclass
class ClathrinSet:
    """Simulated coats: ``clouds[i]`` is an (N_i, 3) array in nm; labels per structure."""

    clouds: list[np.ndarray]
    curved: np.ndarray  # 1 = curved (CME pit), 0 = flat lattice
    stage: np.ndarray  # index into ``stages``
    stages: tuple[str, ...]
    theta_deg: np.ndarray  # true half opening angle


def _cap_points(rng: np.random.Generator, k: int, radius: float, theta: float) -> np.ndarray:
    """``k`` points uniform on a spherical cap (half angle ``theta``) opening towards -z, rim at z=0.

    The membrane lies in the xy plane; the pit invaginates into +z (into the cell).
    """
    if theta < 1e-3:
        return np.zeros((k, 3))
    cos_t = rng.uniform(np.cos(theta), 1.0, k)  # area-uniform on the cap
    sin_t = np.sqrt(1 - cos_t ** 2)
    phi = rng.uniform(0, 2 * np.pi, k)
    pts = np.column_stack([radius * sin_t * np.cos(phi), radius * sin_t * np.sin(phi),
                           radius * (cos_t - np.cos(theta))])
    return pts


def clathrin(n_structures: int = 900, seed: int = 0, *, stage_probs: tuple[float, ...] = (0.4, 0.3, 0.3),
             coat_area_nm2: float = 2 * np.pi * 60.0 ** 2, area_jitter: float = 0.3,
             density_per_nm2: float = 0.004, blinks_mean: float = 3.0,
             sigma_xy_nm: float = 10.0, sigma_z_nm: float = 30.0, background_frac: float = 0.1,
             background_box_nm: float = 300.0, max_tilt_deg: float = 20.0) -> ClathrinSet:
    """Simulate ``n_structures`` clathrin coats as SMLM localization clouds (nm).

    Coat area is ``coat_area_nm2`` times a log-normal jitter (constant-area model: flat lattices
    bend into pits without growing much); the half opening angle is drawn from the stage's
    range; each coat is tilted up to ``max_tilt_deg`` and spun about z. Proteins
    (``density_per_nm2``) blink ``1 + Poisson(blinks_mean - 1)`` times; localizations get
    Gaussian errors ``sigma_xy_nm`` laterally and ``sigma_z_nm`` axially; background
    localizations (``background_frac`` of the signal) are uniform in a box around the coat.
    """
    rng = np.random.default_rng(seed)
    stages = tuple(CLATHRIN_STAGES)
    p = np.asarray(stage_probs, dtype=float)
    stage = rng.choice(len(stages), size=n_structures, p=p / p.sum())
    clouds, thetas = [], []
    for i in range(n_structures):
        lo, hi = CLATHRIN_STAGES[stages[stage[i]]]
        theta = np.deg2rad(rng.uniform(lo, hi))
        area = coat_area_nm2 * np.exp(rng.normal(0, area_jitter))
        k = max(5, rng.poisson(area * density_per_nm2))
        if theta < 1e-3 or np.rad2deg(theta) < 1:
            r_disc = np.sqrt(area / np.pi)
            rr = r_disc * np.sqrt(rng.uniform(0, 1, k))
            phi = rng.uniform(0, 2 * np.pi, k)
            prot = np.column_stack([rr * np.cos(phi), rr * np.sin(phi), np.zeros(k)])
        else:
            radius = np.sqrt(area / (2 * np.pi * (1 - np.cos(theta))))
            prot = _cap_points(rng, k, radius, theta)
        # small tilt: rotate by a fraction of a random rotation's axis-angle, then spin about z
        ang = np.deg2rad(rng.uniform(0, max_tilt_deg))
        axis = np.array([np.cos(a := rng.uniform(0, 2 * np.pi)), np.sin(a), 0.0])
        K = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
        R = np.eye(3) + np.sin(ang) * K + (1 - np.cos(ang)) * K @ K
        spin = rng.uniform(0, 2 * np.pi)
        Rz = np.array([[np.cos(spin), -np.sin(spin), 0], [np.sin(spin), np.cos(spin), 0], [0, 0, 1]])
        prot = (prot - prot.mean(axis=0)) @ (R @ Rz).T
        blinks = 1 + rng.poisson(max(blinks_mean - 1, 0), k)
        locs = np.repeat(prot, blinks, axis=0)
        locs = locs + rng.normal(0, 1, locs.shape) * np.array([sigma_xy_nm, sigma_xy_nm, sigma_z_nm])
        n_bg = rng.poisson(background_frac * len(locs))
        bg = rng.uniform(-background_box_nm / 2, background_box_nm / 2, (n_bg, 3))
        clouds.append(np.concatenate([locs, bg]))
        thetas.append(np.rad2deg(theta))
    return ClathrinSet(clouds=clouds, curved=(stage > 0).astype(np.int64), stage=stage.astype(np.int64),
                       stages=stages, theta_deg=np.asarray(thetas))
