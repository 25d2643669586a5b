"""Reference-based 2D classification (multi-reference alignment, the classical RELION/cryoSPARC idea).

Why: without labels the triplet network learns to tell particles apart, not classes; the classical
alternative aligns every particle to ``k`` class references (all in-plane angles x small shifts) and
iterates hard EM: assign each particle to the reference it correlates best with, replace each
reference by the aligned average of its members.

Coarse to fine, because hard EM on noisy images has many local optima and more pixels make them worse:

1. search: ``n_init`` hard-EM runs at ``search_size`` px (a strong low-pass; cheap), each started from
   a k-means partition of rotation-invariant polar-Fourier features; the run with the highest mean best
   correlation is kept (on 4 view classes at SNR 0.1 that objective picked the best of 16 runs; about
   1 start in 3 reached it, so ``n_init`` is 16);
2. refine: the kept references, upsampled to ``size`` px, seed a few more hard-EM iterations at that
   finer size with a wider shift search; finer sizes hold more signal once the classes are right
   (true-class references at SNR 0.1 assign ARI 0.88 at 24 px, 0.95 at 48 px) but start badly.

CTF-correct the images first (:mod:`fewlabel.classify2d.ctf`, phase flipping): it was the largest
single gain (views SNR 0.1 at 24 px: ARI 0.58 -> 0.75). Soft (posterior-weighted) assignment was tried
and lost to hard EM here (ARI 0.44 vs 0.78 at 32 px), so it is not offered.

Alignment scores are one matrix product of all rotated particles with all shifted references
(cheaper than FFT cross-correlation for small shift windows, same numbers).
"""

from __future__ import annotations

import numpy as np
import torch

from fewlabel.classify2d.cluster import _check_k, kmeans, rotated_copies
from fewlabel.classify2d.features import polar_fourier_features, standardize
from fewlabel.classify2d.models import circular_mask, prepare_images
from fewlabel.errors import InputError


def _best_scores(rotated: np.ndarray, refs: np.ndarray, max_shift: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised cross-correlation of every member with every reference, maximised over angle and shift:
    ``scores [m, k]`` and the flat (angle, row, col) index of the best alignment ``[m, k]``.

    ``rotated [m, a, b, b]`` holds every member at every angle. With the small shift windows used
    here, one matrix product of the rotated members with the (circularly) shifted references is
    far cheaper than an FFT cross-correlation per reference, and gives the same numbers.
    """
    m, a, b = rotated.shape[0], rotated.shape[1], rotated.shape[2]
    k = len(refs)
    refs = refs / np.maximum(np.linalg.norm(refs.reshape(k, -1), axis=1), 1e-9)[:, None, None]
    offsets = range(-max_shift, max_shift + 1)
    shifted = np.stack([np.roll(refs, (r, q), axis=(1, 2)) for r in offsets for q in offsets], axis=1)
    w2 = shifted.shape[1]
    xc = rotated.reshape(m * a, b * b) @ shifted.reshape(k * w2, b * b).astype(rotated.dtype).T  # [m a, k w2]
    xc = xc.reshape(m, a, k, w2).transpose(0, 2, 1, 3).reshape(m, k, a * w2)
    where = np.argmax(xc, axis=2)
    scores = np.take_along_axis(xc, where[:, :, None], axis=2)[:, :, 0].astype(np.float64)
    return scores, where


def _aligned(rotated: np.ndarray, where: np.ndarray, max_shift: int) -> np.ndarray:
    """Every member moved by its alignment ``where [m]`` (flat angle, row, col) onto the reference."""
    m, a, b, _ = rotated.shape
    w = 2 * max_shift + 1
    ai, r, q = np.unravel_index(where, (a, w, w))
    return np.stack([np.roll(rotated[i, ai[i]], (max_shift - r[i], max_shift - q[i]), axis=(0, 1))
                     for i in range(m)])


def _averages(rotated: np.ndarray, labels: np.ndarray, where: np.ndarray, k: int, max_shift: int,
              previous: np.ndarray) -> np.ndarray:
    """Aligned average of each class's members (an empty class keeps its previous reference)."""
    refs = previous.copy()
    for j in range(k):
        idx = np.flatnonzero(labels == j)
        if len(idx) == 0:
            continue
        refs[j] = _aligned(rotated[idx], where[idx, j], max_shift).mean(0)
    return refs


def _initial_references(x, rotated, f, k, max_shift, seed):
    """k-means partition of the invariant features ``f``; each class's members aligned to a typical
    member and averaged."""
    labels = kmeans(f, k, seed, n_init=1)[0]
    refs = np.stack([x[labels == j].mean(0) if np.any(labels == j) else x[0] for j in range(k)])
    for j in range(k):
        idx = np.flatnonzero(labels == j)
        if len(idx) == 0:
            continue
        typical = idx[int(np.argmin(((f[idx] - f[idx].mean(0)) ** 2).sum(1)))]
        _, wh = _best_scores(rotated[idx], x[typical][None], max_shift)
        refs[j:j + 1] = _averages(rotated[idx], np.zeros(len(idx), int), wh, 1, max_shift, refs[j:j + 1])
    return labels, refs


def _mra_once(x, rotated, f, k, n_iter, max_shift, seed):
    """One hard-EM run from a k-means partition of the invariant features ``f``; returns
    ``(labels, references, objective)`` with objective = mean best normalised correlation."""
    labels, refs = _initial_references(x, rotated, f, k, max_shift, seed)
    return _hard_em(rotated, labels, refs, k, n_iter, max_shift)


def _hard_em(rotated, labels, refs, k, n_iter, max_shift):
    """Hard EM from ``refs`` until the labels stop changing (at most ``n_iter`` iterations)."""
    objective = -np.inf
    for _ in range(n_iter):
        scores, where = _best_scores(rotated, refs, max_shift)
        new = np.argmax(scores, axis=1)
        objective = float(scores.max(1).mean())
        refs = _averages(rotated, new, where, k, max_shift, refs)
        done = np.array_equal(new, labels)
        labels = new
        if done:
            break
    return labels, refs, objective


def _prepare(images: np.ndarray, size: int) -> np.ndarray:
    """Resize to ``size`` px, mask to a disk, standardise (numpy float32 ``[n, size, size]``)."""
    return standardize((prepare_images(images, size)[:, 0] * circular_mask(size)).numpy())


def _resize(refs: np.ndarray, size: int) -> np.ndarray:
    x = torch.as_tensor(refs, dtype=torch.float32)[:, None]
    return torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)[:, 0].numpy()


def mra_classify(images: np.ndarray, k: int, size: int = 48, search_size: int = 24, n_iter: int = 20,
                 n_init: int = 16, n_angles: int = 36, max_shift: int | None = None, seed: int = 0,
                 progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Classify ``images [n, b, b]`` (CTF-corrected when possible) into ``k`` classes by multi-reference
    alignment, coarse to fine (module doc).

    ``size``: refinement size (px; capped at the box; ``size <= search_size`` skips refinement);
    ``search_size``: size of the ``n_init`` searches; ``max_shift``: shift search (px) at ``size``,
    default ``size / 16`` (the search uses ``search_size / 16``: on noisy images a wide shift search
    lets particles match references by their noise). Returns ``(labels [n], references
    [k, size, size])``; labels are numbered by decreasing class size.

    Memory: every particle is held at every angle, ``n x n_angles x size^2 x 4`` bytes (10,000
    particles at 48 px: 3.3 GB; at 32 px: 1.5 GB).
    """
    from tqdm.auto import tqdm

    images = np.asarray(images)
    _check_k(len(images), k)
    if n_init < 1 or n_iter < 1:
        raise InputError(None, "n_init and n_iter must be >= 1")
    size = min(size, images.shape[-1])
    search_size = min(search_size, size)
    x = _prepare(images, search_size)
    f = polar_fourier_features(x, max_freq=0.25)
    rotated = rotated_copies(x, n_angles)
    shift0 = max(1, search_size // 16)
    runs = [_mra_once(x, rotated, f, k, n_iter, shift0, seed * 1000 + r)
            for r in tqdm(range(n_init), desc=f"MRA search at {search_size} px", unit="start", disable=not progress)]
    labels, refs, _ = max(runs, key=lambda run: run[2])
    if size > search_size:
        shift = max(1, size // 16) if max_shift is None else max_shift
        rotated = rotated_copies(_prepare(images, size), n_angles)
        labels, refs, _ = _hard_em(rotated, labels, _resize(refs, size), k, n_iter, shift)
    order = np.argsort(-np.bincount(labels, minlength=k), kind="stable")
    relabel = np.empty(k, dtype=np.int64)
    relabel[order] = np.arange(k)
    return relabel[labels], refs[order]


def mra_profile(images: np.ndarray, references: np.ndarray, n_angles: int = 36,
                max_shift: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Align ``images [n, b, b]`` (prepared like :func:`mra_classify`'s, CTF-corrected when possible)
    to ``references [k, s, s]`` (e.g. its output): the class-correlation profile and the aligned images.

    Returns ``(scores [n, k], aligned [n, s, s])``: ``scores[i, j]`` is particle i's normalised
    cross-correlation with reference j at its best in-plane angle and shift (the numbers MRA assigns
    by), and ``aligned[i]`` is particle i rotated and shifted onto its best-scoring reference
    (rotation-normalised input for a network). Why: the profile is label-free and says nothing about
    which molecule the classes came from, so it transfers to molecules no network has seen.
    """
    references = np.asarray(references, dtype=np.float32)
    if references.ndim != 3 or references.shape[1] != references.shape[2] or len(references) == 0:
        raise InputError(None, f"expected references [k, s, s], got shape {references.shape}")
    images = np.asarray(images)
    if images.ndim != 3 or len(images) == 0:
        raise InputError(None, f"expected a non-empty particle stack [n, box, box], got shape {images.shape}")
    size = references.shape[-1]
    shift = max(1, size // 16) if max_shift is None else max_shift
    rotated = rotated_copies(_prepare(images, size), n_angles)
    scores, where = _best_scores(rotated, references, shift)
    best = np.argmax(scores, axis=1)
    aligned = _aligned(rotated, where[np.arange(len(best)), best], shift)
    return scores.astype(np.float32), aligned.astype(np.float32)
