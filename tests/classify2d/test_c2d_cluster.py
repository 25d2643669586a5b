"""k-means, elbow / suggested k, rotational alignment and class averages."""

import numpy as np
import pytest

from fewlabel.classify2d.cluster import (align_to_reference, class_average, class_averages, elbow, kmeans,
                                         rotate_image, suggest_k)
from fewlabel.errors import InputError

from tests.classify2d.c2d_shapes import make_shapes, shape_templates


def _blobs(k=4, n=30, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 10, (k, 5))
    x = np.concatenate([c + rng.normal(0, 0.5, (n, 5)) for c in centres])
    return x, np.repeat(np.arange(k), n)


def test_kmeans_recovers_separated_blobs_and_numbers_by_size():
    x, y = _blobs()
    x = np.concatenate([x, x[:10] + 0.01])  # make cluster of class 0 the biggest
    y = np.concatenate([y, y[:10]])
    labels, inertia = kmeans(x, 4, seed=0)
    assert inertia > 0
    for c in range(4):
        assert len(np.unique(labels[y == c])) == 1
    assert np.all(labels[y == 0] == 0)  # largest cluster is numbered 0


def test_suggested_k_finds_the_knee_of_four_blobs():
    x, _ = _blobs(k=4)
    ks = list(range(1, 10))
    inertias = elbow(x, ks, seed=0)
    assert np.all(np.diff(inertias) <= 1e-6 * inertias[0])
    assert suggest_k(ks, inertias) == 4


def test_suggest_k_on_a_hand_made_curve():
    assert suggest_k([1, 2, 3, 4, 5, 6], [100, 40, 12, 10, 9, 8]) == 3
    assert suggest_k([2, 3], [5, 4]) == 2


def test_k_larger_than_particles_is_an_input_error():
    x, _ = _blobs(k=2, n=3)
    with pytest.raises(InputError, match="larger than the number of particles"):
        kmeans(x, 7)
    with pytest.raises(InputError):
        elbow(x, [2, 10])


def test_alignment_recovers_a_known_rotation():
    t = shape_templates(32)[0]
    moved = rotate_image(t, np.deg2rad(70))
    aligned, angle, shift, score = align_to_reference(moved, t, n_angles=72)
    assert np.corrcoef(aligned.ravel(), t.ravel())[0, 1] > 0.95
    assert np.corrcoef(moved.ravel(), t.ravel())[0, 1] < 0.8


def test_aligned_class_average_is_sharper_than_a_plain_mean():
    imgs, labels = make_shapes(25, 32, snr=1.0, seed=4)
    members = imgs[labels == 0]
    template = shape_templates(32)[0]
    avg = class_average(members, n_iter=2, n_angles=36)
    plain = members.mean(0)

    def best_corr(a):  # Pearson correlation with the template at its best in-plane angle and shift
        return np.corrcoef(align_to_reference(a, template, n_angles=72)[0].ravel(), template.ravel())[0, 1]

    assert best_corr(avg) > 0.9
    assert best_corr(avg) > best_corr(plain) + 0.1


def test_class_averages_one_per_cluster_and_length_check():
    imgs, labels = make_shapes(4, 16, None, seed=0)
    avgs = class_averages(imgs, labels, max_members=3, n_iter=1, n_angles=12)
    assert sorted(avgs) == [0, 1, 2, 3] and avgs[0].shape == (16, 16)
    with pytest.raises(InputError):
        class_averages(imgs, labels[:-1])
