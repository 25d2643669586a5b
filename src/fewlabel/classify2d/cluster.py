"""Clustering embeddings: k-means, the elbow curve, a suggested k, and aligned class averages.

Suggested k (:func:`suggest_k`) uses the Kneedle rule (Satopaa et al. 2011) on log inertia: scale
k and log(inertia) each to [0, 1]; the suggested k is the one whose point lies farthest below the
straight line joining the first and last points of the elbow curve. The log makes the rule depend on
relative, not absolute, drops: a curve that falls 100x at k = 4 after 2x drops before has its knee
at 4, where plain Kneedle and the maximum second difference both say 3.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from fewlabel.classify2d.features import polar_fourier_features, standardize
from fewlabel.errors import InputError

K_RULE = ("Kneedle on log inertia: with k and log(inertia) both scaled to [0, 1], the k whose point lies "
          "farthest below the straight line from the first to the last point of the elbow curve")


def _check_k(n: int, k: int, source=None) -> None:
    if k < 1:
        raise InputError(source, f"k must be >= 1, got {k}")
    if k > n:
        raise InputError(source, f"k = {k} is larger than the number of particles ({n})")


def kmeans(embeddings: np.ndarray, k: int, seed: int = 0, n_init: int = 10, source=None) -> tuple[np.ndarray, float]:
    """k-means labels (0..k-1, numbered by decreasing cluster size) and inertia."""
    from sklearn.cluster import KMeans

    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise InputError(source, f"expected a non-empty [n, d] embedding array, got shape {x.shape}")
    _check_k(len(x), k, source)
    km = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(x)
    order = np.argsort(-np.bincount(km.labels_, minlength=k), kind="stable")
    relabel = np.empty(k, dtype=np.int64)
    relabel[order] = np.arange(k)
    return relabel[km.labels_], float(km.inertia_)


def elbow(embeddings: np.ndarray, k_values, seed: int = 0, n_init: int = 4, source=None) -> np.ndarray:
    """k-means inertia for every k in ``k_values``."""
    k_values = list(k_values)
    for k in k_values:
        _check_k(len(embeddings), k, source)
    return np.array([kmeans(embeddings, k, seed, n_init, source)[1] for k in k_values])


def suggest_k(k_values, inertias) -> int:
    """The knee of the elbow curve by the rule in :data:`K_RULE`."""
    k = np.asarray(list(k_values), dtype=float)
    y = np.log(np.maximum(np.asarray(inertias, dtype=float), 1e-12))
    if len(k) < 3:
        return int(k[0])
    kn = (k - k[0]) / (k[-1] - k[0])
    span = y.max() - y.min()
    if span <= 0:
        return int(k[0])
    yn = (y - y.min()) / span
    line = yn[0] + (yn[-1] - yn[0]) * kn
    return int(k[int(np.argmax(line - yn))])


# ---------------------------------------------------------------------------- class averages

def _rotation_coords(box: int, angles: np.ndarray) -> np.ndarray:
    """Sampling coordinates ``[2, n_angles, box, box]`` that rotate an image about its centre."""
    c = (box - 1) / 2
    yy, xx = np.mgrid[:box, :box] - c
    cos, sin = np.cos(angles)[:, None, None], np.sin(angles)[:, None, None]
    return np.stack([c + cos * yy - sin * xx, c + sin * yy + cos * xx])


def rotate_image(image: np.ndarray, angle: float) -> np.ndarray:
    """``image`` rotated by ``angle`` radians about its centre (bilinear, zero outside)."""
    coords = _rotation_coords(image.shape[-1], np.array([angle]))
    return ndimage.map_coordinates(image, coords, order=1, mode="constant")[0]


def align_to_reference(image: np.ndarray, reference: np.ndarray, n_angles: int = 72,
                       max_shift: int | None = None) -> tuple[np.ndarray, float, tuple[int, int], float]:
    """Rotate and shift ``image`` onto ``reference`` by maximising cross-correlation.

    Every in-plane angle on an ``n_angles`` grid is tried; for each, the best integer shift (up to
    ``max_shift`` px, default box/8) comes from one FFT cross-correlation. Returns the aligned image,
    the angle (radians), the (row, col) shift and the correlation score.
    """
    b = image.shape[-1]
    max_shift = b // 8 if max_shift is None else max_shift
    angles = np.linspace(0, 2 * np.pi, n_angles, endpoint=False)
    rotated = ndimage.map_coordinates(image, _rotation_coords(b, angles), order=1, mode="constant")
    xc = np.fft.ifft2(np.fft.fft2(rotated) * np.conj(np.fft.fft2(reference))[None]).real
    xc = np.fft.fftshift(xc, axes=(1, 2))
    c = b // 2
    lo, hi = c - max_shift, c + max_shift + 1
    window = xc[:, lo:hi, lo:hi]
    a, r, q = np.unravel_index(np.argmax(window), window.shape)
    shift = (c - (lo + r), c - (lo + q))
    aligned = np.roll(rotated[a], shift, axis=(0, 1))
    return aligned, float(angles[a]), (int(shift[0]), int(shift[1])), float(window[a, r, q])


def rotated_copies(x: np.ndarray, n_angles: int) -> np.ndarray:
    """Every image of ``x [m, b, b]`` rotated on an ``n_angles`` grid: float32 ``[m, a, b, b]``."""
    b = x.shape[-1]
    angles = np.linspace(0, 2 * np.pi, n_angles, endpoint=False)
    coords = _rotation_coords(b, angles)
    return np.stack([ndimage.map_coordinates(im, coords, order=1, mode="constant") for im in x]).astype(np.float32)


def _rotated_spectra(x: np.ndarray, n_angles: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`rotated_copies` and their FFTs."""
    rotated = rotated_copies(x, n_angles)
    return rotated, np.fft.rfft2(rotated)


def _align_all(rotated: np.ndarray, spectra: np.ndarray, reference: np.ndarray, max_shift: int) -> np.ndarray:
    """Best rotation + integer shift of every member onto ``reference`` (one batched FFT
    cross-correlation over all members and angles); returns the aligned images ``[m, b, b]``."""
    m, a, b, _ = rotated.shape
    xc = np.fft.irfft2(spectra * np.conj(np.fft.rfft2(reference))[None, None], s=(b, b))
    xc = np.fft.fftshift(xc, axes=(2, 3))
    c = b // 2
    lo, hi = c - max_shift, c + max_shift + 1
    window = xc[:, :, lo:hi, lo:hi].reshape(m, -1)
    best = np.argmax(window, axis=1)
    ai, r, q = np.unravel_index(best, (a, hi - lo, hi - lo))
    return np.stack([np.roll(rotated[i, ai[i]], (c - (lo + r[i]), c - (lo + q[i])), axis=(0, 1))
                     for i in range(m)])


def class_average(images: np.ndarray, n_iter: int = 3, n_angles: int = 72, max_shift: int | None = None,
                  reference: np.ndarray | None = None) -> np.ndarray:
    """Rotationally and translationally aligned average of ``images [m, b, b]``.

    The first reference is ``reference`` or, by default, the member whose rotation-invariant
    features are closest to the members' mean (a typical particle, never a blurred average);
    then every member is aligned to the reference and the reference is replaced by the aligned
    average, ``n_iter`` times. The rotated copies of the members and their spectra are computed
    once and reused by every iteration (same result as :func:`align_to_reference` per member).
    """
    x = standardize(images)
    if len(x) == 0:
        raise InputError(None, "cannot average an empty class")
    if len(x) == 1:
        return x[0]
    b = x.shape[-1]
    max_shift = b // 8 if max_shift is None else max_shift
    if reference is None:
        f = polar_fourier_features(x, max_freq=0.25)
        reference = x[int(np.argmin(((f - f.mean(0)) ** 2).sum(1)))]
    ref = reference
    rotated, spectra = _rotated_spectra(x, n_angles)
    for _ in range(n_iter):
        ref = _align_all(rotated, spectra, ref, max_shift).mean(0)
        # keep the average centred: move the centre of mass of |contrast| to the box centre
        w = ndimage.gaussian_filter(np.abs(ref - np.median(ref)), 1.0)
        if w.sum() > 0:
            com = ndimage.center_of_mass(w)
            ref = ndimage.shift(ref, [(ref.shape[0] - 1) / 2 - com[0], (ref.shape[1] - 1) / 2 - com[1]],
                                order=1, mode="constant")
    return ref


def class_averages(images: np.ndarray, labels: np.ndarray, max_members: int = 200, n_iter: int = 3,
                   n_angles: int = 72, seed: int = 0) -> dict[int, np.ndarray]:
    """Aligned average for every cluster label (at most ``max_members`` random members each)."""
    labels = np.asarray(labels)
    if len(labels) != len(images):
        raise InputError(None, f"{len(labels)} cluster labels for {len(images)} particles")
    rng = np.random.default_rng(seed)
    out = {}
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if len(idx) > max_members:
            idx = np.sort(rng.choice(idx, max_members, replace=False))
        out[int(c)] = class_average(images[idx], n_iter=n_iter, n_angles=n_angles)
    return out
