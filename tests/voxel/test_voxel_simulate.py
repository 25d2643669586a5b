"""Simulated geometries and clathrin coats: balanced, reproducible, physically sensible."""

from __future__ import annotations

import numpy as np

from fewlabel.simulate.volumes import CLATHRIN_STAGES, clathrin, geometries


def test_geometries_balanced_reproducible_and_noisy():
    X1, y1, classes = geometries(30, n=12, seed=3)
    X2, y2, _ = geometries(30, n=12, seed=3)
    X3, _, _ = geometries(30, n=12, seed=4)
    assert X1.shape == (30, 12, 12, 12) and classes == ("cube", "sphere", "diamond")
    assert np.bincount(y1).tolist() == [10, 10, 10]
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2) and not np.array_equal(X1, X3)
    clean, _, _ = geometries(30, n=12, seed=3, noise=0.0)
    assert set(np.unique(clean)) <= {0.0, 1.0} and 0.05 < np.std(X1 - clean) < 0.15


def test_geometries_sphere_is_rotation_invariant_but_cube_is_not():
    # the same-size sphere occupies the same voxel count whatever the rotation; cubes vary more
    X, y, _ = geometries(90, n=20, seed=0, noise=0.0, size_range=(0.3, 0.3), shift=0.0)
    vol = X.reshape(len(X), -1).sum(1)
    assert np.std(vol[y == 1]) < np.std(vol[y == 0])


def test_geometries_are_never_cut_by_the_grid_edge():
    # the largest shapes at the largest shift still leave the outer voxel layer empty
    X, _, _ = geometries(60, n=20, seed=1, noise=0.0, size_range=(0.32, 0.32), shift=0.5)
    border = X.copy()
    border[:, 1:-1, 1:-1, 1:-1] = 0
    assert X.sum() > 0 and border.sum() == 0


def test_clathrin_labels_stages_and_curvature():
    sim = clathrin(120, seed=1, background_frac=0.0, sigma_xy_nm=1.0, sigma_z_nm=1.0, max_tilt_deg=0.0)
    assert np.array_equal(sim.curved, (sim.stage > 0).astype(int))
    for s, name in enumerate(sim.stages):
        lo, hi = CLATHRIN_STAGES[name]
        th = sim.theta_deg[sim.stage == s]
        assert np.all((th >= lo) & (th <= hi))
    depth = np.array([np.ptp(c[:, 2]) for c in sim.clouds])
    assert depth[sim.stage == 0].mean() < 10 < depth[sim.stage == 2].mean()  # flat lattices are flat


def test_clathrin_axial_precision_is_worse_than_lateral():
    sim = clathrin(40, seed=2, stage_probs=(1, 0, 0), background_frac=0.0, max_tilt_deg=0.0,
                   sigma_xy_nm=5.0, sigma_z_nm=40.0)
    z = np.concatenate([c[:, 2] - c[:, 2].mean() for c in sim.clouds])
    assert 30 < z.std() < 50


def test_clathrin_blinking_and_background_add_localizations():
    quiet = clathrin(30, seed=5, blinks_mean=1.0, background_frac=0.0)
    busy = clathrin(30, seed=5, blinks_mean=4.0, background_frac=0.5)
    assert sum(map(len, busy.clouds)) > 3 * sum(map(len, quiet.clouds))
