"""Atomic models -> electron-scattering (Coulomb) potential.

Each atom contributes the Peng five-Gaussian electron scattering factor of its element
(International Tables Vol. C, table 4.3.2.2, as tabulated in gemmi as ``Element.c4322``):
``f_e(s) = sum_i a_i exp(-b_i s^2)`` with ``s = k / 2`` (``k`` the spatial frequency in 1/Å).
The potential is ``V(r) = C * sum_i a_i (4π/b_i)^{3/2} exp(-4π² r²/b_i)`` with
``C = h² / (2π m0 e) = 47.878 V·Å²``. Because the profile is a sum of Gaussians, its Fourier
transform is analytic, so volumes and projections are computed exactly in Fourier space from
atom positions splatted onto a grid (see :mod:`fewlabel.simulate.project`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from fewlabel.errors import InputError

#: h² / (2π m0 e) in V·Å²: converts electron scattering factors (Å) to potential.
POTENTIAL_CONSTANT = 47.878

#: pseudo-element of the water each heavy atom displaces (see :func:`with_solvent`)
SOLVENT = "solvent"
#: mean inner potential of vitreous ice (V): 145.6 V·Å³ per H2O (these factors) / 32.5 Å³
SOLVENT_POTENTIAL = 4.5
#: protein volume per heavy atom (Å³): 1.21 Å³/Da, ~7.8 heavy atoms per 110 Da residue
ATOM_VOLUME = 17.0
#: B-factor of the displaced-water Gaussians (σ = 1.5 Å), so they merge into a smooth envelope
SOLVENT_BFACTOR = 8 * np.pi**2 * 1.5**2

PDB_DIR = Path(__file__).resolve().parents[1] / "data" / "pdb"
_PROTEIN_ELEMENTS = {"H", "C", "N", "O", "S", "Se"}


@dataclass(frozen=True)
class Molecule:
    """An atomic model centred on its atoms' centroid.

    ``coords`` is ``[n_atoms, 3]`` in Å (x, y, z); ``element_index[i]`` indexes
    ``elements`` (element symbols, e.g. ``("C", "N", "O")``).
    """

    name: str
    coords: np.ndarray
    element_index: np.ndarray
    elements: tuple[str, ...]

    @property
    def radius(self) -> float:
        """Largest distance of an atom from the centroid, in Å."""
        return float(np.linalg.norm(self.coords, axis=1).max())

    @property
    def diameter(self) -> float:
        """Particle diameter in Å: twice :attr:`radius` (the bounding sphere)."""
        return 2.0 * self.radius

    @property
    def n_atoms(self) -> int:
        return int(self.coords.shape[0])


def vendored_molecules() -> list[str]:
    """Names of the atomic models shipped with fewlabel (``fewlabel/data/pdb``)."""
    return sorted({p.name.split(".")[0] for p in PDB_DIR.glob("*.pdb*")})


def resolve_pdb(name_or_path: str | os.PathLike) -> Path:
    """A vendored model name (``adk_open``) or a path to a PDB/mmCIF file -> existing path."""
    text = str(name_or_path)
    if os.sep not in text:
        for vendored in (PDB_DIR / f"{text}.pdb", PDB_DIR / f"{text}.pdb.gz"):  # large models ship gzipped
            if vendored.is_file():
                return vendored
    path = Path(text)
    if path.is_file():
        return path
    if path.suffix or os.sep in text:
        raise InputError(path, "atomic model file not found")
    raise InputError(None, f"unknown molecule {text!r}: give a PDB/mmCIF path or one of "
                           f"{', '.join(vendored_molecules())}")


@lru_cache(maxsize=32)
def _load_cached(path: str) -> Molecule:
    import gemmi

    try:
        st = gemmi.read_structure(path)
    except Exception as exc:  # gemmi raises RuntimeError/ValueError with a message
        raise InputError(path, f"cannot read atomic model ({exc})") from None
    st.remove_waters()
    if len(st) == 0:
        raise InputError(path, "no models in file")
    coords, symbols = [], []
    for chain in st[0]:
        for res in chain:
            polymer = res.het_flag == "A"  # ATOM record, not HETATM
            for atom in res:
                symbol = atom.element.name
                if polymer and symbol not in _PROTEIN_ELEMENTS:
                    # files without an element column (CHARMM names): CA is carbon, not calcium
                    symbol = atom.name.strip().lstrip("0123456789")[:1].upper()
                if symbol in ("X", ""):
                    symbol = "C"
                coords.append((atom.pos.x, atom.pos.y, atom.pos.z))
                symbols.append(symbol)
    if not coords:
        raise InputError(path, "no atoms in atomic model")
    xyz = np.asarray(coords, dtype=np.float64)
    xyz -= xyz.mean(axis=0)
    elements, index = np.unique(np.asarray(symbols), return_inverse=True)
    name = Path(path).name.split(".")[0]
    return Molecule(name=name, coords=xyz, element_index=index.astype(np.int64),
                    elements=tuple(str(e) for e in elements))


def load_molecule(name_or_path: str | os.PathLike) -> Molecule:
    """Read an atomic model (vendored name or path), drop waters, centre it on the centroid."""
    return _load_cached(str(resolve_pdb(name_or_path)))


def with_solvent(molecule: Molecule) -> Molecule:
    """The molecule plus, at every heavy atom, a :data:`SOLVENT` pseudo-atom: the ice it displaces.

    In vitreous ice a protein's contrast is its potential *minus* that of the water it pushes
    away (``ATOM_VOLUME`` Å³ of ice at ``SOLVENT_POTENTIAL`` V per heavy atom), which removes
    about half of the low-frequency contrast seen in vacuum, as in real micrographs.
    """
    if SOLVENT in molecule.elements:
        return molecule
    heavy = np.asarray([molecule.elements[i] != "H" for i in molecule.element_index])
    return Molecule(name=molecule.name, coords=np.concatenate([molecule.coords, molecule.coords[heavy]]),
                    element_index=np.concatenate([molecule.element_index,
                                                  np.full(int(heavy.sum()), len(molecule.elements))]),
                    elements=molecule.elements + (SOLVENT,))


def scattering_coefficients(element: str) -> tuple[np.ndarray, np.ndarray]:
    """Peng electron scattering-factor Gaussians ``(a [Å], b [Å²])`` of ``element`` (5 each)."""
    import gemmi

    el = gemmi.Element(element)
    if el.atomic_number == 0:  # unknown symbol: treat as carbon rather than fail on a ligand
        el = gemmi.Element("C")
    coef = el.c4322
    return np.asarray(coef.a, dtype=np.float64), np.asarray(coef.b, dtype=np.float64)


def potential_transform(element: str, k: np.ndarray, bfactor: float = 0.0) -> np.ndarray:
    """Fourier transform of one atom's potential at spatial frequency ``k`` (1/Å).

    Equals ``47.878 * f_e(k/2) * exp(-B k²/4)`` in V·Å³. The same function is the 2D transform
    of the atom's *projected* potential (V·Å · Å²), by the central-slice theorem.
    ``bfactor`` (Å²) blurs the atom like a crystallographic B-factor. For the pseudo-element
    :data:`SOLVENT` it is the (negative) potential of the ice the atom displaces.
    """
    if element == SOLVENT:
        k2 = np.asarray(k, dtype=np.float64) ** 2
        return -SOLVENT_POTENTIAL * ATOM_VOLUME * np.exp(-(SOLVENT_BFACTOR + bfactor) * k2 / 4.0)
    a, b = scattering_coefficients(element)
    k2 = np.asarray(k, dtype=np.float64) ** 2
    out = np.zeros_like(k2)
    for ai, bi in zip(a, b):
        out += ai * np.exp(-(bi + bfactor) * k2 / 4.0)
    return POTENTIAL_CONSTANT * out


def atom_potential(element: str, r: np.ndarray, bfactor: float = 0.0) -> np.ndarray:
    """Real-space potential (V) of one atom at distance ``r`` (Å); for tests and plots."""
    a, b = scattering_coefficients(element)
    r2 = np.asarray(r, dtype=np.float64) ** 2
    out = np.zeros_like(r2)
    for ai, bi in zip(a, b):
        bb = bi + bfactor
        out += ai * (4 * np.pi / bb) ** 1.5 * np.exp(-4 * np.pi**2 * r2 / bb)
    return POTENTIAL_CONSTANT * out


def potential_volume(molecule: Molecule, pixel_size: float, box: int | None = None,
                     bfactor: float = 0.0) -> np.ndarray:
    """The molecule's Coulomb potential on a ``box³`` grid (V), centroid at voxel ``box // 2``.

    Atoms are spread with cubic B-spline weights per element, convolved with the element's
    analytic potential in Fourier space, and the spline's blur is divided out (sinc⁴ per axis).
    ``box`` defaults to the smallest even size holding the molecule with a 10 Å margin.
    """
    from scipy import fft

    if pixel_size <= 0:
        raise InputError(None, f"pixel size must be positive, got {pixel_size}")
    if box is None:
        box = int(np.ceil((molecule.diameter + 20.0) / pixel_size))
        box += box % 2
    from fewlabel.simulate.project import bspline_weights, spline_transfer

    pos = molecule.coords / pixel_size + box // 2  # (x, y, z) in voxels; array axes are [z, y, x]
    base = np.floor(pos).astype(np.int64)
    offsets, wx = bspline_weights(pos[:, 0] - base[:, 0], 3)
    _, wy = bspline_weights(pos[:, 1] - base[:, 1], 3)
    _, wz = bspline_weights(pos[:, 2] - base[:, 2], 3)
    n_el = len(molecule.elements)
    idx_parts, w_parts = [], []
    for a, dz in enumerate(offsets):
        for b, dy in enumerate(offsets):
            for c, dx in enumerate(offsets):
                ix, iy, iz = base[:, 0] + dx, base[:, 1] + dy, base[:, 2] + dz
                ok = (ix >= 0) & (ix < box) & (iy >= 0) & (iy < box) & (iz >= 0) & (iz < box)
                idx_parts.append((((molecule.element_index * box + iz) * box + iy) * box + ix)[ok])
                w_parts.append((wz[a] * wy[b] * wx[c])[ok])
    grids = np.bincount(np.concatenate(idx_parts), weights=np.concatenate(w_parts),
                        minlength=n_el * box**3).reshape(n_el, box, box, box)
    f = fft.fftfreq(box, d=pixel_size)
    fr = fft.rfftfreq(box, d=pixel_size)
    kz, ky, kx = np.meshgrid(f, f, fr, indexing="ij", sparse=True)
    k = np.sqrt(kx**2 + ky**2 + kz**2)
    total = np.zeros(k.shape, dtype=np.complex128)
    for e, symbol in enumerate(molecule.elements):
        total += fft.rfftn(grids[e]) * potential_transform(symbol, k, bfactor)
    total /= np.maximum(spline_transfer((box, box, box)), 1e-3) * pixel_size**3
    return fft.irfftn(total, s=(box, box, box)).astype(np.float32)
