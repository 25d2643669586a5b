"""Canonical pose: centre of mass, radius of gyration, principal axes, rotations; robust to noise."""

from __future__ import annotations

import numpy as np
import pytest

from fewlabel.errors import InputError
from fewlabel.voxel.pose import (TARGET_RG, augment_rotations, grid_moments, normalize_pose, normalize_poses,
                                 random_grid_rotations, rotate_grid)


def _ball(n: int, centre, radius: float) -> np.ndarray:
    idx = np.stack(np.meshgrid(*[np.arange(n)] * 3, indexing="ij"), -1)
    return (np.linalg.norm(idx - np.asarray(centre), axis=-1) <= radius).astype(np.uint8)


def test_scale_pose_centres_and_sets_radius_of_gyration():
    n = 24
    for centre, radius in (((7, 8, 9), 3.0), ((14, 12, 10), 6.0)):
        g = normalize_pose(_ball(n, centre, radius), "scale")
        mass, c, cov = grid_moments(g)
        assert g.dtype == np.uint8 and mass > 0
        np.testing.assert_allclose(c, (n - 1) / 2, atol=0.3)
        assert np.sqrt(np.trace(cov)) == pytest.approx(TARGET_RG * n, rel=0.1)


def test_centre_pose_keeps_size():
    g = _ball(20, (5, 6, 7), 3.0)
    out = normalize_pose(g, "centre")
    assert out.sum() == g.sum()  # a whole-voxel shift: nothing blurred or lost
    np.testing.assert_allclose(grid_moments(out)[1], 9.5, atol=0.5)


def test_noisy_grid_scale_ignores_the_noise_far_from_the_structure():
    rng = np.random.default_rng(0)
    n = 24
    clean = _ball(n, (8, 9, 10), 3.0).astype(np.float32)
    noisy = clean + rng.normal(0, 0.1, clean.shape).astype(np.float32)
    a, b = normalize_pose(clean, "scale"), normalize_pose(noisy, "scale")
    assert b.dtype == np.float32
    # the same ball comes out at the same place and size despite the noise
    overlap = ((a > 0.5) & (b > 0.5)).sum() / max(((a > 0.5) | (b > 0.5)).sum(), 1)
    assert overlap > 0.8


def test_align_puts_the_longest_axis_along_x():
    g = np.zeros((20, 20, 20), dtype=np.uint8)
    g[9:11, 8:12, 3:17] = 1  # long along z
    out = normalize_pose(g, "align")
    _, _, cov = grid_moments(out)
    assert cov[0, 0] > 2 * cov[1, 1] and cov[0, 0] > 2 * cov[2, 2]


def test_rotations_preserve_volume_and_z_rotations_keep_z():
    g = np.zeros((20, 20, 20), dtype=np.uint8)
    g[6:14, 8:12, 4:16] = 1
    rng = np.random.default_rng(1)
    for R in random_grid_rotations(5, "all", rng):
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-10)
        assert abs(int(rotate_grid(g, R).sum()) - int(g.sum())) < 0.15 * g.sum()
    z = random_grid_rotations(5, "z", rng)
    assert np.allclose(z[:, 2, 2], 1) and np.allclose(z[:, 2, :2], 0)
    copies = augment_rotations(g[None], 3, "z", rng)
    assert copies.shape == (3, 20, 20, 20)
    for c in copies:  # turning about z keeps every voxel in its z slice
        assert np.array_equal(np.flatnonzero(c.any(axis=(0, 1))), np.flatnonzero(g.any(axis=(0, 1))))


def test_none_pose_is_identity_and_bad_options_raise():
    X = np.zeros((2, 8, 8, 8), dtype=np.uint8)
    assert normalize_poses(X, "none") is X
    assert normalize_pose(X[0], "scale").sum() == 0  # empty grid: nothing to move
    with pytest.raises(InputError, match="unknown pose"):
        normalize_pose(X[0], "upright")
    with pytest.raises(InputError, match="unknown symmetry"):
        random_grid_rotations(2, "xy", np.random.default_rng(0))


@pytest.mark.parametrize("axes, group_size", [("mirror", 4), ("z", 8)])
def test_cnn_augmentation_stays_in_its_symmetry_group(axes, group_size):
    import torch

    from fewlabel.voxel.nets import augment

    g = torch.zeros(1, 1, 6, 6, 6)
    g[0, 0, 0, 1, 2] = g[0, 0, 0, 0, 0] = g[0, 0, 3, 0, 5] = 1.0  # no symmetry of its own
    seen = {tuple(augment(g, torch.Generator().manual_seed(s), axes=axes).flatten().nonzero().flatten().tolist())
            for s in range(200)}
    assert len(seen) == group_size
    if axes == "mirror":  # mirrors keep every voxel's z (no quarter turns of an aligned object)
        for s in range(20):
            out = augment(g, torch.Generator().manual_seed(s), axes=axes)
            assert torch.equal(out.sum(dim=(2, 3)), g.sum(dim=(2, 3)))
