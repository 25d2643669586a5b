"""Random orientations and projections of atomic models (exact) or volumes (rotate + sum).

Convention: a particle in orientation ``R`` has atoms at ``R.apply(coords)`` (x, y, z in Å) and is
projected along z; x runs along image columns and y along rows, so an atom at (x, y) lands at
``col = center_col + x / pixel_size``, ``row = center_row + y / pixel_size``. The Euler angles
written to truth tables are ``R.as_euler("ZYZ", degrees=True)`` (rot, tilt, psi).

The projection of an atom's potential is the 2D inverse transform of the same analytic
scattering factor (central-slice theorem), so projected potentials are exact up to the sampling
of the image: atoms are spread onto the grid with cubic B-spline weights per element, multiplied
by the element's transform in Fourier space, and the spline's blur (sinc⁴ per axis) is divided
out (residual aliasing about 1e-4 of the signal at a quarter of Nyquist).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from scipy.spatial.transform import Rotation

from fewlabel.simulate.density import Molecule, potential_transform


def random_rotations(n: int, rng: np.random.Generator) -> Rotation:
    """``n`` rotations drawn uniformly (Haar measure) on SO(3) from ``rng``."""
    return Rotation.random(n, random_state=rng)


def bspline_weights(frac: np.ndarray, order: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Offsets and weights of a point at fractional position ``frac`` (in [0, 1)) for a
    B-spline of ``order`` 1 (linear, 2 taps) or 3 (cubic, 4 taps); the weights sum to 1."""
    if order == 1:
        return np.array([0, 1]), [1 - frac, frac]
    if order == 3:
        t = frac
        return np.array([-1, 0, 1, 2]), [(1 - t) ** 3 / 6, (3 * t**3 - 6 * t**2 + 4) / 6,
                                          (-3 * t**3 + 3 * t**2 + 3 * t + 1) / 6, t**3 / 6]
    raise ValueError(f"B-spline order must be 1 or 3, got {order}")


def splat(points: np.ndarray, channel: np.ndarray, n_channels: int, shape: tuple[int, int],
          weights: np.ndarray | None = None, order: int = 3) -> np.ndarray:
    """Spread points ``[m, 2]`` (col, row in pixels) into ``[n_channels, *shape]`` with B-spline
    weights of ``order`` (1: bilinear; 3: cubic, whose aliasing is ~100x weaker).

    Each point adds ``weight`` (default 1) shared over its neighbouring pixels; shares that fall
    outside the grid are lost. The spreading is a convolution with a B-spline whose transfer
    function is ``sinc(f)^(order+1)`` per axis (:func:`spline_transfer`), divided out later.
    """
    h, w = shape
    base = np.floor(points).astype(np.int64)
    frac = points - base
    weights = np.ones(len(points)) if weights is None else weights
    offsets, wc = bspline_weights(frac[:, 0], order)
    _, wr = bspline_weights(frac[:, 1], order)
    wr = [weights * x for x in wr]
    idx_parts, w_parts = [], []
    inside = (len(points) == 0 or (base.min(axis=0) + offsets[0] >= 0).all()
              and base[:, 0].max() + offsets[-1] < w and base[:, 1].max() + offsets[-1] < h)
    if inside:  # common case (padded canvases): no bounds checks per tap
        flat_base = (channel * h + base[:, 1]) * w + base[:, 0]
        for i, dr in enumerate(offsets):
            for j, dc in enumerate(offsets):
                idx_parts.append(flat_base + (dr * w + dc))
                w_parts.append(wr[i] * wc[j])
    else:
        for i, dr in enumerate(offsets):
            r = base[:, 1] + dr
            ok_r = (r >= 0) & (r < h)
            row_base = (channel * h + r) * w
            for j, dc in enumerate(offsets):
                c = base[:, 0] + dc
                ok = ok_r & (c >= 0) & (c < w)
                idx_parts.append(row_base[ok] + c[ok])
                w_parts.append((wr[i] * wc[j])[ok])
    flat = np.bincount(np.concatenate(idx_parts), weights=np.concatenate(w_parts),
                       minlength=n_channels * h * w)
    return flat.reshape(n_channels, h, w)


def spline_transfer(shape: tuple[int, ...], order: int = 3, real: bool = True) -> np.ndarray:
    """Fourier transfer function of :func:`splat` on the (r)fft grid of ``shape`` (2D or 3D)."""
    from scipy import fft

    axes = []
    for i, n in enumerate(shape):
        last = i == len(shape) - 1
        f = fft.rfftfreq(n) if (real and last) else fft.fftfreq(n)
        axes.append(np.sinc(f) ** (order + 1))
    grids = np.meshgrid(*axes, indexing="ij", sparse=True)
    out = grids[0]
    for g in grids[1:]:
        out = out * g
    return out


@lru_cache(maxsize=8)
def _kernels(elements: tuple[str, ...], shape: tuple[int, int], pixel_size: float, bfactor: float) -> np.ndarray:
    """Per-element projected-potential transforms on the rfft grid, divided by the spline blur and
    the pixel area (float32 ``[n_elements, rows, cols//2+1]``); cached because every micrograph
    of a run uses the same grid."""
    from scipy import fft

    ky = fft.fftfreq(shape[0], d=pixel_size)[:, None]
    kx = fft.rfftfreq(shape[1], d=pixel_size)[None, :]
    k = np.sqrt(kx**2 + ky**2)
    norm = np.maximum(spline_transfer(shape), 1e-3) * pixel_size**2
    return np.stack([potential_transform(el, k, bfactor) / norm for el in elements]).astype(np.float32)


def projected_potential_ft(points: np.ndarray, element_index: np.ndarray, elements: Sequence[str],
                           shape: tuple[int, int], pixel_size: float, bfactor: float = 0.0,
                           batch_index: np.ndarray | None = None, n_batch: int = 1) -> np.ndarray:
    """rfft2 of the projected potential (V·Å) of atoms at ``points`` (col, row pixels).

    With ``batch_index`` (image of each atom) the result is ``[n_batch, rows, cols//2+1]``,
    otherwise ``[rows, cols//2+1]``. Element ``e`` of ``elements`` labels atoms with index ``e``.
    Computed in single precision (complex64), ample for images with noise.
    """
    from scipy import fft

    n_el = len(elements)
    shape = (int(shape[0]), int(shape[1]))
    channel = element_index if batch_index is None else batch_index * n_el + element_index
    grids = splat(points, channel, n_batch * n_el, shape).astype(np.float32).reshape(n_batch, n_el, *shape)
    spectra = fft.rfft2(grids, axes=(-2, -1), workers=1)
    kernels = _kernels(tuple(elements), shape, float(pixel_size), float(bfactor))
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
