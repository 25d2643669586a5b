"""Embedding network: unit-length output, exact invariance to the pooled rotation group."""

import math

import numpy as np
import torch

from fewlabel.classify2d.augment import AugmentConfig, augment
from fewlabel.classify2d.models import EmbeddingNet, build_model, prepare_images, rotate_batch


def test_embeddings_are_unit_length_and_invariant_to_90_degree_turns():
    torch.manual_seed(0)
    model = EmbeddingNet(box=16, dim=8, width=4, depth=2, rot_pool=4).eval()
    x = torch.randn(3, 1, 16, 16)
    with torch.no_grad():
        e = model(x)
        e90 = model(torch.rot90(x, 1, dims=(2, 3)))
    torch.testing.assert_close(e.norm(dim=1), torch.ones(3))
    torch.testing.assert_close(e, e90, atol=1e-5, rtol=1e-4)


def test_without_pooling_a_turn_changes_the_embedding():
    torch.manual_seed(0)
    model = EmbeddingNet(box=16, dim=8, width=4, depth=2, rot_pool=1).eval()
    x = torch.randn(2, 1, 16, 16)
    with torch.no_grad():
        assert not torch.allclose(model(x), model(torch.rot90(x, 1, dims=(2, 3))), atol=1e-3)


def test_rotate_batch_by_quarter_turn_matches_rot90():
    x = torch.zeros(1, 1, 9, 9)
    x[0, 0, 1, 4] = 1.0  # a dot above the centre
    r = rotate_batch(x, torch.tensor([math.pi / 2]))
    assert torch.allclose(r, torch.rot90(x, 1, dims=(2, 3)), atol=1e-5) or \
        torch.allclose(r, torch.rot90(x, -1, dims=(2, 3)), atol=1e-5)


def test_build_model_round_trips_config():
    m = EmbeddingNet(box=20, dim=12, width=4, depth=2, rot_pool=8)
    assert build_model(m.config()).config() == m.config()


def test_prepare_images_standardises_and_resizes():
    imgs = np.random.default_rng(0).normal(5, 3, (4, 20, 20)).astype(np.float32)
    x = prepare_images(imgs, 10)
    assert x.shape == (4, 1, 10, 10)
    torch.testing.assert_close(x.mean(dim=(2, 3)).flatten(), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(x.std(dim=(2, 3)).flatten(), torch.ones(4), atol=1e-4, rtol=0)


def test_augment_is_seeded_and_identity_when_disabled():
    x = torch.randn(4, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    cfg = AugmentConfig(rotate=True, max_shift=2, noise=0.5, flip=True, blur=1.0)
    a = augment(x, cfg, torch.Generator().manual_seed(1))
    b = augment(x, cfg, torch.Generator().manual_seed(1))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.allclose(a, x)
    off = AugmentConfig(rotate=False, max_shift=0, noise=0, flip=False, blur=0)
    assert torch.equal(augment(x, off, torch.Generator().manual_seed(1)), x)
