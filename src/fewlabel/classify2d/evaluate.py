"""Scores against true labels (ARI, NMI, Hungarian-matched accuracy) and the class similarity matrix."""

from __future__ import annotations

import numpy as np

from fewlabel.errors import InputError


def _check(true, pred):
    true, pred = np.asarray(true), np.asarray(pred)
    if len(true) != len(pred):
        raise InputError(None, f"{len(true)} true labels for {len(pred)} predicted labels")
    if len(true) == 0:
        raise InputError(None, "no labels to score")
    return true, pred


def hungarian_accuracy(true, pred) -> float:
    """Accuracy after the one-to-one matching of clusters to classes that maximises it
    (``scipy.optimize.linear_sum_assignment``); unmatched clusters count as wrong."""
    from scipy.optimize import linear_sum_assignment

    true, pred = _check(true, pred)
    t_vals, t_idx = np.unique(true, return_inverse=True)
    p_vals, p_idx = np.unique(pred, return_inverse=True)
    table = np.zeros((len(p_vals), len(t_vals)), dtype=np.int64)
    np.add.at(table, (p_idx, t_idx), 1)
    rows, cols = linear_sum_assignment(-table)
    return float(table[rows, cols].sum() / len(true))


def cluster_scores(true, pred) -> dict[str, float]:
    """``{"ari", "nmi", "accuracy"}`` of predicted clusters against true classes."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    true, pred = _check(true, pred)
    return {"ari": float(adjusted_rand_score(true, pred)),
            "nmi": float(normalized_mutual_info_score(true, pred)),
            "accuracy": hungarian_accuracy(true, pred)}


def class_similarity_matrix(embeddings: np.ndarray, labels) -> tuple[np.ndarray, np.ndarray]:
    """Mean cosine similarity between the embeddings of every pair of classes: ``(matrix, classes)``.

    The diagonal is the mean similarity within a class (excluding each particle with itself), so a
    good embedding shows a bright diagonal on a dark background.
    """
    e = np.asarray(embeddings, dtype=np.float64)
    labels = np.asarray(labels)
    if len(e) != len(labels):
        raise InputError(None, f"{len(labels)} labels for {len(e)} embeddings")
    e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    classes = np.unique(labels)
    sums = np.stack([e[labels == c].sum(0) for c in classes])
    counts = np.array([(labels == c).sum() for c in classes], dtype=float)
    m = sums @ sums.T / np.outer(counts, counts)
    for i, c in enumerate(classes):  # within-class: drop self-similarity (= 1) terms
        if counts[i] > 1:
            m[i, i] = (sums[i] @ sums[i] - counts[i]) / (counts[i] * (counts[i] - 1))
    return m, classes


def embedding_map(embeddings: np.ndarray, seed: int = 0, pca_dims: int = 50) -> np.ndarray:
    """2D map of the embeddings for plotting: PCA to ``pca_dims`` then t-SNE to 2 (``[n, 2]``)."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = np.asarray(embeddings, dtype=np.float64)
    n = len(x)
    if n < 3:
        return np.column_stack([x[:, 0], x[:, 1] if x.shape[1] > 1 else np.zeros(n)])
    dims = min(pca_dims, x.shape[1], n)
    x = PCA(dims, random_state=seed).fit_transform(x)
    return TSNE(2, perplexity=min(30.0, (n - 1) / 3), init="pca", random_state=seed).fit_transform(x)
