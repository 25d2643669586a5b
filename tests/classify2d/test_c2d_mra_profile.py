"""MRA class-correlation profile and aligned particles, and their join with network embeddings."""

import numpy as np
import pytest

from fewlabel.classify2d.cluster import kmeans
from fewlabel.classify2d.embed import combine_embeddings
from fewlabel.classify2d.evaluate import cluster_scores
from fewlabel.classify2d.mra import mra_classify, mra_profile
from fewlabel.errors import InputError

from tests.classify2d.c2d_shapes import make_shapes, shape_templates


def test_profile_scores_every_reference_and_aligns_onto_the_best():
    refs = shape_templates(16)
    # each template turned by a quarter turn (exact, on the 36-angle grid) must come back onto itself
    x = np.rot90(refs, 1, axes=(1, 2)).copy()
    scores, aligned = mra_profile(x, refs)
    assert scores.shape == (4, 4) and aligned.shape == (4, 16, 16)
    assert np.array_equal(np.argmax(scores, axis=1), np.arange(4))
    for a, r in zip(aligned, refs):
        before = np.corrcoef(np.rot90(r).ravel(), r.ravel())[0, 1]
        after = np.corrcoef(a.ravel(), r.ravel())[0, 1]
        assert after > 0.9 > before


def test_profile_of_mra_references_separates_noisy_classes():
    x, y = make_shapes(15, 24, snr=1.0, seed=3)
    labels, refs = mra_classify(x, 4, size=16, n_init=2, seed=0)
    scores, aligned = mra_profile(x, refs)
    assert cluster_scores(y, kmeans(scores, 4, seed=0)[0])["ari"] > 0.9
    # aligned members of one class look alike: their mean is far closer to each member than for raw images
    c = y == 0
    spread_raw = np.mean((x[c] / x[c].std() - (x[c] / x[c].std()).mean(0)) ** 2)
    a = aligned[c] / aligned[c].std()
    assert np.mean((a - a.mean(0)) ** 2) < 0.8 * spread_raw
    with pytest.raises(InputError):
        mra_profile(x, refs[0])


def test_combined_embedding_weights_its_two_parts():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 20)
    emb = rng.normal(size=(60, 8))                      # no class information
    prof = np.eye(3)[y] * 5 + rng.normal(size=(60, 3))  # class information
    z0, z1 = combine_embeddings(emb, prof, 0.0), combine_embeddings(emb, prof, 1.0)
    assert z0.shape == (60, 11)
    assert np.allclose(z0[:, 8:], 0) and np.allclose(z1[:, :8], 0)
    assert cluster_scores(y, kmeans(z1, 3)[0])["ari"] > 0.95
    assert cluster_scores(y, kmeans(combine_embeddings(emb, prof, 0.75), 3)[0])["ari"] > \
        cluster_scores(y, kmeans(z0, 3)[0])["ari"] + 0.5
    with pytest.raises(InputError):
        combine_embeddings(emb, prof[:10])
    with pytest.raises(InputError):
        combine_embeddings(emb, prof, 1.5)
