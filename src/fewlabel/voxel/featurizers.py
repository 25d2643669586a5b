"""Unsupervised featurizers for voxel grids with scikit-learn's fit/transform interface.

Each is fit on labeled + unlabeled grids (labels ignored) and maps an (m, n, n, n) grid stack to
(m, n_components) features. All stream minibatches, so only the grids themselves (uint8 for
binary data) are ever held in memory:

- :class:`PCAFeaturizer`: streaming randomized PCA (a few passes over the grids in batches).
- :class:`KMeansFeaturizer`: MiniBatchKMeans + triangle encoding (Coates, Lee & Ng 2011).
- :class:`FAEFeaturizer`: fully connected autoencoder (torch).
- :class:`CAEFeaturizer`: 3D convolutional autoencoder (torch).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from fewlabel.errors import InputError
from fewlabel.voxel.grids import check_grids


def _flat(X: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return np.asarray(X[idx], dtype=np.float32).reshape(len(idx), -1)


def _check_fit_input(X, n_components: int, min_samples: int | None = None) -> np.ndarray:
    X = check_grids(X)
    need = n_components if min_samples is None else min_samples
    if len(X) < need:
        raise InputError(None, f"{len(X)} grids are too few to fit {n_components} components")
    return X


def _check_transform_input(est, X) -> np.ndarray:
    check_is_fitted(est, "grid_size_")
    return check_grids(X, n=est.grid_size_)


class PCAFeaturizer(TransformerMixin, BaseEstimator):
    """Principal components of flattened grids by streaming randomized PCA (Halko et al. 2011).

    Every pass reads the grids batch by batch; only an (m, k + oversample) sketch and a
    (d, k + oversample) basis are held, so ModelNet10 at 30^3 needs no float copy of the data.
    Far faster than IncrementalPCA here (its per-batch SVD of a (k + batch) x 27000 matrix
    dominates), and exact up to the randomized range finder's tolerance (``n_iter`` power passes).
    """

    def __init__(self, n_components: int = 64, batch_size: int = 256, whiten: bool = False,
                 n_iter: int = 3, oversample: int = 16, seed: int = 0):
        self.n_components = n_components
        self.batch_size = batch_size
        self.whiten = whiten
        self.n_iter = n_iter
        self.oversample = oversample
        self.seed = seed

    def _spans(self, m: int):
        return [np.arange(s, min(s + self.batch_size, m)) for s in range(0, m, self.batch_size)]

    def fit(self, X, y=None):
        X = _check_fit_input(X, self.n_components)
        self.grid_size_ = X.shape[1]
        m, d = len(X), X.shape[1] ** 3
        k = self.n_components
        spans = self._spans(m)
        mean = np.zeros(d)
        for idx in spans:
            mean += _flat(X, idx).sum(axis=0, dtype=np.float64)
        self.mean_ = (mean / m).astype(np.float32)

        def left(basis):  # (X - mean) @ basis, streamed -> (m, l)
            return np.concatenate([(_flat(X, idx) - self.mean_) @ basis for idx in spans])

        def right(q):  # (X - mean).T @ q, streamed -> (d, l)
            return sum(((_flat(X, idx) - self.mean_).T @ q[idx]) for idx in spans)

        rng = np.random.default_rng(self.seed)
        l = min(k + self.oversample, m, d)
        Y = left(rng.standard_normal((d, l)).astype(np.float32))
        for _ in range(self.n_iter):
            Q, _ = np.linalg.qr(Y)
            Z, _ = np.linalg.qr(right(Q.astype(np.float32)))
            Y = left(Z.astype(np.float32))
        Q, _ = np.linalg.qr(Y)
        B = right(Q.astype(np.float32)).T.astype(np.float64)  # (l, d)
        _, S, Vt = np.linalg.svd(B, full_matrices=False)
        signs = np.sign(Vt[:k][np.arange(k), np.abs(Vt[:k]).argmax(axis=1)])  # deterministic signs
        self.components_ = (Vt[:k] * signs[:, None]).astype(np.float32)
        self.explained_variance_ = (S[:k] ** 2 / max(m - 1, 1)).astype(np.float32)
        return self

    def transform(self, X):
        X = _check_transform_input(self, X)
        out = np.concatenate([(_flat(X, idx) - self.mean_) @ self.components_.T for idx in self._spans(len(X))])
        if self.whiten:
            out /= np.sqrt(self.explained_variance_ + 1e-12)
        return out.astype(np.float64)


class KMeansFeaturizer(TransformerMixin, BaseEstimator):
    """Soft k-means ("triangle") encoding: f_k = max(0, mean_j d_j - d_k) for distances d to centroids."""

    def __init__(self, n_components: int = 64, batch_size: int = 256, epochs: int = 5, seed: int = 0):
        self.n_components = n_components
        self.batch_size = batch_size
        self.epochs = epochs
        self.seed = seed

    def fit(self, X, y=None):
        from sklearn.cluster import MiniBatchKMeans

        X = _check_fit_input(X, self.n_components)
        self.grid_size_ = X.shape[1]
        rng = np.random.default_rng(self.seed)
        bs = max(self.batch_size, 3 * self.n_components)  # partial_fit needs >= n_clusters samples
        self.kmeans_ = MiniBatchKMeans(n_clusters=self.n_components, random_state=self.seed,
                                       batch_size=bs, n_init=1)
        # initialise from one random batch big enough for k-means++, then stream the rest
        for _ in range(self.epochs):
            order = rng.permutation(len(X))
            for s in range(0, len(X), bs):
                idx = np.sort(order[s:s + bs])
                if len(idx) < self.n_components:
                    continue
                self.kmeans_.partial_fit(_flat(X, idx))
        return self

    def transform(self, X):
        X = _check_transform_input(self, X)
        out = []
        for s in range(0, len(X), self.batch_size):
            d = self.kmeans_.transform(_flat(X, np.arange(s, min(s + self.batch_size, len(X)))))
            out.append(np.maximum(0.0, d.mean(axis=1, keepdims=True) - d))
        return np.concatenate(out)


class _TorchAE(TransformerMixin, BaseEstimator):
    """Shared fit/transform for the torch autoencoders; subclasses build the network."""

    kind = "ae"

    def __init__(self, n_components: int = 64, epochs: int = 20, batch_size: int = 128, lr: float = 1e-3,
                 seed: int = 0, device: str = "cpu", checkpoint: str | None = None, resume: bool = False):
        self.n_components = n_components
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.seed = seed
        self.device = device
        self.checkpoint = checkpoint
        self.resume = resume

    def _build(self, n: int):  # pragma: no cover - abstract
        raise NotImplementedError

    def fit(self, X, y=None):
        import torch

        from fewlabel.voxel.nets import train_autoencoder

        X = _check_fit_input(X, self.n_components, min_samples=2)
        self.grid_size_ = X.shape[1]
        sample = np.asarray(X[: min(len(X), 64)])
        self.binary_ = bool(np.all((sample == 0) | (sample == 1)))  # BCE for occupancy, MSE otherwise
        torch.manual_seed(self.seed)
        self.model_ = self._build(self.grid_size_)
        self.history_ = train_autoencoder(
            self.model_, X, epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, seed=self.seed,
            device=self.device, binary=self.binary_, resume=self.resume,
            checkpoint=None if self.checkpoint is None else Path(self.checkpoint),
            config=self.config(), desc=self.kind)
        self.model_.to("cpu")
        return self

    def transform(self, X):
        from fewlabel.voxel.nets import encode

        X = _check_transform_input(self, X)
        return encode(self.model_, X, device="cpu")

    def config(self) -> dict:
        """Everything needed to rebuild the network (saved with the checkpoint)."""
        return {"featurizer": self.kind, "params": {k: v for k, v in self.get_params().items()
                                                   if k not in ("checkpoint", "resume", "device")},
                "grid_size": getattr(self, "grid_size_", None), "binary": getattr(self, "binary_", None)}

    def state(self) -> tuple[dict, dict]:
        """(config, state_dict) for :func:`fewlabel.checkpoint.save_checkpoint`."""
        check_is_fitted(self, "model_")
        return self.config(), self.model_.state_dict()

    @classmethod
    def from_state(cls, config: dict, state_dict: dict):
        """Rebuild a fitted featurizer from :meth:`state`."""
        est = cls(**config["params"])
        est.grid_size_, est.binary_ = int(config["grid_size"]), bool(config["binary"])
        est.model_ = est._build(est.grid_size_)
        est.model_.load_state_dict(state_dict)
        est.model_.eval()
        return est


class FAEFeaturizer(_TorchAE):
    """Fully connected autoencoder; features are the ``n_components``-dim bottleneck."""

    kind = "fae"

    def _build(self, n: int):
        from fewlabel.voxel.nets import FeedForwardAE

        return FeedForwardAE(n, self.n_components)


class CAEFeaturizer(_TorchAE):
    """3D convolutional autoencoder; features are the ``n_components``-dim bottleneck."""

    kind = "cae"

    def _build(self, n: int):
        from fewlabel.voxel.nets import ConvAE

        return ConvAE(n, self.n_components)


FEATURIZERS = {"pca": PCAFeaturizer, "fae": FAEFeaturizer, "cae": CAEFeaturizer, "kmeans": KMeansFeaturizer}
