"""Positive-unlabeled objectives on logits (Bepler et al. 2018; Kiryo et al. 2017).

Each objective takes the logits of labeled positives ``z_pos`` and of unlabeled samples
``z_unl`` (1-D tensors) and the positive fraction ``pi``, and returns the scalar to minimise.
Losses are written with ``softplus`` so they stay finite for large logits:
``-log sigmoid(z) = softplus(-z)`` and ``-log(1 - sigmoid(z)) = softplus(z)``.

- ``pn``: unlabeled treated as negatives, classes weighted by pi.
- ``nnpu``: non-negative PU risk estimator (Kiryo et al. 2017).
- ``ge-kl``: labeled loss + slack * KL(pi || mean predicted positive fraction on unlabeled).
- ``ge-binomial``: labeled loss + slack * cross-entropy H(q, p) between q, the discretized
  normal approximation of the number of predicted positives in N unlabeled samples, and
  p = Binomial(N, pi): the expected binomial surprise of the predicted count.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

OBJECTIVES = ("ge-binomial", "ge-kl", "nnpu", "pn")
DEFAULT_SLACK = {"ge-binomial": 1.0, "ge-kl": 10.0}


def positive_loss(z_pos: torch.Tensor) -> torch.Tensor:
    """Mean log-loss of labeled positives."""
    return F.softplus(-z_pos).mean()


def pn_loss(z_pos: torch.Tensor, z_unl: torch.Tensor, pi: float) -> torch.Tensor:
    """Naive PN: ``pi * E_P[-log g] + (1 - pi) * E_U[-log(1 - g)]``."""
    return pi * F.softplus(-z_pos).mean() + (1 - pi) * F.softplus(z_unl).mean()


def nnpu_loss(z_pos: torch.Tensor, z_unl: torch.Tensor, pi: float, beta: float = 0.0,
              gamma: float = 1.0) -> torch.Tensor:
    """Non-negative PU risk (Kiryo et al. 2017, Algorithm 1) with the log-loss.

    Negative risk ``r_n = E_U[l(z, -1)] - pi * E_P[l(z, -1)]``. When ``r_n >= -beta`` the
    returned value is the risk ``pi * E_P[l(z, +1)] + r_n``; otherwise it is ``-gamma * r_n``,
    whose gradient pushes the negative risk back up (the "defitting" step).
    """
    r_pos = pi * F.softplus(-z_pos).mean()
    r_neg = F.softplus(z_unl).mean() - pi * F.softplus(z_pos).mean()
    if r_neg.item() < -beta:
        return -gamma * r_neg
    return r_pos + r_neg


def _bernoulli_kl(p: float, q: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    q = q.clamp(eps, 1 - eps)
    out = (1 - p) * (math.log(max(1 - p, eps)) - torch.log1p(-q))
    if p > 0:
        out = out + p * (math.log(p) - torch.log(q))
    return out


def ge_kl_loss(z_pos: torch.Tensor, z_unl: torch.Tensor, pi: float, slack: float = 10.0) -> torch.Tensor:
    """GE-KL: ``E_P[-log g] + slack * KL(Bernoulli(pi) || Bernoulli(mean_U g))``."""
    q = torch.sigmoid(z_unl).mean()
    return positive_loss(z_pos) + slack * _bernoulli_kl(pi, q)


def binomial_cross_entropy(z_unl: torch.Tensor, pi: float) -> torch.Tensor:
    """``H(q, p) = -sum_k q(k) log p(k)``, k = 0..N, p = Binomial(N, pi), q = discretized normal.

    q has mean ``mu = sum g`` and variance ``sum g (1 - g)`` (the moments of the number of
    positives the classifier predicts among the N samples), evaluated at k = 0..N and
    normalised over that range.
    """
    g = torch.sigmoid(z_unl)
    n = g.numel()
    mu = g.sum()
    var = (g * (1 - g)).sum().clamp_min(1e-6)
    k = torch.arange(n + 1, dtype=g.dtype, device=g.device)
    log_q = -0.5 * (k - mu) ** 2 / var
    log_q = log_q - torch.logsumexp(log_q, dim=0)
    p_pi = min(max(pi, 1e-12), 1 - 1e-12)
    log_p = (torch.lgamma(torch.tensor(n + 1.0, dtype=g.dtype)) - torch.lgamma(k + 1)
             - torch.lgamma(n - k + 1) + k * math.log(p_pi) + (n - k) * math.log1p(-p_pi))
    return -(torch.exp(log_q) * log_p).sum()


def ge_binomial_loss(z_pos: torch.Tensor, z_unl: torch.Tensor, pi: float, slack: float = 1.0,
                     group_size: int | None = None) -> torch.Tensor:
    """GE-binomial: ``E_P[-log g] + slack * binomial cross-entropy`` on the unlabeled batch.

    ``group_size`` splits a large unlabeled set into consecutive groups of that many samples
    (the "minibatch" of the criterion) and averages their cross-entropies; None uses one group.
    """
    if group_size is None or group_size >= z_unl.numel():
        ce = binomial_cross_entropy(z_unl, pi)
    else:
        n_groups = z_unl.numel() // group_size
        groups = z_unl[: n_groups * group_size].reshape(n_groups, group_size)
        ce = torch.stack([binomial_cross_entropy(g, pi) for g in groups]).mean()
    return positive_loss(z_pos) + slack * ce


def pu_loss(objective: str, z_pos: torch.Tensor, z_unl: torch.Tensor, pi: float,
            slack: float | None = None, group_size: int | None = 256) -> torch.Tensor:
    """Dispatch by objective name (one of :data:`OBJECTIVES`)."""
    if objective == "pn":
        return pn_loss(z_pos, z_unl, pi)
    if objective == "nnpu":
        return nnpu_loss(z_pos, z_unl, pi)
    if objective == "ge-kl":
        return ge_kl_loss(z_pos, z_unl, pi, DEFAULT_SLACK["ge-kl"] if slack is None else slack)
    if objective == "ge-binomial":
        return ge_binomial_loss(z_pos, z_unl, pi, DEFAULT_SLACK["ge-binomial"] if slack is None else slack,
                                group_size=group_size)
    raise ValueError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")


def autoencoder_loss(reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared reconstruction error of the hybrid classifier + autoencoder."""
    return F.mse_loss(reconstruction, target)
