"""Featurizer + SVM pipeline and the semi-supervised CNN: accuracy, persistence, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from fewlabel.errors import InputError
from fewlabel.simulate.volumes import geometries
from fewlabel.voxel.classify import VoxelClassifier, svm_grid_search


@pytest.fixture(scope="module")
def geo():
    """Small, fairly easy Geometries split (16^3, little shift), labeled/unlabeled/test."""
    X, y, _ = geometries(240, n=16, seed=0, noise=0.05, shift=0.03, size_range=(0.3, 0.42))
    return X[:90], y[:90], X[90:150], X[150:], y[150:]


def test_pca_svm_beats_chance_on_geometries(geo):
    Xl, yl, Xu, Xt, yt = geo
    model = VoxelClassifier("pca", n_components=16, seed=0).fit(Xl, yl, Xu)
    acc = np.mean(model.predict(Xt) == yt)
    assert acc > 0.6  # chance is 1/3
    assert set(model.best_params_) == {"svc__C", "svc__gamma"}


def test_cnn_learns_where_along_z_the_structure_sits():
    # class = blob in the upper or lower half along z (kept by the z-rotation augmentation), random x/y
    # position and noise; 60 steps are enough for the network (randomly posed Geometries are not: the
    # training loss stays near ln 3 that briefly, so that is left to the benchmark)
    rng = np.random.default_rng(0)
    y = np.tile([0, 1], 60)
    X = rng.normal(0, 0.1, (120, 16, 16, 16)).astype(np.float32)
    for g, c in zip(X, y):
        x0, y0 = rng.integers(3, 9, 2)
        z0 = rng.integers(9, 12) if c else rng.integers(1, 4)
        g[x0:x0 + 4, y0:y0 + 4, z0:z0 + 4] += 1
    model = VoxelClassifier("cnn", seed=0, epochs=6, width=8, min_steps_per_epoch=10, val_fraction=0)
    model.fit(X[:60], y[:60], X[60:90])
    assert np.mean(model.predict(X[90:]) == y[90:]) > 0.8
    hist = model.cnn_.history_
    assert len(hist) == 6 and hist[-1]["sup"] < hist[0]["sup"]


def test_pose_and_rotated_copies_make_randomly_posed_geometries_separable():
    # random size, position and 3D rotation: raw PCA features are near chance; a canonical pose
    # (centre of mass, radius of gyration) plus rotated labeled copies for the SVM separate them
    X, y, _ = geometries(180, n=16, seed=0)
    Xl, yl, Xu, Xt, yt = X[:60], y[:60], X[60:90], X[90:], y[90:]
    raw = VoxelClassifier("pca", n_components=16, seed=0, pose="none").fit(Xl, yl, Xu)
    posed = VoxelClassifier("pca", n_components=16, seed=0, pose="scale", rotations=3, symmetry="all")
    posed.fit(Xl, yl, Xu)
    acc_raw, acc_posed = np.mean(raw.predict(Xt) == yt), np.mean(posed.predict(Xt) == yt)
    assert acc_raw < 0.6 and acc_posed > 0.85


def test_svm_cv_keeps_rotated_copies_of_one_grid_in_one_fold():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(2), 12)
    groups = np.tile(np.arange(6), 4)  # 6 structures x 4 copies
    y = np.repeat(np.arange(2), 3)[groups]
    feats = rng.normal(size=(24, 3)) + y[:, None]
    search = svm_grid_search(feats, y, seed=0, cv=3, groups=groups)
    for train, test in search.cv.split(feats, y, groups):
        assert not set(groups[train]) & set(groups[test])
    assert search.predict(feats).shape == (24,)


def test_cnn_early_stopping_restores_the_best_epoch(geo):
    Xl, yl, _, Xt, _ = geo
    # lr = 0: validation accuracy never improves after epoch 1, so training stops after `patience` more
    model = VoxelClassifier("cnn", seed=0, epochs=10, width=4, min_steps_per_epoch=2, lr=0.0, patience=2,
                            val_fraction=0.2).fit(Xl, yl)
    assert len(model.cnn_.history_) == 3 and model.cnn_.best_epoch_ == 1
    assert all("val_acc" in h for h in model.cnn_.history_)
    assert model.predict(Xt).shape == (len(Xt),)


@pytest.mark.parametrize("method, opts", [("pca", {}), ("kmeans", {"epochs": 1}), ("cae", {"epochs": 1}),
                                          ("cnn", {"epochs": 1, "width": 4, "min_steps_per_epoch": 2})])
def test_save_load_round_trip_predicts_the_same(tmp_path, geo, method, opts):
    Xl, yl, Xu, Xt, _ = geo
    model = VoxelClassifier(method, n_components=8, seed=1, **opts).fit(Xl, yl, Xu[:20])
    model.save(tmp_path / "m")
    loaded = VoxelClassifier.load(tmp_path / "m")
    assert np.array_equal(loaded.predict(Xt[:30]), model.predict(Xt[:30]))


def test_same_seed_same_predictions(geo):
    Xl, yl, Xu, Xt, _ = geo
    a = VoxelClassifier("kmeans", n_components=6, seed=4, epochs=1).fit(Xl, yl, Xu).predict(Xt)
    b = VoxelClassifier("kmeans", n_components=6, seed=4, epochs=1).fit(Xl, yl, Xu).predict(Xt)
    assert np.array_equal(a, b)


def test_single_class_labels_are_refused(geo):
    Xl, _, _, _, _ = geo
    with pytest.raises(InputError, match="1 class"):
        VoxelClassifier("pca", n_components=4).fit(Xl, np.zeros(len(Xl), dtype=int))
    with pytest.raises(InputError, match="1 class"):
        svm_grid_search(np.zeros((5, 2)), np.ones(5, dtype=int))


def test_mismatched_grid_sizes_are_refused(geo):
    Xl, yl, _, _, _ = geo
    with pytest.raises(InputError, match="does not match"):
        VoxelClassifier("pca", n_components=4).fit(Xl, yl, np.zeros((5, 12, 12, 12)))
    model = VoxelClassifier("pca", n_components=4).fit(Xl, yl)
    with pytest.raises(InputError, match="does not match"):
        model.predict(np.zeros((3, 20, 20, 20)))


def test_nan_grids_and_unknown_method_are_refused(geo):
    Xl, yl, _, _, _ = geo
    bad = Xl.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        VoxelClassifier("pca", n_components=4).fit(bad, yl)
    with pytest.raises(InputError, match="unknown method"):
        VoxelClassifier("svm")


def test_load_refuses_a_folder_that_is_not_a_model(tmp_path):
    with pytest.raises(InputError, match="model.json"):
        VoxelClassifier.load(tmp_path)
