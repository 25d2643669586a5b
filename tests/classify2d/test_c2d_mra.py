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


def test_matrix_product_alignment_matches_fft_cross_correlation():
    from fewlabel.classify2d.cluster import rotated_copies
    from fewlabel.classify2d.mra import _best_scores

    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 16, 16)).astype(np.float32)
    refs = rng.normal(size=(3, 16, 16))
    rotated = rotated_copies(x, 12)
    scores, where = _best_scores(rotated, refs, 2)
    spectra = np.fft.rfft2(rotated)
    unit = refs / np.linalg.norm(refs.reshape(3, -1), axis=1)[:, None, None]
    for j, r in enumerate(unit):
        xc = np.fft.irfft2(spectra * np.conj(np.fft.rfft2(r))[None, None], s=(16, 16))
        xc = np.fft.fftshift(xc, axes=(2, 3))[:, :, 6:11, 6:11].reshape(5, -1)
        assert np.array_equal(np.argmax(xc, axis=1), where[:, j])
        np.testing.assert_allclose(xc.max(axis=1), scores[:, j], atol=1e-4)


def test_coarse_search_then_refinement_at_a_finer_size():
    x, y = make_shapes(12, 32, snr=0.5, seed=4)
    coarse, _ = mra_classify(x, 4, size=16, search_size=16, n_init=3, seed=1)  # search only
    labels, refs = mra_classify(x, 4, size=32, search_size=16, n_init=3, seed=1)
    assert refs.shape == (4, 32, 32)  # references come from the refinement size
    # the finer size sees the shapes' details the 16 px search cannot (0.73 -> 0.80 when written)
    assert cluster_scores(y, labels)["ari"] > cluster_scores(y, coarse)["ari"] + 0.03
    with pytest.raises(InputError):
        mra_classify(x, 4, n_init=0)
