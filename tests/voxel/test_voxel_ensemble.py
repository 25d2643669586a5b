"""Ensemble of the CNN and a featurizer + SVM: averaged probabilities, save/load, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fewlabel.errors import InputError
from fewlabel.simulate.volumes import geometries
from fewlabel.voxel.classify import VoxelClassifier

CNN = dict(epochs=1, width=4, batch_size=16, min_steps_per_epoch=2, val_fraction=0, axes="all", lambda_u=0)


@pytest.fixture(scope="module")
def fitted():
    X, y, _ = geometries(90, n=10, seed=2)
    model = VoxelClassifier("ensemble", n_components=4, seed=0, cnn_weight=0.3, **CNN).fit(X[:60], y[:60], X[60:])
    return model, X[60:], y[60:]


def test_ensemble_probabilities_are_the_weighted_mean_of_its_members(fitted):
    model, Xt, _ = fitted
    p = model.predict_proba(Xt)
    cnn, svm = model.parts_["cnn"].predict_proba(Xt), model.parts_["kmeans"].predict_proba(Xt)
    assert p.shape == (len(Xt), 3) and np.allclose(p.sum(1), 1)
    assert np.allclose(p, 0.3 * cnn + 0.7 * svm)
    assert np.array_equal(model.predict(Xt), model.classes_[p.argmax(1)])
    assert model.parts_["kmeans"].pose == "scale" and model.parts_["cnn"].pose == "none"  # each member's own pose


def test_ensemble_save_load_round_trip(tmp_path, fitted):
    model, Xt, _ = fitted
    model.save(tmp_path / "ens")
    again = VoxelClassifier.load(tmp_path / "ens")
    assert again.cnn_weight == 0.3 and again.ensemble_with == "kmeans"
    assert np.allclose(again.predict_proba(Xt), model.predict_proba(Xt), atol=1e-6)


def test_svm_probabilities_need_probability_and_bad_members_are_refused(fitted):
    _, Xt, _ = fitted
    X, y, _ = geometries(30, n=10, seed=3)
    plain = VoxelClassifier("pca", n_components=3).fit(X, y)
    with pytest.raises(InputError, match="probability"):
        plain.predict_proba(Xt)
    with pytest.raises(InputError, match="ensemble_with"):
        VoxelClassifier("ensemble", ensemble_with="cnn")
    with pytest.raises(InputError, match="cnn_weight"):
        VoxelClassifier("ensemble", cnn_weight=1.5)


def test_cli_fits_an_ensemble_and_predicts(tmp_path, cli_runner):
    X, y, _ = geometries(40, n=10, seed=4)
    g = tmp_path / "g.npz"
    np.savez(g, X=X, y=y)
    code, out, _ = cli_runner("voxel", "fit", "--grids", g, "--method", "ensemble", "--ensemble-with", "pca",
                              "--latent", "3", "--symmetry", "all", "--epochs", "1", "--batch-size", "8",
                              "--cnn-weight", "0.6", "--val-fraction", "0", "-o", tmp_path / "m")
    assert code == 0 and (tmp_path / "m" / "part_pca" / "svm.joblib").exists()
    config = json.loads((tmp_path / "m" / "run.json").read_text())["config"]
    assert (config["val_fraction"], config["cnn_weight"], config["ensemble_with"]) == (0.0, 0.6, "pca")
    assert (tmp_path / "m" / "part_cnn" / "cnn.pt").exists()
    code, out, _ = cli_runner("voxel", "predict", "--model", tmp_path / "m", "--grids", g, "--tta", "off",
                              "-o", tmp_path / "p.csv")
    assert code == 0 and "accuracy" in out and (tmp_path / "p.csv").exists()
