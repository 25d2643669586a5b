"""Rotations about the up axis (VoxNet-style augmentation) and test-time averaging of the voxel CNN."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fewlabel.voxel.cnn import SemiSupervisedCNN, _symmetries
from fewlabel.voxel.nets import augment, rotate_up, up_angles


def _chair(n: int = 16) -> torch.Tensor:
    """An asymmetric upright object (seat, back, one leg) as a (1, 1, n, n, n) binary grid."""
    g = np.zeros((n, n, n), np.float32)
    g[4:12, 4:12, 7:9] = 1  # seat
    g[4:12, 10:12, 9:14] = 1  # back on the +y side
    g[4:6, 4:6, 2:7] = 1  # one leg
    return torch.from_numpy(g)[None, None]


def test_quarter_turns_about_up_are_exact_and_angles_are_evenly_spaced():
    x = _chair()
    assert torch.equal(rotate_up(x, 90.0), torch.rot90(x, 1, dims=(2, 3)))
    assert torch.equal(rotate_up(x, 180.0), torch.rot90(x, 2, dims=(2, 3)))
    assert torch.equal(rotate_up(x, 0.0), x)
    assert up_angles(12)[:3] == [0.0, 30.0, 60.0] and len(up_angles(12)) == 12


def test_rotation_about_up_keeps_height_profile_and_occupancy():
    x = _chair()
    r = rotate_up(x, 30.0)
    assert set(r.unique().tolist()) <= {0.0, 1.0}  # binary stays binary
    assert not torch.equal(r, x)
    # mass does not move along the up (last) axis: per-height voxel counts stay close
    before, after = x.sum(dim=(0, 1, 2, 3)), r.sum(dim=(0, 1, 2, 3))
    assert torch.all((after - before).abs() <= 0.2 * before + 2)
    back = rotate_up(r, -30.0)
    iou = float(((back > 0) & (x > 0)).sum() / ((back > 0) | (x > 0)).sum())
    assert iou > 0.8
    # per-grid angles in one batch
    both = rotate_up(torch.cat([x, x]), torch.tensor([0.0, 90.0]))
    assert torch.equal(both[0:1], x) and torch.equal(both[1:2], torch.rot90(x, 1, dims=(2, 3)))


def test_up_augmentation_is_seeded_and_only_turns_about_up():
    x = torch.cat([_chair()] * 6)
    a = augment(x, torch.Generator().manual_seed(3), axes="up", up_views=4)
    b = augment(x, torch.Generator().manual_seed(3), axes="up", up_views=4)
    assert torch.equal(a, b)
    # with 4 views every element is an exact quarter turn (maybe mirrored): same height profile
    assert torch.equal(a.sum(dim=(1, 2, 3)), x.sum(dim=(1, 2, 3)))
    assert len({tuple(g.flatten().tolist()) for g in a}) > 1  # not all the same view


@pytest.fixture(scope="module")
def upright():
    """Two upright classes in random quarter turns: chairs (seat, back, one leg) and stools (seat, two legs)."""
    rng = np.random.default_rng(0)
    grids, labels = [], []
    for i in range(48):
        g = _chair()[0, 0].numpy().copy()
        if i % 2:  # class 1: no back, legs at two corners
            g[:, :, 9:] = 0
            g[10:12, 10:12, 2:7] = 1
        k = int(rng.integers(4))
        grids.append(np.rot90(g, k, axes=(0, 1)).astype(np.uint8))
        labels.append(i % 2)
    return np.stack(grids), np.array(labels)


def test_test_time_views_average_the_softmax_and_auto_choice_is_saved(upright):
    X, y = upright
    model = SemiSupervisedCNN(epochs=2, width=4, batch_size=8, min_steps_per_epoch=2, axes="up", up_views=4,
                              val_fraction=0.25, seed=0).fit(X, y)
    views = _symmetries(torch.from_numpy(X[:5].astype(np.float32)).unsqueeze(1), "up", 4)
    assert len(views) == 8
    with torch.no_grad():
        manual = torch.stack([torch.softmax(model.model_(v), 1) for v in views]).mean(0).numpy()
    assert np.allclose(model._proba(X[:5], views=True), manual, atol=1e-6)
    v = model.tta_validation_
    assert set(v) == {"single", "tta"} and model.tta_ == (v["tta"] >= v["single"])
    assert np.allclose(model.predict_proba(X[:5]), model._proba(X[:5], views=model.tta_))
    again = SemiSupervisedCNN.from_state(model.config(), model.model_.state_dict())
    assert again.tta_ == model.tta_ and np.allclose(again.predict_proba(X[:5]), model.predict_proba(X[:5]))
    off = SemiSupervisedCNN(epochs=1, width=4, batch_size=8, min_steps_per_epoch=2, axes="up", up_views=4,
                            tta=False, seed=0).fit(X, y)
    assert off.tta_ is False and np.allclose(off.predict_proba(X[:5]), off._proba(X[:5], views=False))


def test_bad_symmetry_and_tta_values_are_refused(upright):
    from fewlabel.errors import InputError

    X, y = upright
    with pytest.raises(InputError, match="symmetry"):
        SemiSupervisedCNN(axes="spin", epochs=1).fit(X, y)
    with pytest.raises(InputError, match="tta"):
        SemiSupervisedCNN(tta="sometimes", epochs=1).fit(X, y)


def test_cli_fit_up_and_predict_with_tta_switch(tmp_path, cli_runner, upright):
    X, y = upright
    g = tmp_path / "g.npz"
    np.savez(g, X=X, y=y)
    code, out, _ = cli_runner("voxel", "fit", "--grids", g, "--method", "cnn", "--symmetry", "up", "--up-views", "4",
                              "--tta", "on", "--epochs", "1", "--batch-size", "8", "-o", tmp_path / "m")
    assert code == 0
    config = json.loads((tmp_path / "m" / "run.json").read_text())["config"]
    assert (config["axes"], config["up_views"], config["tta"], config["tta_chosen"]) == ("up", 4, True, True)
    for tta in ("on", "off"):
        code, out, _ = cli_runner("voxel", "predict", "--model", tmp_path / "m", "--grids", g, "--tta", tta,
                                  "-o", tmp_path / f"p_{tta}.csv")
        assert code == 0 and "accuracy" in out and (tmp_path / f"p_{tta}.csv").exists()
    code, _, _ = cli_runner("voxel", "fit", "--grids", g, "--method", "pca", "--latent", "2", "-o", tmp_path / "p")
    assert code == 0
    code, _, err = cli_runner("voxel", "predict", "--model", tmp_path / "p", "--grids", g, "--tta", "on",
                              "-o", tmp_path / "pp.csv")
    assert code == 2 and "cnn" in err and len(err.strip().splitlines()) == 1


def test_jitter_turns_slightly_about_up_and_adds_turned_test_views():
    x = torch.cat([_chair()] * 4)
    plain = augment(x, torch.Generator().manual_seed(1), axes="mirror")
    jit = augment(x, torch.Generator().manual_seed(1), axes="mirror", jitter=15.0)
    assert not torch.equal(plain, jit)
    assert torch.equal(jit, augment(x, torch.Generator().manual_seed(1), axes="mirror", jitter=15.0))
    # a small turn about up keeps each height's occupancy close
    before, after = x.sum(dim=(1, 2, 3)), jit.sum(dim=(1, 2, 3))
    assert torch.all((after - before).abs() <= 0.25 * before + 2)
    views = _symmetries(x[:1], "mirror", jitter=10.0)
    assert len(views) == 12 and len(_symmetries(None, "mirror", jitter=10.0)) == 12
    assert torch.equal(views[0], x[:1])  # the unturned views come first
    assert torch.equal(views[4], rotate_up(x[:1], -5.0))
