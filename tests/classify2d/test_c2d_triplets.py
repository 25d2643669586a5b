"""Distances, miners and the triplet margin loss."""

import pytest
import torch

from fewlabel.classify2d.triplets import (get_miner, mined_triplet_loss, pairwise_distance, random_triplets,
                                          semi_hard_triplets, batch_hard_triplets, triplet_margin_loss)


def test_pairwise_distance_matches_cdist():
    x = torch.randn(7, 5, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(pairwise_distance(x), torch.cdist(x, x), atol=1e-4, rtol=1e-4)
    assert torch.all(pairwise_distance(x).diagonal() == 0)


def _line():
    # points on a line: class 0 at 0, 1, 3; class 1 at 2, 10
    emb = torch.tensor([[0.0], [1.0], [3.0], [2.0], [10.0]])
    labels = torch.tensor([0, 0, 0, 1, 1])
    return emb, labels, pairwise_distance(emb)


def test_batch_hard_picks_farthest_positive_and_nearest_negative():
    emb, labels, d = _line()
    a, p, n = batch_hard_triplets(labels, d)
    got = {int(i): (int(j), int(k)) for i, j, k in zip(a, p, n)}
    assert got[0] == (2, 3)  # anchor at 0: farthest positive 3.0, nearest negative 2.0
    assert got[3][0] == 4 and got[3][1] in (1, 2)  # anchor at 2: positive 10; negatives 1.0 and 3.0 tie
    assert labels[got[0][0]] == labels[0] and labels[got[0][1]] != labels[0]


def test_semi_hard_negative_lies_in_the_margin_band():
    emb, labels, d = _line()
    a, p, n = semi_hard_triplets(labels, d, margin=1.5)
    for i, j, k in zip(a.tolist(), p.tolist(), n.tolist()):
        assert labels[i] == labels[j] and labels[i] != labels[k] and i != j
    # anchor 0 with positive 1 (d=1): negatives at 2 (d=2) is semi-hard (1 < 2 < 2.5)
    sel = [(i, j) for i, j in zip(a.tolist(), p.tolist())].index((0, 1))
    assert n[sel] == 3


def test_random_triplets_are_valid_and_seeded():
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 2])
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    t1, t2 = random_triplets(labels, generator=g1), random_triplets(labels, generator=g2)
    assert all(torch.equal(x, y) for x, y in zip(t1, t2))
    a, p, n = t1
    assert len(a) == 7
    assert torch.all(labels[a] == labels[p]) and torch.all(a != p) and torch.all(labels[a] != labels[n])


def test_loss_zero_when_separated_beyond_margin_and_positive_otherwise():
    labels = torch.tensor([0, 0, 1, 1])
    far = torch.tensor([[0.0, 0], [0.1, 0], [5.0, 0], [5.1, 0]])
    near = torch.tensor([[0.0, 0], [1.0, 0], [0.5, 0], [1.5, 0]])
    for miner in ("random", "semi-hard", "batch-hard"):
        assert float(mined_triplet_loss(far, labels, 0.5, miner)) == 0.0
        assert float(mined_triplet_loss(near, labels, 0.5, miner)) > 0.0


def test_loss_value_and_empty_triplets():
    d = torch.tensor([[0.0, 1.0, 0.7], [1.0, 0.0, 2.0], [0.7, 2.0, 0.0]])
    loss = triplet_margin_loss(d, torch.tensor([0]), torch.tensor([1]), torch.tensor([2]), margin=0.5)
    assert float(loss) == pytest.approx(1.0 - 0.7 + 0.5)
    empty = torch.empty(0, dtype=torch.long)
    assert float(triplet_margin_loss(d, empty, empty, empty)) == 0.0


def test_unknown_miner_rejected():
    with pytest.raises(ValueError, match="unknown miner"):
        get_miner("hardest")
