"""Class-proportional pseudo-label selection (``pseudo_select="class"``) for self-training."""

from __future__ import annotations

import numpy as np
import pytest

from fewlabel.errors import InputError
from fewlabel.simulate.volumes import geometries
from fewlabel.voxel.cnn import SemiSupervisedCNN, select_pseudo_labels


@pytest.fixture(scope="module")
def geo():
    """80 small labeled grids of 3 shapes, simulated once for the module."""
    X, y, _ = geometries(80, n=10, seed=5)
    return X, y


def _probs(conf_by_class):
    """Rows of 3-class probabilities with the given (class, confidence) pairs."""
    out = np.full((len(conf_by_class), 3), 0.0)
    for i, (c, p) in enumerate(conf_by_class):
        out[i] = (1 - p) / 2
        out[i, c] = p
    return out


def test_threshold_mode_keeps_every_confident_grid():
    probs = _probs([(0, 0.95), (0, 0.9), (1, 0.5), (2, 0.85)])
    assert select_pseudo_labels(probs, 0.8).tolist() == [0, 1, 3]


def test_class_mode_shares_the_same_number_by_class_frequency():
    # six confident class-0 grids crowd out classes 1 and 2 under a plain threshold
    probs = _probs([(0, 0.99), (0, 0.98), (0, 0.97), (0, 0.96), (0, 0.95), (0, 0.94),
                    (1, 0.6), (1, 0.5), (2, 0.55), (2, 0.45)])
    plain = select_pseudo_labels(probs, 0.9)
    assert len(plain) == 6 and set(probs[plain].argmax(1)) == {0}
    picked = select_pseudo_labels(probs, 0.9, "class", class_freq=np.array([2, 1, 1]))
    # 6 grids shared 3:1.5:1.5 -> round -> 3, 2, 2 (numpy rounds half to even): the most confident of each class
    assert picked.tolist() == [0, 1, 2, 6, 7, 8, 9]
    counts = np.bincount(probs[picked].argmax(1), minlength=3)
    assert counts.tolist() == [3, 2, 2]


def test_class_mode_takes_fewer_when_a_class_is_rarely_predicted_and_checks_inputs():
    probs = _probs([(0, 0.99), (0, 0.95), (0, 0.93), (0, 0.92), (1, 0.4)])
    picked = select_pseudo_labels(probs, 0.9, "class", class_freq=np.array([1, 1, 2]))
    assert picked.tolist() == [0, 4]  # quotas 1, 1, 2; nothing is predicted as class 2
    assert len(select_pseudo_labels(probs, 0.999, "class", class_freq=np.ones(3))) == 0
    with pytest.raises(InputError, match="selection"):
        select_pseudo_labels(probs, 0.9, "top")
    with pytest.raises(InputError, match="class_freq"):
        select_pseudo_labels(probs, 0.9, "class", class_freq=np.ones(2))


def test_self_training_with_class_selection_records_per_class_counts(geo):
    X, y = geo
    kw = dict(epochs=1, width=4, batch_size=16, min_steps_per_epoch=2, val_fraction=0, axes="all",
              semi="self-training", seed=0, threshold=0.0)
    model = SemiSupervisedCNN(pseudo_select="class", **kw).fit(X[:30], y[:30], X[30:70])
    freq = np.bincount(np.unique(y[:30], return_inverse=True)[1])
    quota = np.round(40 * freq / freq.sum()).astype(int)
    assert model.pseudo_labeled_ == sum(model.pseudo_counts_)
    assert all(c <= q for c, q in zip(model.pseudo_counts_, quota))
    plain = SemiSupervisedCNN(**kw).fit(X[:30], y[:30], X[30:70])
    assert plain.pseudo_labeled_ == 40 and sum(plain.pseudo_counts_) == 40
    with pytest.raises(InputError, match="selection"):
        SemiSupervisedCNN(pseudo_select="top", **kw).fit(X[:30], y[:30], X[30:70])


def test_cli_fit_pseudo_select_class(tmp_path, cli_runner, geo):
    import json

    X, y = geo
    np.savez(tmp_path / "l.npz", X=X[:30], y=y[:30])
    np.savez(tmp_path / "u.npz", X=X[30:60])
    code, out, _ = cli_runner("voxel", "fit", "--grids", tmp_path / "l.npz", "--unlabeled", tmp_path / "u.npz",
                              "--method", "cnn", "--symmetry", "all", "--epochs", "1", "--batch-size", "16",
                              "--val-fraction", "0", "--semi", "self-training", "--threshold", "0.0",
                              "--pseudo-select", "class", "--teacher-epochs", "2", "-o", tmp_path / "m")
    assert code == 0 and "shared by labeled class frequency" in out
    assert "cnn epoch 2/2" in out and "cnn epoch 1/1" in out  # teacher 2 epochs, student 1
    config = json.loads((tmp_path / "m" / "run.json").read_text())["config"]
    assert (config["pseudo_select"], config["teacher_epochs"]) == ("class", 2)


def test_teacher_cache_is_reused_only_for_the_same_grids_and_teacher_settings(tmp_path, capsys, geo):
    X, y = geo
    kw = dict(epochs=1, width=4, batch_size=16, min_steps_per_epoch=2, val_fraction=0, axes="all",
              semi="self-training", seed=0, threshold=0.5)
    cache = tmp_path / "teacher.pt"
    fresh = SemiSupervisedCNN(**kw).fit(X[:30], y[:30], X[30:70])
    first = SemiSupervisedCNN(teacher_cache=str(cache), **kw).fit(X[:30], y[:30], X[30:70])
    assert cache.is_file() and "teacher loaded" not in capsys.readouterr().out
    # another student setting: the teacher is loaded, and the student is the one a fresh teacher gives
    again = SemiSupervisedCNN(teacher_cache=str(cache), student_strong=True, **kw).fit(X[:30], y[:30], X[30:70])
    assert "teacher loaded" in capsys.readouterr().out
    assert again.pseudo_counts_ == first.pseudo_counts_ == fresh.pseudo_counts_
    strong = SemiSupervisedCNN(student_strong=True, **kw).fit(X[:30], y[:30], X[30:70])
    assert np.allclose(again.predict_proba(X[70:]), strong.predict_proba(X[70:]), atol=1e-6)
    # other labeled grids or another teacher setting: a new teacher is trained
    SemiSupervisedCNN(teacher_cache=str(cache), **kw).fit(X[:29], y[:29], X[30:70])
    assert "training a new one" in capsys.readouterr().out
    SemiSupervisedCNN(teacher_cache=str(cache), **{**kw, "lr": 0.01}).fit(X[:30], y[:30], X[30:70])
    assert "training a new one" in capsys.readouterr().out


def test_autoencoder_init_starts_teacher_and_student_from_the_pretrained_trunk(monkeypatch, geo):
    import torch

    X, y = geo
    kw = dict(epochs=1, width=4, batch_size=16, min_steps_per_epoch=2, val_fraction=0, axes="all",
              semi="self-training", seed=0, threshold=0.5)
    starts = []
    build = SemiSupervisedCNN._build

    def spy(self, width=None):
        net = build(self, width)
        starts.append(net.features[0].weight.detach().clone())
        return net

    monkeypatch.setattr(SemiSupervisedCNN, "_build", spy)
    model = SemiSupervisedCNN(init="autoencoder", init_epochs=2, **kw).fit(X[:20], y[:20], X[20:50])
    trunk = model.trunk_state_["0.weight"]
    # the autoencoder moved the trunk away from the random start, and both networks began from it
    assert not torch.allclose(starts[0], trunk)
    assert len(starts) == 3 and all(torch.equal(s, trunk) for s in starts[1:])
    assert model.predict(X[50:60]).shape == (10,)
    with pytest.raises(InputError, match="autoencoder"):
        SemiSupervisedCNN(init="autoencoder", arch="voxnet", **kw).fit(X[:20], y[:20], X[20:50])
    with pytest.raises(InputError, match="initialisation"):
        SemiSupervisedCNN(init="pca", **kw).fit(X[:20], y[:20], X[20:50])
