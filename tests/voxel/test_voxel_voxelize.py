"""Voxelization of clouds and meshes, checked against ModelNet's reference binvox."""

from __future__ import annotations

import numpy as np
import pytest

from fewlabel.errors import InputError
from fewlabel.voxel.voxelize import voxel_iou, voxelize_mesh, voxelize_points
from tests.conftest import shared_path


def test_fit_scaling_spans_grid_minus_padding():
    pts = np.array([[0.0, 0, 0], [10, 0, 0], [0, 5, 0], [0, 0, 2]])
    g = voxelize_points(pts, 16, padding=3)
    occupied_x = np.flatnonzero(g.any(axis=(1, 2)))
    assert occupied_x.min() == 3 and occupied_x.max() == 12  # 10 units -> voxels 3..12


def test_fixed_voxel_size_counts_and_drops_outside():
    pts = np.array([[0.0, 0, 0], [0.1, 0.1, 0.1], [100, 0, 0]])
    g = voxelize_points(pts, 8, voxel_size=1.0, centre="none", mode="count")
    assert g.sum() == 2  # the far point is outside the grid
    assert g[4, 4, 4] == 2


def test_binary_mode_is_occupancy():
    pts = np.zeros((5, 3))
    g = voxelize_points(pts, 4, padding=1)
    assert g.dtype == np.uint8 and g.sum() == 1


@pytest.mark.parametrize("pts, problem", [(np.zeros((0, 3)), "empty"), (np.array([[0, np.nan, 0.0]]), "NaN")])
def test_bad_points_raise(pts, problem):
    with pytest.raises(InputError, match=problem):
        voxelize_points(pts, 8)


def _cube_mesh():
    v = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], dtype=float)
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    f = [t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))]
    return v, np.array(f)


def test_mesh_cube_fills_solid_and_surface_only_is_hollow():
    v, f = _cube_mesh()
    solid = voxelize_mesh(v, f, 12, padding=1, fill=True)
    shell = voxelize_mesh(v, f, 12, padding=1, fill=False)
    assert solid[1:11, 1:11, 1:11].all() and solid.sum() == 1000
    assert shell[5, 5, 5] == 0 and shell.sum() < solid.sum()


def test_iou_of_identical_and_disjoint_grids():
    a = np.zeros((4, 4, 4)); a[0] = 1
    b = np.zeros((4, 4, 4)); b[3] = 1
    assert voxel_iou(a, a) == 1.0 and voxel_iou(a, b) == 0.0


def test_off_to_grid_matches_reference_binvox():
    from fewlabel.io.pointclouds import read_binvox, read_off

    folder = shared_path("modelnet10", "off_samples", "ModelNet10", "toilet", "test")
    v, f = read_off(folder / "toilet_0345.off")
    ref, _, _ = read_binvox(folder / "toilet_0345_30.binvox")
    grid = voxelize_mesh(v, f, 30, padding=0, fill=True)
    assert voxel_iou(grid, ref) > 0.75
