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


def test_cnn_beats_chance_on_geometries(geo):
    Xl, yl, Xu, Xt, yt = geo
    model = VoxelClassifier("cnn", seed=0, epochs=6, width=8, min_steps_per_epoch=10, val_fraction=0).fit(Xl, yl, Xu)
    acc = np.mean(model.predict(Xt) == yt)
    assert acc > 0.6
    hist = model.cnn_.history_
    assert len(hist) == 6 and hist[-1]["sup"] < hist[0]["sup"]


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
