"""Reference-based 2D classification (multi-reference alignment)."""

import numpy as np
import pytest

from fewlabel.classify2d.evaluate import cluster_scores
from fewlabel.classify2d.mra import mra_classify
from fewlabel.errors import InputError

from tests.classify2d.c2d_shapes import make_shapes


def test_mra_separates_rotated_noisy_shapes_and_is_seeded():
    x, y = make_shapes(15, 24, snr=1.0, seed=3)
    labels, refs = mra_classify(x, 4, size=16, n_init=2, seed=0)
    assert cluster_scores(y, labels)["ari"] > 0.9
    assert refs.shape == (4, 16, 16)
    assert np.all(np.diff(np.bincount(labels, minlength=4)) <= 0)  # numbered by decreasing size
    again, _ = mra_classify(x, 4, size=16, n_init=2, seed=0)
    assert np.array_equal(labels, again)


def test_mra_rejects_k_larger_than_the_stack():
    x, _ = make_shapes(1, 24, seed=0)
    with pytest.raises(InputError):
        mra_classify(x, 5)
