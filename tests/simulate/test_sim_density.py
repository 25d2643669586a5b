"""Atomic models -> Coulomb potential: element handling, analytic integrals, volume grid."""

from __future__ import annotations

import numpy as np
import pytest

from fewlabel.errors import InputError
from fewlabel.simulate.density import (POTENTIAL_CONSTANT, Molecule, atom_potential, load_molecule,
                                       potential_transform, potential_volume, scattering_coefficients,
                                       vendored_molecules)


def test_vendored_models_load_with_protein_elements():
    assert {"adk_open", "adk_closed", "1hvr", "5a7u"} <= set(vendored_molecules())
    adk = load_molecule("adk_open")
    # the adk files have no element column: CA must be carbon, HG1 hydrogen, not calcium/mercury
    assert set(adk.elements) == {"C", "H", "N", "O", "S"}
    assert adk.n_atoms == 3341
    np.testing.assert_allclose(adk.coords.mean(axis=0), 0.0, atol=1e-9)
    assert 60 < adk.diameter < 90
    assert "Zn" in load_molecule("5a7u").elements  # HETATM elements are kept


def test_gzipped_vendored_models_load_by_name():
    """The larger models ship as .pdb.gz and are named like the others (no suffix)."""
    assert {"19hc", "1a28", "1bd2", "1osm", "3pwp"} <= set(vendored_molecules())
    assert len(vendored_molecules()) == len(set(vendored_molecules()))
    porin = load_molecule("1osm")
    assert porin.name == "1osm" and porin.n_atoms == 1431
    assert set(porin.elements) == {"C", "N", "O", "S"}
    assert 130 < load_molecule("1bd2").diameter < 160  # the elongated TCR-MHC complex


def test_waters_are_removed(tmp_path):
    pdb = tmp_path / "tiny.pdb"
    pdb.write_text(
        "ATOM      1  CA  GLY A   1       0.000   0.000   0.000  1.00 20.00           C\n"
        "ATOM      2  CA  GLY A   2       3.800   0.000   0.000  1.00 20.00           C\n"
        "HETATM    3  O   HOH A 101      10.000  10.000  10.000  1.00 20.00           O\n"
        "END\n")
    mol = load_molecule(pdb)
    assert mol.n_atoms == 2
    assert mol.diameter == pytest.approx(3.8)


def test_bad_models_raise_input_error(tmp_path):
    with pytest.raises(InputError, match="unknown molecule"):
        load_molecule("no_such_protein")
    with pytest.raises(InputError, match="not found"):
        load_molecule(tmp_path / "missing.pdb")
    empty = tmp_path / "empty.pdb"
    empty.write_text("REMARK nothing here\nEND\n")
    with pytest.raises(InputError, match="no atoms"):
        load_molecule(empty)


def test_transform_at_zero_is_the_integral_of_the_real_space_potential():
    a, _ = scattering_coefficients("O")
    assert potential_transform("O", np.array(0.0)) == pytest.approx(POTENTIAL_CONSTANT * a.sum())
    r = np.linspace(0, 6, 6001)
    integral = np.trapezoid(4 * np.pi * r**2 * atom_potential("O", r, bfactor=5.0), r)
    assert integral == pytest.approx(POTENTIAL_CONSTANT * a.sum(), rel=1e-3)
    # a B-factor blurs but keeps the integral, and only lowers high frequencies
    k = np.array([0.0, 0.5])
    sharp, blurred = potential_transform("O", k), potential_transform("O", k, bfactor=50)
    assert blurred[0] == pytest.approx(sharp[0]) and blurred[1] < sharp[1]


def test_volume_integral_and_centre_match_the_atoms():
    mol = Molecule("pair", np.array([[-3.0, 0.0, 0.0], [3.0, 1.0, -2.0]]), np.array([0, 1]), ("C", "N"))
    pixel = 0.8
    vol = potential_volume(mol, pixel, box=40, bfactor=10.0)
    expected = potential_transform("C", np.array(0.0)) + potential_transform("N", np.array(0.0))
    assert vol.sum() * pixel**3 == pytest.approx(float(expected), rel=1e-3)
    z, y, x = np.indices(vol.shape) - 20
    w = vol / vol.sum()
    # potential-weighted centre (x, y, z) in Å equals the scattering-weighted atom centre
    wc, wn = potential_transform("C", np.array(0.0)), potential_transform("N", np.array(0.0))
    centre = (wc * mol.coords[0] + wn * mol.coords[1]) / (wc + wn)
    np.testing.assert_allclose([(w * x).sum() * pixel, (w * y).sum() * pixel, (w * z).sum() * pixel],
                               centre, atol=0.02)


def test_displaced_solvent_lowers_low_frequency_contrast_only():
    from fewlabel.simulate.density import ATOM_VOLUME, SOLVENT, SOLVENT_POTENTIAL, with_solvent
    from fewlabel.simulate.project import project_molecule

    mol = load_molecule("5a7u")
    wet = with_solvent(mol)
    heavy = sum(mol.elements[i] != "H" for i in mol.element_index)
    assert wet.n_atoms == mol.n_atoms + heavy and wet.elements[-1] == SOLVENT
    assert with_solvent(wet) is wet
    pixel = 1.0
    dry_img = project_molecule(mol, None, (96, 96), pixel)
    wet_img = project_molecule(wet, None, (96, 96), pixel)
    removed = dry_img.sum() - wet_img.sum()
    assert removed * pixel**2 == pytest.approx(SOLVENT_POTENTIAL * ATOM_VOLUME * heavy, rel=1e-4)
    assert 0.3 < wet_img.sum() / dry_img.sum() < 0.7  # about half the low-frequency contrast is left
    # high frequencies (atomic detail) are untouched by the smooth displaced-water envelope
    k = np.hypot(*np.meshgrid(np.fft.fftfreq(96), np.fft.fftfreq(96)))
    hi = k > 0.35
    np.testing.assert_allclose(np.abs(np.fft.fft2(wet_img))[hi], np.abs(np.fft.fft2(dry_img))[hi], rtol=0.05)
