"""Self-training student options: a wider student, batch mixup, soft (sharpened, confidence-weighted) pseudo-labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from fewlabel.errors import InputError
from fewlabel.simulate.volumes import geometries
from fewlabel.voxel import nets
from fewlabel.voxel.cnn import SemiSupervisedCNN

KW = dict(epochs=2, width=4, batch_size=16, min_steps_per_epoch=3, val_fraction=0, axes="all", seed=0,
          semi="self-training", threshold=0.3)


@pytest.fixture(scope="module")
def geo():
    X, y, _ = geometries(60, n=10, seed=5)
    return X[:30], y[:30], X[30:]


def test_sharpen_keeps_argmax_and_sums_to_one():
    p = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8], [1.0, 0.0, 0.0]])
    s = nets.sharpen(p, 0.5)
    assert np.allclose(s.sum(1), 1)
    assert (s.argmax(1) == p.argmax(1)).all()
    assert (s.max(1) >= p.max(1) - 1e-12).all() and s[0, 0] > 0.6  # 0.25 / (0.25 + 0.09 + 0.04) = 0.658
    assert np.allclose(s[0], np.array([0.25, 0.09, 0.04]) / 0.38)
    assert np.allclose(nets.sharpen(p, 1.0), p)


def test_soft_cross_entropy_matches_label_smoothing_and_weights():
    torch.manual_seed(0)
    logits, y, e = torch.randn(5, 4), torch.tensor([0, 3, 1, 1, 2]), 0.1
    t = nn.functional.one_hot(y, 4).float() * (1 - e) + e / 4
    ref = nn.CrossEntropyLoss(label_smoothing=e)(logits, y)
    assert torch.allclose(nets.soft_cross_entropy(logits, t), ref, atol=1e-6)
    assert torch.allclose(nets.soft_cross_entropy(logits, t, torch.ones(5)), ref, atol=1e-6)
    w = torch.tensor([1.0, 0.0, 0.5, 1.0, 0.0])
    logits.requires_grad_(True)
    nets.soft_cross_entropy(logits, t, w).backward()
    assert torch.all(logits.grad[[1, 4]] == 0) and torch.all(logits.grad[[0, 2, 3]].abs().sum(1) > 0)


def test_mix_batch_mixes_grids_targets_and_weights():
    x, t, w = torch.arange(3.0).view(3, 1), torch.eye(3), torch.tensor([1.0, 0.5, 0.0])
    perm = torch.tensor([2, 0, 1])
    mx, mt, mw = nets.mix_batch(x, t, w, 0.75, perm)
    assert torch.allclose(mx.view(-1), torch.tensor([0.5, 0.75, 1.75]))
    assert torch.allclose(mt[0], torch.tensor([0.75, 0.0, 0.25])) and torch.allclose(mt.sum(1), torch.ones(3))
    assert torch.allclose(mw, torch.tensor([0.75, 0.625, 0.125]))
    assert all(torch.equal(a, b) for a, b in zip(nets.mix_batch(x, t, w, 1.0, perm), (x, t, w)))


def test_student_width_builds_a_wider_student_and_keeps_the_teacher(geo, tmp_path):
    X, y, Xu = geo
    cache = tmp_path / "teacher.pt"
    base = SemiSupervisedCNN(**KW, teacher_cache=str(cache)).fit(X, y, Xu)
    wide = SemiSupervisedCNN(**KW, teacher_cache=str(cache), student_width=6, mixup=0.4, soft_pseudo=0.5)
    wide.fit(X, y, Xu)  # the student options are not in the teacher's fingerprint: the cached teacher is reused
    assert base.model_.features[0].out_channels == 4 and base.net_width_ == 4
    assert wide.model_.features[0].out_channels == 6 and wide.net_width_ == 6 and wide.config()["net_width"] == 6
    assert base._teacher_key(X, np.unique(y, return_inverse=True)[1]) == \
        wide._teacher_key(X, np.unique(y, return_inverse=True)[1])
    again = SemiSupervisedCNN.from_state(wide.config(), wide.model_.state_dict())
    assert np.allclose(again.predict_proba(Xu), wide.predict_proba(Xu), atol=1e-6)


def _spy_train(monkeypatch) -> list[dict]:
    calls, train = [], SemiSupervisedCNN._train

    def spy(self, Xtr, y_idx, *args, **kwargs):
        calls.append({"n": len(Xtr), "y": y_idx.copy(), **kwargs})
        return train(self, Xtr, y_idx, *args, **kwargs)

    monkeypatch.setattr(SemiSupervisedCNN, "_train", spy)
    return calls


def test_soft_pseudo_gives_every_unlabeled_grid_a_sharpened_weighted_target(geo, monkeypatch):
    X, y, Xu = geo
    calls = _spy_train(monkeypatch)
    m = SemiSupervisedCNN(**KW, soft_pseudo=0.5).fit(X, y, Xu)
    teacher, student = calls
    assert teacher.get("soft") is None and student["n"] == len(X) + len(Xu) == len(student["soft"][0])
    assert m.pseudo_labeled_ == len(Xu)
    targets, weights = student["soft"]
    y_idx = np.unique(y, return_inverse=True)[1]
    assert np.array_equal(targets[:len(X)], np.eye(3)[y_idx]) and np.all(weights[:len(X)] == 1)
    assert np.allclose(targets.sum(1), 1) and (targets[len(X):].argmax(1) == student["y"][len(X):]).all()
    assert np.all((weights[len(X):] > 1 / 3 - 1e-9) & (weights[len(X):] <= 1))  # teacher confidences
    assert np.all(targets[len(X):].max(1) >= weights[len(X):] - 1e-9)  # sharpened: surer than the teacher


def test_mixup_mixes_student_batches_only(geo, monkeypatch):
    X, y, Xu = geo
    lams, mix = [], nets.mix_batch

    def spy(x, t, w, lam, perm):
        lams.append(lam)
        return mix(x, t, w, lam, perm)

    monkeypatch.setattr(nets, "mix_batch", spy)
    SemiSupervisedCNN(**KW).fit(X, y, Xu)
    assert lams == []  # off by default
    SemiSupervisedCNN(**KW, mixup=0.4).fit(X, y, Xu)
    assert len(lams) == 2 * 4  # the student's steps only (2 epochs x ceil(60 grids / 16)), not the teacher's (3 per epoch)
    assert all(0.5 <= lam <= 1 for lam in lams) and any(lam < 1 for lam in lams)


def test_defaults_unchanged_and_bad_values_rejected(geo):
    X, y, Xu = geo
    a = SemiSupervisedCNN(**KW).fit(X, y, Xu).predict_proba(Xu)
    b = SemiSupervisedCNN(**KW, student_width=4, mixup=0.0).fit(X, y, Xu).predict_proba(Xu)
    assert np.array_equal(a, b)
    for bad in (dict(mixup=-0.1), dict(soft_pseudo=0), dict(student_width=0),
                dict(student_width=6, init="autoencoder")):
        with pytest.raises(InputError):
            SemiSupervisedCNN(**KW, **bad).fit(X, y, Xu)


def test_soft_keep_select_gives_soft_targets_to_the_confident_grids_only(geo, monkeypatch):
    X, y, Xu = geo
    calls = _spy_train(monkeypatch)
    m = SemiSupervisedCNN(**{**KW, "threshold": 0.45}, teacher_epochs=8, soft_pseudo=0.5, soft_keep="select").fit(X, y, Xu)
    student = calls[1]
    targets, weights = student["soft"]
    n_keep = student["n"] - len(X)
    assert m.pseudo_labeled_ == n_keep == len(targets) - len(X) and 0 < n_keep < len(Xu)
    assert np.all(weights[len(X):] >= 0.45) and np.allclose(targets.sum(1), 1)
    with pytest.raises(InputError):
        SemiSupervisedCNN(**KW, soft_pseudo=0.5, soft_keep="some").fit(X, y, Xu)
