"""Projections: a single atom projects to its analytic 2D profile; atoms and rotate+sum agree."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.transform import Rotation

from fewlabel.simulate.density import (POTENTIAL_CONSTANT, Molecule, load_molecule, potential_transform,
                                       potential_volume, scattering_coefficients)
from fewlabel.simulate.project import project_molecule, project_volume, random_rotations, splat


def _single(element: str = "C", xyz=(0.0, 0.0, 0.0)) -> Molecule:
    return Molecule("one", np.asarray([xyz], dtype=np.float64), np.zeros(1, dtype=np.int64), (element,))


def test_point_atom_projects_to_its_analytic_gaussian_sum():
    pixel, bfac, shape, centre = 0.25, 20.0, (96, 96), (48.3, 47.6)
    img = project_molecule(_single("C"), None, shape, pixel, center=centre, bfactor=bfac)
    # integral = transform at k = 0, centre of mass at the requested sub-pixel position
    assert img.sum() * pixel**2 == pytest.approx(float(potential_transform("C", np.array(0.0))), rel=1e-4)
    rows, cols = np.indices(shape)
    assert (img * cols).sum() / img.sum() == pytest.approx(centre[0], abs=1e-3)
    assert (img * rows).sum() / img.sum() == pytest.approx(centre[1], abs=1e-3)
    # radial profile = 47.878 * sum a_i (4 pi / b_i') exp(-4 pi^2 r^2 / b_i'), b_i' = b_i + B
    a, b = scattering_coefficients("C")
    r = np.hypot(cols - centre[0], rows - centre[1]) * pixel
    bb = b[:, None, None] + bfac
    analytic = POTENTIAL_CONSTANT * (a[:, None, None] * 4 * np.pi / bb * np.exp(-4 * np.pi**2 * r**2 / bb)).sum(0)
    np.testing.assert_allclose(img, analytic, atol=2e-3 * analytic.max())


def test_rotation_convention_x_goes_to_rows_under_90_degrees_about_z():
    mol = _single("O", (5.0, 0.0, 0.0))
    # coordinates are centred at load time only; here the atom sits 5 A along +x
    img = project_molecule(mol, Rotation.from_euler("z", 90, degrees=True), (64, 64), 0.5,
                           center=(32, 32), bfactor=10)
    row, col = np.unravel_index(np.argmax(img), img.shape)
    assert (row, col) == (32 + 10, 32)


def test_atom_projection_matches_rotate_and_sum_of_the_volume():
    mol = load_molecule("5a7u")
    pixel, box = 1.0, 48
    rot = random_rotations(1, np.random.default_rng(7))[0]
    vol = potential_volume(mol, pixel, box=box, bfactor=40.0)
    by_volume = project_volume(vol, rot, pixel, order=3)
    by_atoms = project_molecule(mol, rot, (box, box), pixel, bfactor=40.0)
    assert np.corrcoef(by_volume.ravel(), by_atoms.ravel())[0, 1] > 0.995
    assert by_volume.sum() == pytest.approx(by_atoms.sum(), rel=0.01)


def test_random_rotations_are_uniform_and_seeded():
    rng = np.random.default_rng(0)
    rots = random_rotations(4000, rng)
    z = rots.apply([0.0, 0.0, 1.0])
    # the image of a fixed axis is uniform on the sphere: its z is uniform on [-1, 1]
    assert stats.kstest(z[:, 2], "uniform", args=(-1, 2)).pvalue > 0.01
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=0.05)
    again = random_rotations(4000, np.random.default_rng(0))
    np.testing.assert_array_equal(rots.as_quat(), again.as_quat())


def test_splat_conserves_weight_and_drops_outside_points():
    pts = np.array([[1.25, 2.5], [3.0, 0.0], [-5.0, 1.0]])
    grid = splat(pts, np.array([0, 1, 0]), 2, (4, 5), order=1)
    assert grid[0].sum() == pytest.approx(1.0) and grid[1].sum() == pytest.approx(1.0)
    assert grid[0, 2, 1] == pytest.approx(0.75 * 0.5) and grid[1, 0, 3] == pytest.approx(1.0)
    cubic = splat(np.array([[4.3, 5.8]]), np.array([0]), 1, (12, 12), order=3)[0]
    rows, cols = np.indices(cubic.shape)
    assert cubic.sum() == pytest.approx(1.0)
    assert (cubic * cols).sum() == pytest.approx(4.3) and (cubic * rows).sum() == pytest.approx(5.8)
