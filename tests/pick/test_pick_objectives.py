"""Objectives against direct numpy computations written out term by term."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from fewlabel.pick import objectives as O


def sig(z):
    return 1 / (1 + np.exp(-z))


@pytest.fixture
def logits():
    rng = np.random.default_rng(3)
    return rng.normal(0.5, 1.5, 7), rng.normal(-1.0, 2.0, 11)


def test_pn(logits):
    zp, zu = logits
    pi = 0.2
    expect = pi * np.mean([-math.log(sig(z)) for z in zp]) + (1 - pi) * np.mean([-math.log(1 - sig(z)) for z in zu])
    got = O.pn_loss(torch.tensor(zp), torch.tensor(zu), pi)
    assert got.item() == pytest.approx(expect, rel=1e-10)


def test_nnpu_both_branches(logits):
    zp, zu = logits
    for pi in (0.1, 0.9):
        r_pos = pi * np.mean([-math.log(sig(z)) for z in zp])
        r_neg = np.mean([-math.log(1 - sig(z)) for z in zu]) - pi * np.mean([-math.log(1 - sig(z)) for z in zp])
        expect = r_pos + r_neg if r_neg >= 0 else -r_neg
        got = O.nnpu_loss(torch.tensor(zp), torch.tensor(zu), pi)
        assert got.item() == pytest.approx(expect, rel=1e-10)
    # the clipped branch is actually exercised: positives scored negative-ish, unlabeled very negative
    zp2, zu2 = np.array([-3.0, -2.0]), np.array([-8.0, -9.0])
    r_neg = np.mean(np.log1p(np.exp(zu2))) - 0.9 * np.mean(np.log1p(np.exp(zp2)))
    assert r_neg < 0
    assert O.nnpu_loss(torch.tensor(zp2), torch.tensor(zu2), 0.9).item() == pytest.approx(-r_neg, rel=1e-10)


def test_ge_kl(logits):
    zp, zu = logits
    pi, slack = 0.15, 10.0
    q = np.mean([sig(z) for z in zu])
    kl = pi * math.log(pi / q) + (1 - pi) * math.log((1 - pi) / (1 - q))
    expect = np.mean([-math.log(sig(z)) for z in zp]) + slack * kl
    got = O.ge_kl_loss(torch.tensor(zp), torch.tensor(zu), pi, slack)
    assert got.item() == pytest.approx(expect, rel=1e-8)


def test_ge_binomial_literal_loop(logits):
    zp, zu = logits
    pi, slack = 0.3, 1.0
    g = sig(zu)
    n = len(g)
    mu, var = g.sum(), (g * (1 - g)).sum()
    dens = [math.exp(-0.5 * (k - mu) ** 2 / var) for k in range(n + 1)]
    q = [d / sum(dens) for d in dens]
    ce = -sum(q[k] * stats.binom.logpmf(k, n, pi) for k in range(n + 1))
    expect = np.mean([-math.log(sig(z)) for z in zp]) + slack * ce
    got = O.ge_binomial_loss(torch.tensor(zp), torch.tensor(zu), pi, slack)
    assert got.item() == pytest.approx(expect, rel=1e-8)


def test_ge_binomial_groups_average(logits):
    _, zu = logits
    zu = torch.tensor(np.r_[zu, zu[:5]])  # 16 samples -> 2 groups of 8
    zp = torch.tensor([1.0])
    pi = 0.25
    got = O.ge_binomial_loss(zp, zu, pi, slack=2.0, group_size=8)
    expect = O.positive_loss(zp) + 2.0 * 0.5 * (O.binomial_cross_entropy(zu[:8], pi)
                                                + O.binomial_cross_entropy(zu[8:], pi))
    assert got.item() == pytest.approx(expect.item(), rel=1e-12)


def test_binomial_minimised_near_pi():
    """The binomial term is smallest when the predicted positive fraction equals pi."""
    pi = 0.2
    vals = {p: O.binomial_cross_entropy(torch.full((100,), math.log(p / (1 - p)), dtype=torch.float64), pi).item()
            for p in (0.05, 0.2, 0.5)}
    assert vals[0.2] < vals[0.05] and vals[0.2] < vals[0.5]


def test_gradients_finite_for_extreme_logits():
    zp = torch.tensor([-60.0, 60.0], requires_grad=True)
    zu = torch.tensor([-60.0, 0.0, 60.0], requires_grad=True)
    for name in O.OBJECTIVES:
        loss = O.pu_loss(name, zp, zu, 0.1)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(zp.grad).all() and torch.isfinite(zu.grad).all()
        zp.grad = zu.grad = None
    with pytest.raises(ValueError):
        O.pu_loss("bogus", zp, zu, 0.1)


def test_autoencoder_loss():
    a, b = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 4.0]])
    assert O.autoencoder_loss(a, b).item() == pytest.approx((1 + 4) / 2)
