"""Semi-supervised 3D CNN: network shapes, self-training, loading older models, CLI mirror option."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fewlabel.simulate.volumes import geometries
from fewlabel.voxel.cnn import SemiSupervisedCNN
from fewlabel.voxel.nets import ARCHS, DeepStridedVoxCNN, StridedVoxCNN, VoxCNN


@pytest.fixture(scope="module")
def geo():
    X, y, _ = geometries(200, n=12, seed=1, noise=0.05, shift=0.03, size_range=(0.3, 0.42))
    return X[:60], y[:60], X[60:140], X[140:], y[140:]


@pytest.mark.parametrize("n", [10, 16, 30])
def test_strided_network_gives_one_logit_per_class_for_any_grid_size(n):
    net = StridedVoxCNN(n, 5, width=4).eval()
    assert net(torch.zeros(3, 1, n, n, n)).shape == (3, 5)


@pytest.mark.parametrize("n", [10, 16, 30])
def test_deep_network_gives_one_logit_per_class_and_sees_more_of_the_grid(n):
    net = DeepStridedVoxCNN(n, 5, width=4).eval()
    assert net(torch.zeros(3, 1, n, n, n)).shape == (3, 5)
    convs = [m for m in net.features if isinstance(m, torch.nn.Conv3d)]
    assert len(convs) == 5 and ARCHS["deep"] is DeepStridedVoxCNN
    # same head as the strided net: only the conv trunk differs
    assert [p.shape for p in net.head.parameters()] == [p.shape for p in StridedVoxCNN(n, 5, width=4).head.parameters()]


def test_deep_architecture_fits_and_reloads_with_the_same_predictions(geo):
    Xl, yl, _, Xt, _ = geo
    model = SemiSupervisedCNN(arch="deep", epochs=1, width=4, batch_size=16, min_steps_per_epoch=2,
                              val_fraction=0, axes="all", seed=0).fit(Xl, yl)
    again = SemiSupervisedCNN.from_state(model.config(), model.model_.state_dict())
    assert isinstance(again.model_, DeepStridedVoxCNN)
    np.testing.assert_allclose(again.predict_proba(Xt), model.predict_proba(Xt), atol=1e-6)


def test_self_training_adds_confident_pseudo_labels_to_the_student(geo):
    Xl, yl, Xu, Xt, yt = geo
    kw = dict(epochs=2, width=4, batch_size=16, min_steps_per_epoch=3, val_fraction=0, axes="all",
              semi="self-training", seed=0)
    model = SemiSupervisedCNN(threshold=0.0, **kw).fit(Xl, yl, Xu)
    # threshold 0: every unlabeled grid gets the teacher's label, so the student sees them all
    assert model.pseudo_labeled_ == len(Xu)
    assert len(model.history_) == 2 and model.predict(Xt).shape == yt.shape
    none = SemiSupervisedCNN(threshold=1.01, **kw).fit(Xl, yl, Xu)  # nothing is that confident
    assert none.pseudo_labeled_ == 0


def test_unknown_semi_supervised_mode_is_refused(geo):
    from fewlabel.errors import InputError

    Xl, yl, Xu, _, _ = geo
    with pytest.raises(InputError, match="semi-supervised mode"):
        SemiSupervisedCNN(semi="mixmatch", epochs=1).fit(Xl, yl, Xu)


def test_models_saved_before_the_arch_option_load_as_voxnet(geo):
    Xl, yl, _, Xt, _ = geo
    old = VoxCNN(12, 3, width=4)
    params = {k: v for k, v in SemiSupervisedCNN(width=4).get_params().items()
              if k not in ("arch", "label_smoothing", "semi", "checkpoint", "resume", "device")}
    est = SemiSupervisedCNN.from_state({"params": params, "grid_size": 12, "classes": [0, 1, 2]},
                                       old.state_dict())
    assert isinstance(est.model_, VoxCNN)
    old.eval()
    with torch.no_grad():
        direct = old(torch.from_numpy(Xt[:5].astype(np.float32)).unsqueeze(1)).argmax(1).numpy()
    est.tta = False
    assert np.array_equal(est.predict(Xt[:5]), direct)


def test_cli_fit_cnn_with_mirror_augmentation_and_refuses_mirror_rotations(tmp_path, cli_runner):
    g = tmp_path / "g.npz"
    code, _, _ = cli_runner("simulate", "volumes", "geometries", "-o", g, "--n-samples", "40", "--size", "10")
    assert code == 0
    code, out, _ = cli_runner("voxel", "fit", "--grids", g, "--method", "cnn", "--symmetry", "mirror",
                              "--class-balance", "1", "--semi", "self-training", "--threshold", "0.5",
                              "--unlabeled", g, "--epochs", "1", "--batch-size", "8", "-o", tmp_path / "m")
    assert code == 0 and "self-training" in out
    config = json.loads((tmp_path / "m" / "run.json").read_text())["config"]
    assert (config["axes"], config["semi"], config["class_balance"], config["threshold"]) == \
        ("mirror", "self-training", 1.0, 0.5)
    code, _, err = cli_runner("voxel", "fit", "--grids", g, "--method", "pca", "--symmetry", "mirror",
                              "--rotations", "2", "-o", tmp_path / "p")
    assert code == 2 and "mirror" in err and len(err.strip().splitlines()) == 1


def test_class_balance_draws_every_class_about_equally_often():
    from fewlabel.voxel.cnn import labeled_order

    y = np.repeat([0, 1, 2], [180, 15, 5])  # skewed like ModelNet10's training split
    natural = np.bincount(y[labeled_order(y, 6000, 0.0, np.random.default_rng(0))], minlength=3) / 6000
    balanced = np.bincount(y[labeled_order(y, 6000, 1.0, np.random.default_rng(0))], minlength=3) / 6000
    assert np.allclose(natural, [0.9, 0.075, 0.025], atol=0.01)  # whole shuffled passes
    assert np.allclose(balanced, 1 / 3, atol=0.03)
