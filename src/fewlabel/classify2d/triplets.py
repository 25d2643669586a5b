"""Triplet loss as small composable pieces: a distance, a miner, a margin loss.

In the spirit of pytorch-metric-learning (written here in a few lines of torch, without the
dependency): a *miner* takes embeddings and labels and returns index triplets
``(anchor, positive, negative)``; :func:`triplet_margin_loss` scores them with a distance.

- ``random``: for every anchor one random positive and one random negative.
- ``semi-hard``: negatives farther than the positive but inside the margin (FaceNet); anchors with
  none fall back to the hardest negative that is still farther than the positive, else the hardest.
- ``batch-hard``: for every anchor its farthest positive and nearest negative (Hermans et al. 2017).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

MINERS = ("random", "semi-hard", "batch-hard")


def pairwise_distance(emb: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Euclidean distance matrix ``[n, n]`` between rows of ``emb`` (safe gradient at 0)."""
    sq = (emb * emb).sum(1)
    d2 = (sq[:, None] + sq[None, :] - 2 * emb @ emb.T).clamp_min(0)
    d2 = d2.masked_fill(torch.eye(len(emb), dtype=torch.bool, device=emb.device), 0.0)
    return torch.sqrt(d2 + eps) * (d2 > 0)


def _masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


def random_triplets(labels: torch.Tensor, dist: torch.Tensor | None = None,
                    generator: torch.Generator | None = None, margin: float = 0.0):
    """One random positive and one random negative per anchor that has both."""
    pos, neg = _masks(labels)
    anchors = torch.nonzero(pos.any(1) & neg.any(1)).flatten()
    if len(anchors) == 0:
        return (torch.empty(0, dtype=torch.long),) * 3
    u = torch.rand((len(anchors), len(labels)), generator=generator).to(labels.device)
    p = torch.where(pos[anchors], u, -1.0).argmax(1)
    n = torch.where(neg[anchors], u, -1.0).argmax(1)
    return anchors, p, n


def batch_hard_triplets(labels: torch.Tensor, dist: torch.Tensor, generator=None, margin: float = 0.0):
    """Hardest positive (farthest) and hardest negative (nearest) for every anchor."""
    pos, neg = _masks(labels)
    anchors = torch.nonzero(pos.any(1) & neg.any(1)).flatten()
    d = dist.detach()[anchors]
    p = torch.where(pos[anchors], d, -torch.inf).argmax(1)
    n = torch.where(neg[anchors], d, torch.inf).argmin(1)
    return anchors, p, n


def semi_hard_triplets(labels: torch.Tensor, dist: torch.Tensor, generator=None, margin: float = 0.5):
    """All (anchor, positive) pairs, each with its hardest semi-hard negative (d_ap < d_an < d_ap + margin).

    Pairs without a semi-hard negative take the nearest negative farther than the positive, and
    failing that the nearest negative overall.
    """
    pos, neg = _masks(labels)
    a, p = torch.nonzero(pos & neg.any(1)[:, None], as_tuple=True)
    if len(a) == 0:
        return (torch.empty(0, dtype=torch.long),) * 3
    d = dist.detach()
    d_ap = d[a, p][:, None]
    d_an = d[a]
    valid = neg[a]
    semi = valid & (d_an > d_ap) & (d_an < d_ap + margin)
    farther = valid & (d_an > d_ap)
    inf = torch.tensor(torch.inf, device=d.device)
    n_semi = torch.where(semi, d_an, inf).argmin(1)
    n_far = torch.where(farther, d_an, inf).argmin(1)
    n_any = torch.where(valid, d_an, inf).argmin(1)
    n = torch.where(semi.any(1), n_semi, torch.where(farther.any(1), n_far, n_any))
    return a, p, n


def get_miner(name: str) -> Callable:
    """The miner function called ``name`` (one of :data:`MINERS`)."""
    table = {"random": random_triplets, "semi-hard": semi_hard_triplets, "batch-hard": batch_hard_triplets}
    if name not in table:
        raise ValueError(f"unknown miner {name!r}; choose from {', '.join(MINERS)}")
    return table[name]


def triplet_margin_loss(dist: torch.Tensor, anchors: torch.Tensor, positives: torch.Tensor,
                        negatives: torch.Tensor, margin: float = 0.5) -> torch.Tensor:
    """Mean of ``max(0, d(a, p) - d(a, n) + margin)`` over the triplets (0 when there are none)."""
    if len(anchors) == 0:
        return dist.sum() * 0.0
    return torch.relu(dist[anchors, positives] - dist[anchors, negatives] + margin).mean()


def mined_triplet_loss(emb: torch.Tensor, labels: torch.Tensor, margin: float = 0.5,
                       miner: str = "batch-hard", generator: torch.Generator | None = None) -> torch.Tensor:
    """Distance -> miner -> margin loss in one call; the unit the training loop uses."""
    dist = pairwise_distance(emb)
    a, p, n = get_miner(miner)(labels, dist, generator=generator, margin=margin)
    return triplet_margin_loss(dist, a, p, n, margin)
