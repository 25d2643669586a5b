"""Training data for PU picking: positive masks, pi, and minibatches of tiles.

Positives are the pixels within ``radius`` of a labeled centre; every other pixel is
unlabeled. A minibatch is a set of tiles; the model scores every pixel of a tile at once (see
:mod:`fewlabel.pick.models`). Half the tiles are placed over labeled positives so each step
sees positives; the other half are placed uniformly at random and only their pixels form the
unlabeled sample, so the unlabeled term estimates an expectation over the whole micrograph.
"""

from __future__ import annotations

import numpy as np

from fewlabel.pick.nms import disk


def positive_mask(shape: tuple[int, int], xy: np.ndarray, radius: float) -> np.ndarray:
    """Boolean mask of pixels within ``radius`` of any centre ``xy`` ([n, 2] as column, row)."""
    mask = np.zeros(shape, dtype=bool)
    fp = disk(radius)
    r = fp.shape[0] // 2
    h, w = shape
    for x, y in np.rint(np.asarray(xy, float)).astype(int):
        r0, r1, c0, c1 = y - r, y + r + 1, x - r, x + r + 1
        fr0, fc0 = max(0, -r0), max(0, -c0)
        r0, c0 = max(r0, 0), max(c0, 0)
        r1, c1 = min(r1, h), min(c1, w)
        if r1 > r0 and c1 > c0:
            mask[r0:r1, c0:c1] |= fp[fr0:fr0 + r1 - r0, fc0:fc0 + c1 - c0]
    return mask


def estimate_pi(expected: float, radius: float, shape: tuple[int, int]) -> float:
    """Fraction of positive pixels: ``expected`` particles x disk pixels / micrograph pixels."""
    return float(expected) * int(disk(radius).sum()) / float(shape[0] * shape[1])


class TileSampler:
    """Draw minibatches of tiles from prepared images and their positive masks.

    ``tile`` output pixels per side; each input crop is ``tile + rf - 1`` wide. Images are
    zero-padded so every pixel, edges included, is equally likely to be drawn and its score
    sees the same zero surround as in :func:`fewlabel.pick.models.score_map`.
    """

    def __init__(self, images: list[np.ndarray], masks: list[np.ndarray], rf: int, tile: int,
                 rng: np.random.Generator, augment: bool = False, anchors: list[np.ndarray] | None = None,
                 anchor_fraction: float = 0.0):
        self.rf, self.tile, self.rng, self.augment = rf, tile, rng, augment
        # ``anchors``: a subset of each positive mask (hand labels among pseudo-labels); ``anchor_fraction`` of
        # every minibatch's positive tiles is centred on them, the rest on any positive pixel
        self.anchor_fraction = float(anchor_fraction) if anchors is not None else 0.0
        self.anchor_pixels = [np.argwhere(a) for a in anchors] if anchors is not None else []
        self.anchor_images = [i for i, p in enumerate(self.anchor_pixels) if len(p)]
        if self.anchor_fraction and not self.anchor_images:
            self.anchor_fraction = 0.0
        self.p = (rf - 1) // 2
        t = tile - 1
        self.images = [np.pad(im, self.p + t).astype(np.float32) for im in images]
        self.pos = [np.pad(m, t) for m in masks]
        self.valid = [np.pad(np.ones(m.shape, bool), t) for m in masks]
        self.shapes = [m.shape for m in masks]
        self.pos_pixels = [np.argwhere(m) for m in masks]  # (row, col) per image
        self.pos_images = [i for i, p in enumerate(self.pos_pixels) if len(p)]
        areas = np.array([h * w for h, w in self.shapes], float)
        self.area_p = areas / areas.sum()

    def _crop(self, i: int, r0: int, c0: int):
        """Tile whose output pixel (0, 0) is image pixel (r0, c0); r0, c0 may be negative."""
        t, size = self.tile, self.tile + self.rf - 1
        a, b = r0 + t - 1, c0 + t - 1  # offset of the extra (tile - 1) padding
        x = self.images[i][a:a + size, b:b + size]
        pos = self.pos[i][a:a + t, b:b + t]
        valid = self.valid[i][a:a + t, b:b + t]
        return x, pos, valid

    def sample(self, n_pos: int, n_random: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(x [B, 1, S, S], positive [B, T, T], unlabeled [B, T, T])`` with B = n_pos + n_random."""
        xs, ps, us = [], [], []
        t = self.tile
        n_anchor = int(round(n_pos * self.anchor_fraction))
        for k in range(n_pos if self.pos_images else 0):
            images, pixels = ((self.anchor_images, self.anchor_pixels) if k < n_anchor
                              else (self.pos_images, self.pos_pixels))
            i = images[self.rng.integers(len(images))]
            r, c = pixels[i][self.rng.integers(len(pixels[i]))]
            r0, c0 = r - self.rng.integers(t), c - self.rng.integers(t)
            x, pos, _ = self._crop(i, int(r0), int(c0))
            xs.append(x)
            ps.append(pos)
            us.append(np.zeros_like(pos))
        for _ in range(n_random):
            i = int(self.rng.choice(len(self.images), p=self.area_p))
            h, w = self.shapes[i]
            r0 = int(self.rng.integers(-(t - 1), h))
            c0 = int(self.rng.integers(-(t - 1), w))
            x, pos, valid = self._crop(i, r0, c0)
            xs.append(x)
            ps.append(pos)
            us.append(valid & ~pos)
        x, p, u = np.stack(xs)[:, None], np.stack(ps), np.stack(us)
        if self.augment:
            x, p, u = self._dihedral(x, p, u)
        return x, p, u

    def _dihedral(self, x: np.ndarray, p: np.ndarray, u: np.ndarray):
        """Apply one random symmetry of the square (flips, transposition) to each tile.

        Particles lie in every in-plane orientation and micrograph noise is isotropic, so these
        8 symmetries are free extra labeled examples. Input and label maps share the centre
        (output pixel ``i`` sees input pixels ``i .. i + rf - 1``), so the same flip keeps them aligned.
        """
        x, p, u = x.copy(), p.copy(), u.copy()
        codes = self.rng.integers(8, size=len(x))
        for k, code in enumerate(codes):
            xi, pk, uk = x[k, 0], p[k], u[k]
            if code & 1:
                xi, pk, uk = xi[:, ::-1], pk[:, ::-1], uk[:, ::-1]
            if code & 2:
                xi, pk, uk = xi[::-1], pk[::-1], uk[::-1]
            if code & 4:
                xi, pk, uk = xi.T, pk.T, uk.T
            x[k, 0], p[k], u[k] = xi, pk, uk
        return x, p, u
