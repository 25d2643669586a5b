"""CNN ensembles (``members``): averaged probabilities, member 0 = the single fit, save/reload, self-training."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fewlabel.errors import InputError
from fewlabel.simulate.volumes import geometries
from fewlabel.voxel.cnn import SemiSupervisedCNN
from fewlabel.voxel.nets import ProbabilityAverage, StridedVoxCNN

KW = dict(epochs=2, width=4, batch_size=16, min_steps_per_epoch=3, val_fraction=0, axes="all", seed=3)


@pytest.fixture(scope="module")
def geo():
    X, y, _ = geometries(80, n=10, seed=7)
    return X[:30], y[:30], X[30:60], X[60:]


def test_probability_average_softmax_is_the_mean_of_the_members_probabilities():
    torch.manual_seed(0)
    nets = [StridedVoxCNN(10, 3, width=2).eval() for _ in range(3)]
    x = torch.rand(4, 1, 10, 10, 10)
    mean = torch.stack([torch.softmax(n(x), 1) for n in nets]).mean(0)
    out = ProbabilityAverage(nets).eval()(x)
    assert torch.allclose(torch.softmax(out, 1), mean, atol=1e-6)
    assert not torch.allclose(mean, torch.softmax(nets[0](x), 1), atol=1e-3)  # the members differ


def test_members_average_networks_of_consecutive_seeds_and_reload(geo, tmp_path):
    X, y, _, Xt = geo
    single = SemiSupervisedCNN(**KW).fit(X, y)
    other = SemiSupervisedCNN(**{**KW, "seed": KW["seed"] + 1}).fit(X, y)
    ens = SemiSupervisedCNN(members=2, checkpoint=str(tmp_path / "cnn.pt"), **KW).fit(X, y)
    assert isinstance(ens.model_, ProbabilityAverage) and len(ens.model_.members) == 2
    for member, alone in zip(ens.model_.members, (single.model_, other.model_)):  # member k = the fit with seed + k
        for a, b in zip(member.state_dict().values(), alone.state_dict().values()):
            assert torch.equal(a, b)
    expected = (single.predict_proba(Xt) + other.predict_proba(Xt)) / 2
    np.testing.assert_allclose(ens.predict_proba(Xt), expected, atol=1e-5)
    assert (tmp_path / "cnn.pt").is_file() and (tmp_path / "cnn.pt.member1").is_file()
    again = SemiSupervisedCNN.from_state(ens.config(), ens.model_.state_dict())
    np.testing.assert_allclose(again.predict_proba(Xt), ens.predict_proba(Xt), atol=1e-6)


def test_self_training_members_are_students_of_one_teacher(geo, tmp_path):
    X, y, Xu, Xt = geo
    kw = dict(KW, semi="self-training", threshold=0.3, teacher_cache=str(tmp_path / "teacher.pt"))
    one = SemiSupervisedCNN(**kw).fit(X, y, Xu)
    two = SemiSupervisedCNN(members=2, **kw).fit(X, y, Xu)  # loads the same teacher (members is student-only)
    assert two.pseudo_labeled_ == one.pseudo_labeled_
    assert isinstance(two.model_, ProbabilityAverage)
    for a, b in zip(two.model_.members[0].state_dict().values(), one.model_.state_dict().values()):
        assert torch.equal(a, b)
    assert two.predict(Xt).shape == (len(Xt),)


def test_members_below_one_is_refused(geo):
    X, y, _, _ = geo
    with pytest.raises(InputError, match="members and teacher_members must be >= 1"):
        SemiSupervisedCNN(members=0, **KW).fit(X, y)
    with pytest.raises(InputError, match="teacher_members"):
        SemiSupervisedCNN(teacher_members=0, **KW).fit(X, y)


def test_teacher_members_average_the_teachers_and_cache_as_one(geo, tmp_path, capsys):
    X, y, Xu, _ = geo
    kw = dict(KW, semi="self-training", threshold=0.0, teacher_members=2, teacher_cache=str(tmp_path / "t.pt"))
    first = SemiSupervisedCNN(**kw).fit(X, y, Xu)
    assert "ensemble member 2/2" in capsys.readouterr().out  # two teachers, one student
    assert not isinstance(first.model_, ProbabilityAverage)
    again = SemiSupervisedCNN(**kw).fit(X, y, Xu)  # the cached pair of teachers loads
    assert "teacher loaded" in capsys.readouterr().out
    for a, b in zip(again.model_.state_dict().values(), first.model_.state_dict().values()):
        assert torch.equal(a, b)
    SemiSupervisedCNN(**{**kw, "teacher_members": 1}).fit(X, y, Xu)  # another teacher setting: not reused
    assert "teacher of other grids or settings" in capsys.readouterr().out


def test_cli_fit_members_saves_an_ensemble_that_predict_reloads(tmp_path, cli_runner):
    g = tmp_path / "g.npz"
    code, _, _ = cli_runner("simulate", "volumes", "geometries", "-o", g, "--n-samples", "30", "--size", "10")
    assert code == 0
    code, out, _ = cli_runner("voxel", "fit", "--grids", g, "--method", "cnn", "--members", "2", "--epochs", "1",
                              "--batch-size", "8", "-o", tmp_path / "m")
    assert code == 0 and "ensemble member 2/2" in out
    assert json.loads((tmp_path / "m" / "run.json").read_text())["config"]["members"] == 2
    code, _, _ = cli_runner("voxel", "predict", "--model", tmp_path / "m", "--grids", g, "-o", tmp_path / "p.csv")
    assert code == 0 and len((tmp_path / "p.csv").read_text().strip().splitlines()) == 31  # header + 30 grids
    code, _, err = cli_runner("voxel", "fit", "--grids", g, "--method", "cnn", "--members", "0", "-o", tmp_path / "z")
    assert code == 2 and "members" in err
