"""Random orientations and projections of atomic models (exact) or volumes (rotate + sum).

Convention: a particle in orientation ``R`` has atoms at ``R.apply(coords)`` (x, y, z in Å) and is
projected along z; x runs along image columns and y along rows, so an atom at (x, y) lands at
``col = center_col + x / pixel_size``, ``row = center_row + y / pixel_size``. The Euler angles
written to truth tables are ``R.as_euler("ZYZ", degrees=True)`` (rot, tilt, psi).

The projection of an atom's potential is the 2D inverse transform of the same analytic
scattering factor (central-slice theorem), so projected potentials are exact up to the sampling
of the image: atoms are splatted bilinearly per element, multiplied by the element's transform
in Fourier space, and the bilinear blur (sinc² per axis) is divided out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.spatial.transform import Rotation

from fewlabel.simulate.density import Molecule, potential_transform


def random_rotations(n: int, rng: np.random.Generator) -> Rotation:
    """``n`` rotations drawn uniformly (Haar measure) on SO(3) from ``rng``."""
    return Rotation.random(n, random_state=rng)


def splat(points: np.ndarray, channel: np.ndarray, n_channels: int, shape: tuple[int, int],
          weights: np.ndarray | None = None) -> np.ndarray:
    """Bilinear splatting of points ``[m, 2]`` (col, row in pixels) into ``[n_channels, *shape]``.

    Each point adds ``weight`` (default 1) shared over its four neighbouring pixels; points whose
    neighbours fall outside the grid lose those shares.
    """
    h, w = shape
    base = np.floor(points).astype(np.int64)
    frac = points - base
    weights = np.ones(len(points)) if weights is None else weights
    idx_parts, w_parts = [], []
    for dr in (0, 1):
        for dc in (0, 1):
            c = base[:, 0] + dc
            r = base[:, 1] + dr
            wt = weights * (frac[:, 0] if dc else 1 - frac[:, 0]) * (frac[:, 1] if dr else 1 - frac[:, 1])
            ok = (c >= 0) & (c < w) & (r >= 0) & (r < h)
            idx_parts.append((channel[ok] * h + r[ok]) * w + c[ok])
            w_parts.append(wt[ok])
    flat = np.bincount(np.concatenate(idx_parts), weights=np.concatenate(w_parts),
                       minlength=n_channels * h * w)
    return flat.reshape(n_channels, h, w)


def _bilinear_transfer(shape: tuple[int, int]) -> np.ndarray:
    from scipy import fft

    fy = fft.fftfreq(shape[0])[:, None]
    fx = fft.rfftfreq(shape[1])[None, :]
    return (np.sinc(fx) * np.sinc(fy)) ** 2


def projected_potential_ft(points: np.ndarray, element_index: np.ndarray, elements: Sequence[str],
                           shape: tuple[int, int], pixel_size: float, bfactor: float = 0.0,
                           batch_index: np.ndarray | None = None, n_batch: int = 1) -> np.ndarray:
    """rfft2 of the projected potential (V·Å) of atoms at ``points`` (col, row pixels).

    With ``batch_index`` (image of each atom) the result is ``[n_batch, rows, cols//2+1]``,
    otherwise ``[rows, cols//2+1]``. Element ``e`` of ``elements`` labels atoms with index ``e``.
    """
    from scipy import fft

    n_el = len(elements)
    channel = element_index if batch_index is None else batch_index * n_el + element_index
    grids = splat(points, channel, n_batch * n_el, shape).reshape(n_batch, n_el, *shape)
    spectra = fft.rfft2(grids, axes=(-2, -1), workers=1)
    ky = fft.fftfreq(shape[0], d=pixel_size)[:, None]
    kx = fft.rfftfreq(shape[1], d=pixel_size)[None, :]
    k = np.sqrt(kx**2 + ky**2)
    kernels = np.stack([potential_transform(el, k, bfactor) for el in elements])
    kernels /= np.maximum(_bilinear_transfer(shape), 1e-3) * pixel_size**2
    out = np.einsum("beij,eij->bij", spectra, kernels)
    return out[0] if batch_index is None else out


def place_atoms(molecule: Molecule, rotation: Rotation, center: tuple[float, float],
                pixel_size: float) -> np.ndarray:
    """Image positions ``[n_atoms, 2]`` (col, row) of a molecule rotated and centred at ``center``
    (col, row pixels)."""
    xyz = rotation.apply(molecule.coords)
    return np.column_stack([center[0] + xyz[:, 0] / pixel_size, center[1] + xyz[:, 1] / pixel_size])


def project_molecule(molecule: Molecule, rotation: Rotation | None, shape: tuple[int, int],
                     pixel_size: float, center: tuple[float, float] | None = None,
                     bfactor: float = 0.0) -> np.ndarray:
    """Projected potential (V·Å) of one molecule on an image of ``shape``.

    ``center`` (col, row) defaults to ``(cols // 2, rows // 2)``; ``rotation`` None is identity.
    """
    from scipy import fft

    rotation = Rotation.identity() if rotation is None else rotation
    center = (shape[1] // 2, shape[0] // 2) if center is None else center
    pts = place_atoms(molecule, rotation, center, pixel_size)
    ft = projected_potential_ft(pts, molecule.element_index, molecule.elements, shape, pixel_size, bfactor)
    return fft.irfft2(ft, s=shape)


def project_volume(volume: np.ndarray, rotation: Rotation, pixel_size: float = 1.0,
                   order: int = 1) -> np.ndarray:
    """Rotate a cubic volume ``[z, y, x]`` about its centre voxel (``n // 2``) and integrate along z.

    Uses the same convention as :func:`place_atoms` (content at x moves to ``R x``); the result is
    the line integral in units of the volume times Å. Slower than atoms, for checks and maps.
    """
    from scipy import ndimage

    n = volume.shape[0]
    perm = np.eye(3)[::-1]  # xyz <-> zyx
    inv = perm @ rotation.as_matrix().T @ perm  # output zyx -> input zyx
    c = np.full(3, n // 2, dtype=np.float64)
    rotated = ndimage.affine_transform(volume, inv, offset=c - inv @ c, order=order, mode="constant")
    return rotated.sum(axis=0) * pixel_size
