"""The CNN's exponential moving average of weights (``ema``): a correct running average, student only."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from fewlabel.errors import InputError
from fewlabel.simulate.volumes import geometries
from fewlabel.voxel import nets
from fewlabel.voxel.cnn import SemiSupervisedCNN

KW = dict(epochs=2, width=4, batch_size=16, min_steps_per_epoch=3, val_fraction=0, axes="all", seed=0)


@pytest.fixture(scope="module")
def geo():
    X, y, _ = geometries(60, n=10, seed=5)
    return X[:30], y[:30], X[30:]


def _expected(iterates: list[list[torch.Tensor]], decay: float) -> list[torch.Tensor]:
    """sum_i decay^(t-i) w_i / sum_i decay^(t-i) over the recorded weights."""
    t = len(iterates)
    w = torch.tensor([decay ** (t - 1 - i) for i in range(t)], dtype=torch.float64)
    return [sum(wi * it[k].double() for wi, it in zip(w, iterates)) / w.sum() for k in range(len(iterates[0]))]


def _spy(monkeypatch) -> list[list[torch.Tensor]]:
    """Record the live parameters at every EMA update."""
    seen, update = [], nets.WeightEMA.update

    def spy(self, model):
        seen.append([p.detach().clone() for p in model.parameters()])
        update(self, model)

    monkeypatch.setattr(nets.WeightEMA, "update", spy)
    return seen


def test_weight_ema_is_the_bias_corrected_running_average():
    torch.manual_seed(0)
    live = nn.Linear(3, 2)
    avg = nets.WeightEMA(live, 0.8)
    opt = torch.optim.SGD(live.parameters(), lr=0.5)
    iterates = []
    for _ in range(5):
        opt.zero_grad()
        live(torch.randn(4, 3)).pow(2).sum().backward()
        opt.step()
        avg.update(live)
        iterates.append([p.detach().clone() for p in live.parameters()])
    assert avg.updates == 5
    for a, e, p in zip(avg.model.parameters(), _expected(iterates, 0.8), live.parameters()):
        assert torch.allclose(a.double(), e, atol=1e-6)
        assert not torch.allclose(a, p)  # the average lags the live weights
    assert all(not p.requires_grad for p in avg.model.parameters())
    with pytest.raises(ValueError):
        nets.WeightEMA(live, 1.0)


def test_cnn_predicts_with_the_average_and_leaves_training_unchanged(geo, monkeypatch):
    Xl, yl, _ = geo
    plain = SemiSupervisedCNN(**KW).fit(Xl, yl)
    assert SemiSupervisedCNN(ema=None, **KW).fit(Xl, yl).predict_proba(Xl).tolist() == \
        plain.predict_proba(Xl).tolist()  # ema=None: the run as before, deterministic
    seen = _spy(monkeypatch)
    model = SemiSupervisedCNN(ema=0.9, **KW).fit(Xl, yl)
    assert len(seen) == 2 * 3  # one update per optimizer step
    # the live trajectory is the plain run's: its last weights are the plain model's
    for p, q in zip(seen[-1], plain.model_.parameters()):
        assert torch.equal(p, q)
    # but the kept weights are the running average of the trajectory (parameters after each step)
    final = _expected(seen, 0.9)
    for a, e, q in zip(model.model_.parameters(), final, plain.model_.parameters()):
        assert torch.allclose(a.double(), e, atol=1e-5)
        assert not torch.equal(a, q)
    # batch-norm statistics recomputed for the averaged weights
    bn = [m for m in model.model_.modules() if isinstance(m, nn.BatchNorm3d)][0]
    bn_live = [m for m in plain.model_.modules() if isinstance(m, nn.BatchNorm3d)][0]
    assert not torch.allclose(bn.running_mean, bn_live.running_mean)
    again = SemiSupervisedCNN(ema=0.9, **KW).fit(Xl, yl)
    assert np.array_equal(again.predict_proba(Xl), model.predict_proba(Xl))
    with pytest.raises(InputError, match="ema"):
        SemiSupervisedCNN(ema=1.5, **KW).fit(Xl, yl)


def test_only_the_student_is_averaged_and_the_teacher_cache_key_ignores_ema(geo, monkeypatch, tmp_path):
    Xl, yl, Xu = geo
    kw = {**KW, "semi": "self-training", "threshold": 0.0, "teacher_cache": str(tmp_path / "t.pt")}
    SemiSupervisedCNN(**kw).fit(Xl, yl, Xu)  # trains and caches the teacher
    seen = _spy(monkeypatch)
    model = SemiSupervisedCNN(ema=0.99, **kw).fit(Xl, yl, Xu)  # reuses it (same fingerprint)
    steps = max(3, -(-(len(Xl) + len(Xu)) // 16))
    assert len(seen) == 2 * steps and model.pseudo_labeled_ == len(Xu)
    # with a validation split the averaged weights are validated and the live ones recorded beside them
    seen.clear()
    val = SemiSupervisedCNN(ema=0.99, **{**KW, "val_fraction": 0.3}).fit(Xl, yl)
    assert all("val_acc_live" in r for r in val.history_) and len(seen) == 2 * 3
