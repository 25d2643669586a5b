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
    sees the same zero surround as in :func:`fewlabel.pick.models.score_map`. ``soft``: optional
    per-pixel maps of each image's shape (a teacher's probabilities) that :meth:`sample_soft` crops
    and flips along with the masks.
    """

    def __init__(self, images: list[np.ndarray], masks: list[np.ndarray], rf: int, tile: int,
                 rng: np.random.Generator, augment: bool = False, anchors: list[np.ndarray] | None = None,
                 anchor_fraction: float = 0.0, soft: list[np.ndarray] | None = None):
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
        self.soft = [np.pad(np.asarray(s, np.float32), t) for s in soft] if soft is not None else None
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
        soft = self.soft[i][a:a + t, b:b + t] if self.soft is not None else None
        return x, pos, valid, soft

    def sample(self, n_pos: int, n_random: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(x [B, 1, S, S], positive [B, T, T], unlabeled [B, T, T])`` with B = n_pos + n_random."""
        return self.sample_soft(n_pos, n_random)[:3]

    def sample_soft(self, n_pos: int, n_random: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """:meth:`sample` plus the tiles of the ``soft`` maps ``[B, T, T]`` (None without them); the same draws."""
        xs, ps, us, ss = [], [], [], []
        t = self.tile
        n_anchor = int(round(n_pos * self.anchor_fraction))
        for k in range(n_pos if self.pos_images else 0):
            images, pixels = ((self.anchor_images, self.anchor_pixels) if k < n_anchor
                              else (self.pos_images, self.pos_pixels))
            i = images[self.rng.integers(len(images))]
            r, c = pixels[i][self.rng.integers(len(pixels[i]))]
            r0, c0 = r - self.rng.integers(t), c - self.rng.integers(t)
            x, pos, _, soft = self._crop(i, int(r0), int(c0))
            xs.append(x)
            ps.append(pos)
            us.append(np.zeros_like(pos))
            ss.append(soft)
        for _ in range(n_random):
            i = int(self.rng.choice(len(self.images), p=self.area_p))
            h, w = self.shapes[i]
            r0 = int(self.rng.integers(-(t - 1), h))
            c0 = int(self.rng.integers(-(t - 1), w))
            x, pos, valid, soft = self._crop(i, r0, c0)
            xs.append(x)
            ps.append(pos)
            us.append(valid & ~pos)
            ss.append(soft)
        x, p, u = np.stack(xs)[:, None], np.stack(ps), np.stack(us)
        s = np.stack(ss) if self.soft is not None else None
        if self.augment:
            x, p, u, s = self._dihedral(x, p, u, s)
        return x, p, u, s

    def _dihedral(self, x: np.ndarray, p: np.ndarray, u: np.ndarray, s: np.ndarray | None = None):
        """Apply one random symmetry of the square (flips, transposition) to each tile (and soft map).

        Particles lie in every in-plane orientation and micrograph noise is isotropic, so these
        8 symmetries are free extra labeled examples. Input and label maps share the centre
        (output pixel ``i`` sees input pixels ``i .. i + rf - 1``), so the same flip keeps them aligned.
        """
        maps = [x[:, 0].copy(), p.copy(), u.copy()] + ([s.copy()] if s is not None else [])
        codes = self.rng.integers(8, size=len(x))
        for k, code in enumerate(codes):
            tiles = [m[k] for m in maps]
            if code & 1:
                tiles = [t[:, ::-1] for t in tiles]
            if code & 2:
                tiles = [t[::-1] for t in tiles]
            if code & 4:
                tiles = [t.T for t in tiles]
            for m, t in zip(maps, tiles):
                m[k] = t
        return maps[0][:, None], maps[1], maps[2], (maps[3] if s is not None else None)
