"""Scores against true labels and the class similarity matrix; classical baseline features."""

import numpy as np
import pytest

from fewlabel.classify2d.evaluate import class_similarity_matrix, cluster_scores, embedding_map, hungarian_accuracy
from fewlabel.classify2d.features import pixel_features, polar_fourier_features
from fewlabel.classify2d.cluster import rotate_image
from fewlabel.errors import InputError

from tests.classify2d.c2d_shapes import shape_templates


def test_scores_are_invariant_to_cluster_renaming():
    true = np.array([0, 0, 1, 1, 2, 2])
    s = cluster_scores(true, np.array([5, 5, 3, 3, 9, 9]))
    assert s == pytest.approx({"ari": 1.0, "nmi": 1.0, "accuracy": 1.0})


def test_hungarian_accuracy_counts_the_best_one_to_one_matching():
    true = np.array([0, 0, 0, 1, 1, 1])
    assert hungarian_accuracy(true, np.array([1, 1, 0, 0, 0, 0])) == pytest.approx(5 / 6)
    assert hungarian_accuracy(true, np.zeros(6)) == pytest.approx(0.5)  # one cluster matches one class
    with pytest.raises(InputError):
        cluster_scores(true, np.zeros(5))


def test_similarity_matrix_diagonal_dominates_for_separated_classes():
    rng = np.random.default_rng(0)
    e = np.concatenate([np.array([1.0, 0, 0]) + 0.1 * rng.normal(size=(10, 3)),
                        np.array([0, 1.0, 0]) + 0.1 * rng.normal(size=(10, 3))])
    m, classes = class_similarity_matrix(e, np.repeat(["a", "b"], 10))
    assert list(classes) == ["a", "b"]
    assert m.shape == (2, 2) and np.allclose(m, m.T)
    assert m[0, 0] > 0.9 and m[1, 1] > 0.9 and abs(m[0, 1]) < 0.3


def test_polar_fourier_features_are_rotation_and_shift_invariant_pixels_are_not():
    t = shape_templates(32)[1]
    moved = np.roll(rotate_image(t, np.deg2rad(50)), (1, -1), axis=(0, 1))
    other = shape_templates(32)[3]
    f = polar_fourier_features(np.stack([t, moved, other]), max_freq=0.25)
    assert np.linalg.norm(f[0] - f[1]) < 0.5 * np.linalg.norm(f[0] - f[2])
    p = pixel_features(np.stack([t, moved, other]))
    assert np.linalg.norm(p[0] - p[1]) > 0.5 * np.linalg.norm(p[0] - p[2])


def test_embedding_map_is_2d_and_seeded():
    e = np.random.default_rng(0).normal(size=(40, 8))
    a, b = embedding_map(e, seed=1), embedding_map(e, seed=1)
    assert a.shape == (40, 2) and np.allclose(a, b)
