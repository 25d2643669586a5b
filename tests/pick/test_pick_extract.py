"""Extraction streams micrographs, batches equal shapes and returns original-pixel picks."""

import numpy as np
import pytest
import torch

import fewlabel.io.micrographs as micio
from fewlabel.pick.extract import iter_extract, picks_from_scores
from fewlabel.pick.models import build_model
from fewlabel.pick.sampling import TileSampler, estimate_pi, positive_mask


def test_picks_back_in_original_pixels():
    s = np.full((40, 50), -5.0, np.float32)
    s[10, 20] = 3.0
    df = picks_from_scores(s, "mic", radius_ds=4, factor=4)
    assert df.iloc[0][["x_coord", "y_coord"]].tolist() == [80.0, 40.0]
    assert df.iloc[0]["score"] == pytest.approx(3.0)


def test_extraction_is_streamed_and_batched(tmp_path, monkeypatch):
    paths = []
    for k in range(5):
        shape = (64, 64) if k != 3 else (64, 72)  # one odd shape breaks the batch
        p = tmp_path / f"m{k}.mrc"
        micio.write_micrograph(p, np.random.default_rng(k).normal(size=shape).astype(np.float32))
        paths.append(p)
    reads = []
    real = micio.read_micrograph
    monkeypatch.setattr(micio, "read_micrograph", lambda p: reads.append(p) or real(p))
    model = build_model("conv31", units=4).eval()
    config = {"downsample": 2, "radius": 2.0, "normalize": "robust"}
    it = iter_extract(model, config, iter(paths), radius=6, batch_size=2)
    first = next(it)
    assert len(reads) == 2  # only the first batch was read
    rest = list(it)
    assert [d.image_name.iloc[0] for d in [first] + rest] == [f"m{k}" for k in range(5)]
    assert len(reads) == 5
    # all picks inside the original frame, every pick scored
    for d in [first] + rest:
        assert d.x_coord.between(0, 72).all() and d.y_coord.between(0, 64).all() and d.score.notna().all()


def test_positive_mask_and_pi():
    m = positive_mask((20, 30), np.array([[5, 5], [29, 19]]), 2)
    assert m.sum() == 13 + 6  # full disk + the corner quarter (incl. axes) at the image corner
    assert m[5, 5] and m[19, 29] and not m[0, 0]
    assert estimate_pi(10, 2, (100, 100)) == pytest.approx(10 * 13 / 10000)


def test_tile_sampler_aligns_inputs_and_labels():
    rng = np.random.default_rng(0)
    mask = positive_mask((50, 60), np.array([[10, 20], [55, 45]]), 3)
    sampler = TileSampler([mask.astype(np.float32)], [mask], rf=7, tile=8, rng=rng)
    x, pos, unl = sampler.sample(6, 30)
    assert x.shape == (36, 1, 14, 14) and pos.shape == unl.shape == (36, 8, 8)
    # output pixel (i, j) is the centre of its input window: the image there equals the label
    assert np.array_equal(x[:, 0, 3:11, 3:11] > 0.5, pos)
    assert pos[:6].reshape(6, -1).any(axis=1).all()  # positive tiles contain positives
    assert not unl[:6].any() and not (unl & pos).any() and unl[6:].any()
    # a model on the tile gives one score per label
    model = build_model("conv31", units=2)
    big = TileSampler([mask.astype(np.float32)], [mask], rf=31, tile=8, rng=rng)
    xb, pb, _ = big.sample(1, 1)
    assert model(torch.from_numpy(xb)).shape == pb.shape


def test_tile_sampler_centres_a_fraction_of_positive_tiles_on_the_anchors():
    # 9 positives (pseudo-labels) at columns <= 52, one anchor (a hand label) at column 185
    pseudo = positive_mask((40, 200), np.array([[x, y] for x in (10, 30, 50) for y in (10, 20, 30)]), 2)
    anchor = positive_mask((40, 200), np.array([[185, 20]]), 2)
    masks = [pseudo | anchor]
    image = np.tile(np.arange(1, 201, dtype=np.float32), (40, 1))  # each pixel holds its column + 1

    def anchored(fraction, rounds=40):
        """Per positive-tile slot, how often the tile's positives include the anchor's (columns >= 150)."""
        sampler = TileSampler([image], masks, rf=7, tile=8, rng=np.random.default_rng(2), anchors=[anchor],
                              anchor_fraction=fraction)
        hits = np.zeros(4)
        for _ in range(rounds):
            x, pos, _ = sampler.sample(4, 2)
            hits += [(x[k, 0, 3:11, 3:11][pos[k]] > 150).any() for k in range(4)]
        return hits / rounds

    half = anchored(0.5)
    assert half[0] == half[1] == 1.0  # round(4 x 0.5) = 2 tiles on the anchor in every minibatch
    assert half[2:].max() < 0.5  # the rest on any positive pixel: mostly the 9 pseudo-labels
    assert anchored(0.0).max() < 0.5
    # fraction 0 draws exactly as a sampler without anchors (same random stream)
    a = TileSampler([image], masks, rf=7, tile=8, rng=np.random.default_rng(3)).sample(4, 2)
    b = TileSampler([image], masks, rf=7, tile=8, rng=np.random.default_rng(3), anchors=[anchor]).sample(4, 2)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))


def test_tile_sampler_augmentation_is_a_symmetry_of_the_same_tiles():
    mask = positive_mask((50, 60), np.array([[10, 20], [55, 45], [30, 8]]), 3)
    image = mask.astype(np.float32) + np.linspace(0, 0.4, 60, dtype=np.float32)[None]  # asymmetric
    plain = TileSampler([image], [mask], rf=7, tile=8, rng=np.random.default_rng(1))
    aug = TileSampler([image], [mask], rf=7, tile=8, rng=np.random.default_rng(1), augment=True)
    x0, p0, u0 = plain.sample(8, 24)
    x1, p1, u1 = aug.sample(8, 24)
    assert np.array_equal(x1[:, 0, 3:11, 3:11] > 0.5, p1)  # labels still sit under their pixels
    changed = 0
    for k in range(len(x0)):
        variants = [(a, b, c) for a in (x0[k, 0], x0[k, 0].T) for b in (False, True) for c in (False, True)]
        imgs = [(v[::-1] if b else v)[:, ::-1] if c else (v[::-1] if b else v) for v, b, c in variants]
        assert any(np.array_equal(x1[k, 0], im) for im in imgs)
        assert p1[k].sum() == p0[k].sum() and u1[k].sum() == u0[k].sum()
        changed += not np.array_equal(x1[k, 0], x0[k, 0])
    assert changed > len(x0) // 2


def test_tile_sampler_crops_and_flips_soft_maps_with_their_tiles():
    mask = positive_mask((50, 60), np.array([[10, 20], [55, 45], [30, 8]]), 3)
    image = mask.astype(np.float32) + np.linspace(0, 0.4, 60, dtype=np.float32)[None]  # asymmetric
    soft = image * 2 + 1  # a map that is known at every pixel
    for augment in (False, True):
        sampler = TileSampler([image], [mask], rf=7, tile=8, rng=np.random.default_rng(4), augment=augment,
                              soft=[soft])
        x, pos, unl, s = sampler.sample_soft(8, 24)
        inside = x[:, 0, 3:11, 3:11]  # the input under each output pixel (zero outside the image)
        on_image = s != 0  # the soft map is >= 1 on the image and zero-padded like the input
        assert np.allclose(s[on_image], inside[on_image] * 2 + 1)
        assert not inside[~on_image].any() and on_image.mean() > 0.5
        # the same draws as without soft maps
        x0, p0, u0 = TileSampler([image], [mask], rf=7, tile=8, rng=np.random.default_rng(4),
                                 augment=augment).sample(8, 24)
        assert np.array_equal(x, x0) and np.array_equal(pos, p0) and np.array_equal(unl, u0)
    assert TileSampler([image], [mask], rf=7, tile=8, rng=np.random.default_rng(4)).sample_soft(1, 1)[3] is None


def test_teacher_probabilities_crop_to_the_mean_over_symmetries_of_each_tile():
    from fewlabel.pick.models import TTA_VIEWS
    from fewlabel.pick.train import teacher_probabilities

    torch.manual_seed(0)
    model = build_model("resnet8", units=4).eval()
    rng = np.random.default_rng(5)
    image = rng.normal(size=(40, 52)).astype(np.float32)
    mask = positive_mask(image.shape, np.array([[10, 12], [40, 30]]), 3)
    sampler = TileSampler([image], [mask], rf=model.receptive_field, tile=8, rng=rng, augment=True,
                          soft=[teacher_probabilities(model, image)])
    x, _, unl, s = sampler.sample_soft(4, 8)
    xt = torch.from_numpy(x)
    mean = 0  # each (flipped) tile's own 8 views, scored, mapped back and averaged
    with torch.no_grad():
        for k, flip in TTA_VIEWS:
            view = torch.rot90(xt, k, (-2, -1))
            logits = model(torch.flip(view, (-1,)) if flip else view)
            mean = mean + torch.rot90(torch.flip(logits, (-1,)) if flip else logits, -k, (-2, -1)) / 8
    direct = torch.sigmoid(mean).numpy()
    assert np.allclose(direct[unl], s[unl], atol=1e-5)  # the targets sit under their pixels in every flip
    one_view = torch.sigmoid(model(xt)).detach().numpy()
    assert not np.allclose(one_view[unl], s[unl], atol=1e-3)  # and are not the single view's
