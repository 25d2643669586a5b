"""ModelNet10 development split: carved from the training grids, fixed across run seeds, never the test set."""

from __future__ import annotations

import numpy as np
import pytest

from fewlabel.errors import InputError
from fewlabel.voxel.experiment import balanced_accuracy, load_dataset, modelnet_dev_split


@pytest.fixture(scope="module")
def fake_modelnet(tmp_path_factory):
    """A tiny stand-in with ModelNet10's file layout; grid i of train holds the value i (train) or -i-1 (test)."""
    rng = np.random.default_rng(0)
    y_train = np.repeat(np.arange(4), [40, 20, 10, 30])
    rng.shuffle(y_train)
    X_train = np.zeros((len(y_train), 6, 6, 6), np.uint8)
    X_train[:, 0, 0, 0] = np.arange(len(y_train)) % 256
    X_train[:, 1, 0, 0] = np.arange(len(y_train)) // 256
    X_test = np.ones((20, 6, 6, 6), np.uint8)
    path = tmp_path_factory.mktemp("mn") / "mn.npz"
    np.savez(path, X_train=X_train, y_train=y_train, X_test=X_test, y_test=np.repeat(np.arange(4), 5))
    return path, y_train


def _ids(X):
    return X[:, 0, 0, 0].astype(int) + 256 * X[:, 1, 0, 0].astype(int)


def test_dev_split_is_stratified_disjoint_and_the_same_for_every_run_seed(fake_modelnet):
    path, y_train = fake_modelnet
    a = load_dataset("modelnet10", 10, -1, seed=0, modelnet_path=path, holdout="dev")
    b = load_dataset("modelnet10", 10, -1, seed=1, modelnet_path=path, holdout="dev")
    dev = _ids(a.X_test)
    assert np.array_equal(dev, _ids(b.X_test))  # fixed development set
    assert len(dev) == 15 and np.array_equal(a.y_test, y_train[dev])  # each dev grid keeps its label
    assert np.allclose(np.bincount(a.y_test) / 15, np.bincount(y_train) / 100, atol=0.05)  # stratified
    used = np.concatenate([_ids(a.X_labeled), _ids(a.X_unlabeled)])
    assert not set(used) & set(dev) and len(used) + len(dev) == 100  # every other training grid, once
    assert len(a.X_labeled) == round(10 * 85 / 100)  # "10 % labels" of the smaller pool
    assert not np.array_equal(_ids(a.X_labeled), _ids(b.X_labeled))  # labeled draw follows the run seed
    assert (a.X_test != 1).any()  # not the test grids (all ones)
    test = load_dataset("modelnet10", 10, -1, seed=0, modelnet_path=path)
    assert (test.X_test == 1).all() and len(test.X_labeled) + len(test.X_unlabeled) == 100


def test_dev_split_helper_and_bad_holdout(fake_modelnet):
    _, y_train = fake_modelnet
    pool, dev = modelnet_dev_split(y_train, fraction=0.2, seed=3)
    assert len(dev) == 20 and not set(pool) & set(dev) and len(pool) + len(dev) == len(y_train)
    with pytest.raises(InputError, match="holdout"):
        load_dataset("modelnet10", 10, -1, holdout="val")
    with pytest.raises(InputError, match="modelnet10"):
        load_dataset("geometries", 10, 10, holdout="dev")


def test_balanced_accuracy_weights_every_class_equally():
    y = np.array([0] * 8 + [1] * 2)
    pred = np.zeros(10, int)  # all majority class: 80 % accurate, 50 % balanced
    assert balanced_accuracy(y, pred) == pytest.approx(0.5)
    assert balanced_accuracy(y, y) == pytest.approx(1.0)
