"""Featurizers: scikit-learn interface, streaming fits, shapes, and grid-size checks."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from fewlabel.errors import InputError
from fewlabel.voxel.featurizers import CAEFeaturizer, FAEFeaturizer, KMeansFeaturizer, PCAFeaturizer


@pytest.fixture(scope="module")
def grids():
    rng = np.random.default_rng(0)
    return (rng.random((70, 8, 8, 8)) > 0.8).astype(np.uint8)


def test_streaming_pca_recovers_the_low_rank_subspace():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(1)
    basis = rng.normal(size=(3, 8 ** 3))
    X = (rng.normal(size=(70, 3)) * [5, 3, 2]) @ basis + 0.01 * rng.normal(size=(70, 8 ** 3))
    X = X.reshape(70, 8, 8, 8).astype(np.float32)
    inc = PCAFeaturizer(n_components=3, batch_size=16).fit(X)  # 5 batches per pass
    full = PCA(n_components=3).fit(X.reshape(70, -1))
    overlap = np.linalg.svd(inc.components_ @ full.components_.T, compute_uv=False)
    assert overlap.min() > 0.99
    assert inc.transform(X).shape == (70, 3)
    np.testing.assert_allclose(inc.explained_variance_, full.explained_variance_, rtol=1e-3)


def test_kmeans_triangle_encoding_is_sparse_and_nonnegative(grids):
    f = KMeansFeaturizer(n_components=6, batch_size=20, epochs=2, seed=0).fit(grids).transform(grids)
    assert f.shape == (70, 6) and f.min() >= 0
    assert np.all((f == 0).sum(axis=1) >= 1)  # each grid is "far" from at least one centroid


def test_kmeans_is_reproducible_with_a_seed(grids):
    a = KMeansFeaturizer(n_components=4, epochs=1, seed=3).fit(grids).transform(grids[:5])
    b = KMeansFeaturizer(n_components=4, epochs=1, seed=3).fit(grids).transform(grids[:5])
    np.testing.assert_allclose(a, b)


@pytest.mark.parametrize("cls", [FAEFeaturizer, CAEFeaturizer])
def test_autoencoders_reduce_reconstruction_loss_and_encode(cls, grids):
    est = cls(n_components=4, epochs=6, batch_size=16, lr=3e-3, seed=0).fit(grids)
    assert est.history_[-1] < est.history_[0]
    z = est.transform(grids[:10])
    assert z.shape == (10, 4) and np.all(np.isfinite(z))
    # rebuilding from the saved state gives the same features
    cfg, state = est.state()
    np.testing.assert_allclose(cls.from_state(cfg, state).transform(grids[:10]), z, rtol=1e-5, atol=1e-6)


def test_autoencoder_checkpoint_resume_continues(tmp_path, grids):
    ck = tmp_path / "ae.pt"
    FAEFeaturizer(n_components=3, epochs=2, batch_size=32, seed=0, checkpoint=str(ck)).fit(grids)
    resumed = FAEFeaturizer(n_components=3, epochs=3, batch_size=32, seed=0, checkpoint=str(ck), resume=True).fit(grids)
    assert len(resumed.history_) == 3  # two epochs from the checkpoint, one new


def test_transform_rejects_other_grid_size(grids):
    est = PCAFeaturizer(n_components=3).fit(grids)
    with pytest.raises(InputError, match="does not match"):
        est.transform(np.zeros((2, 10, 10, 10)))


def test_too_few_grids_for_components(grids):
    with pytest.raises(InputError, match="too few"):
        PCAFeaturizer(n_components=64).fit(grids[:10])


def test_sklearn_clone_keeps_params():
    est = clone(KMeansFeaturizer(n_components=7, seed=2))
    assert est.get_params()["n_components"] == 7 and est.get_params()["seed"] == 2
