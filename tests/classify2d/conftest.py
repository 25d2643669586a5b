"""Fixtures for classify2d: small rotated-shape particle sets with known classes, made in memory."""

import pytest

from tests.classify2d.c2d_shapes import make_shapes


@pytest.fixture
def shapes():
    """60 clean particles: 4 classes x 15, box 24."""
    return make_shapes(15, 24, None, seed=1)


@pytest.fixture
def noisy_shapes():
    """120 particles at SNR 0.5: 4 classes x 30, box 24."""
    return make_shapes(30, 24, 0.5, seed=2)
