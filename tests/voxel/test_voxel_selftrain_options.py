"""Self-training options: rounds, noisy student, a prior mixed into the teacher, the ensemble as teacher."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fewlabel.errors import InputError
from fewlabel.simulate.volumes import geometries
from fewlabel.voxel.classify import VoxelClassifier
from fewlabel.voxel.cnn import SemiSupervisedCNN

KW = dict(epochs=1, width=4, batch_size=16, min_steps_per_epoch=2, val_fraction=0, axes="all",
          semi="self-training", seed=0)


@pytest.fixture(scope="module")
def geo():
    X, y, _ = geometries(100, n=10, seed=5)
    return X[:40], y[:40], X[40:80], X[80:], y[80:]


def test_a_confident_prior_decides_the_pseudo_labels(geo):
    Xl, yl, Xu, _, _ = geo
    prior = np.zeros((len(Xu), 3))
    prior[:10, 1] = 1.0  # only these ten are confidently class 1 under the prior
    # weight 1: the teacher is ignored, so exactly the grids the prior is sure of are pseudo-labeled
    model = SemiSupervisedCNN(threshold=0.9, **KW).fit(Xl, yl, Xu, prior=prior, prior_weight=1.0)
    assert model.pseudo_labeled_ == 10
    # weight 0.5 with threshold 0.5: a grid needs the prior's vote (the teacher alone reaches at most 0.5)
    half = SemiSupervisedCNN(threshold=0.5001, **KW).fit(Xl, yl, Xu, prior=prior, prior_weight=0.5)
    assert half.pseudo_labeled_ == 10
    with pytest.raises(InputError, match="prior"):
        SemiSupervisedCNN(**KW).fit(Xl, yl, Xu, prior=prior[:5])


def test_rounds_relabel_with_each_student_and_noisy_student_trains(geo):
    Xl, yl, Xu, Xt, yt = geo
    two = SemiSupervisedCNN(threshold=0.0, rounds=2, student_strong=True, **KW).fit(Xl, yl, Xu)
    assert two.pseudo_labeled_ == [len(Xu), len(Xu)]  # one count per round
    assert len(two.history_) == 1 and two.predict(Xt).shape == yt.shape
    with pytest.raises(InputError, match="rounds"):
        SemiSupervisedCNN(rounds=0, **{k: v for k, v in KW.items()}).fit(Xl, yl, Xu)


def test_ensemble_teacher_passes_the_svm_probabilities_to_the_cnn(geo, monkeypatch):
    Xl, yl, Xu, Xt, _ = geo
    seen = {}
    fit = SemiSupervisedCNN.fit

    def spy(self, X, y, X_unlabeled=None, prior=None, prior_weight=0.5):
        seen.update(prior=prior, weight=prior_weight)
        return fit(self, X, y, X_unlabeled, prior=prior, prior_weight=prior_weight)

    monkeypatch.setattr(SemiSupervisedCNN, "fit", spy)
    model = VoxelClassifier("ensemble", n_components=4, seed=0, cnn_weight=0.6, ensemble_teacher=True,
                            threshold=0.5, **{k: v for k, v in KW.items() if k != "seed"}).fit(Xl, yl, Xu)
    svm_unl = model.parts_["kmeans"].predict_proba(Xu)
    assert seen["prior"] is not None and np.allclose(seen["prior"], svm_unl)
    assert seen["weight"] == pytest.approx(0.4)  # the SVM's share of the ensemble
    assert model.predict(Xt).shape == (len(Xt),)
    plain = VoxelClassifier("ensemble", n_components=4, seed=0, threshold=0.5,
                            **{k: v for k, v in KW.items() if k != "seed"}).fit(Xl, yl, Xu)
    assert plain.ensemble_teacher is False and seen["prior"] is None


def test_cli_fit_ensemble_teacher_rounds_and_noisy_student(tmp_path, cli_runner, geo):
    Xl, yl, Xu, _, _ = geo
    np.savez(tmp_path / "l.npz", X=Xl, y=yl)
    np.savez(tmp_path / "u.npz", X=Xu)
    code, out, _ = cli_runner("voxel", "fit", "--grids", tmp_path / "l.npz", "--unlabeled", tmp_path / "u.npz",
                              "--method", "ensemble", "--latent", "4", "--symmetry", "all", "--epochs", "1",
                              "--batch-size", "16", "--val-fraction", "0", "--semi", "self-training",
                              "--threshold", "0.3", "--ensemble-teacher", "--rounds", "2", "--student-strong",
                              "-o", tmp_path / "m")
    assert code == 0 and "round 2/2" in out and "with the prior" in out
    config = json.loads((tmp_path / "m" / "run.json").read_text())["config"]
    assert (config["ensemble_teacher"], config["rounds"], config["student_strong"]) == (True, 2, True)
    again = VoxelClassifier.load(tmp_path / "m")
    assert again.ensemble_teacher is True and again.cnn_network.rounds == 2


def test_teacher_epochs_train_the_teacher_apart_from_the_student(geo, tmp_path):
    from fewlabel.checkpoint import load_checkpoint

    Xl, yl, Xu, _, _ = geo
    ck = tmp_path / "cnn.pt"
    model = SemiSupervisedCNN(threshold=0.0, teacher_epochs=3, checkpoint=str(ck), **KW).fit(Xl, yl, Xu)
    teacher = load_checkpoint(str(ck) + ".teacher", "voxel")["training_state"]["history"]
    student = load_checkpoint(ck, "voxel")["training_state"]["history"]
    assert len(teacher) == 3 and len(student) == 1 == len(model.history_)
