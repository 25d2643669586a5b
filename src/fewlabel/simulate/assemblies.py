"""Larger particles from the vendored monomers: copies placed under a point-group symmetry.

Only a handful of atomic models ship with fewlabel (no downloads), so particles of other sizes
and shapes are built as homo-oligomers: ``Cn`` (n copies around the z axis) or ``Dn`` (the
``Cn`` ring plus its 2-fold-related twin). Each copy is the monomer in one fixed (seeded)
orientation, its centroid at ``spacing`` x monomer radius from the axis, so neighbours touch;
the result is centred on its atoms' centroid like every :class:`Molecule`.

    >>> from fewlabel.simulate.density import load_molecule
    >>> tetramer = symmetric_assembly(load_molecule("5a7u"), "D2", seed=0)
"""

from __future__ import annotations

import re

import numpy as np

from fewlabel.errors import InputError
from fewlabel.simulate.density import Molecule, load_molecule


def point_group_rotations(group: str) -> np.ndarray:
    """Rotation matrices ``[k, 3, 3]`` of the point group ``Cn`` or ``Dn`` (axis z; Dn 2-folds along x)."""
    m = re.fullmatch(r"([CD])(\d+)", group.strip().upper())
    if not m or int(m.group(2)) < 1:
        raise InputError(None, f"unknown point group {group!r}: use Cn or Dn (e.g. C4, D2)")
    n = int(m.group(2))
    mats = []
    for k in range(n):
        a = 2 * np.pi * k / n
        mats.append(np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]]))
    if m.group(1) == "D":
        flip = np.diag([1.0, -1.0, -1.0])  # 2-fold about x
        mats += [flip @ r for r in mats]
    return np.stack(mats)


def symmetric_assembly(monomer: Molecule, group: str, seed: int = 0, spacing: float = 0.85,
                       rise: float = 0.7) -> Molecule:
    """A homo-oligomer of ``monomer`` with point-group symmetry ``group`` (``C2``, ``C4``, ``D2``...).

    ``spacing`` x radius is each copy's distance from the symmetry axis (for ``C1`` none);
    for ``Dn`` the two rings sit ``rise`` x radius above and below the equator. ``seed`` fixes
    the monomer's orientation in the assembly (different seeds: different shapes).
    """
    from scipy.spatial.transform import Rotation

    mats = point_group_rotations(group)
    n_ring = len(mats) // (2 if group.strip().upper().startswith("D") else 1)
    r = monomer.radius
    orient = Rotation.random(random_state=np.random.default_rng(seed).integers(2**31)).as_matrix()
    offset = np.array([spacing * r if n_ring > 1 else 0.0, 0.0, rise * r if len(mats) > n_ring else 0.0])
    unit = monomer.coords @ orient.T + offset
    coords = np.concatenate([unit @ m.T for m in mats])
    coords -= coords.mean(axis=0)
    index = np.tile(monomer.element_index, len(mats))
    return Molecule(f"{monomer.name}_{group.upper()}", coords, index, monomer.elements)


def parse_assembly(spec: str) -> Molecule:
    """``name`` or ``name:GROUP`` or ``name:GROUP:seed`` (e.g. ``adk_open:D2:1``) -> a Molecule."""
    parts = spec.split(":")
    mol = load_molecule(parts[0])
    if len(parts) == 1:
        return mol
    seed = int(parts[2]) if len(parts) > 2 else 0
    out = symmetric_assembly(mol, parts[1], seed=seed)
    return Molecule(spec.replace(":", "_"), out.coords, out.element_index, out.elements)
