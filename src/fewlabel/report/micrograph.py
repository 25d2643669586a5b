"""Micrograph figures: picks circled on the image (any number of sets, e.g. truth vs predicted)
and the power spectrum (Thon rings). Each function returns a matplotlib Figure; save it with
:func:`fewlabel.report.figures.save_figure`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from fewlabel.report.figures import plt  # Agg backend already selected

_COLORS = ("#00d0ff", "#ff3b30", "#ffd60a", "#34c759", "#bf5af2", "#ff9f0a")


def display_image(image: np.ndarray, bin_factor: int = 1, lowpass: float = 0.0,
                  n_sd: float = 3.0) -> tuple[np.ndarray, float, float]:
    """Image ready for display: binned by ``bin_factor`` (mean), optionally Gaussian low-passed
    (``lowpass`` sigma in binned pixels), with contrast limits at the median ± ``n_sd`` robust
    standard deviations (MAD), so dark contaminations do not wash out the particles."""
    img = np.asarray(image, dtype=np.float64)
    if bin_factor > 1:
        r, c = (img.shape[0] // bin_factor) * bin_factor, (img.shape[1] // bin_factor) * bin_factor
        img = img[:r, :c].reshape(r // bin_factor, bin_factor, c // bin_factor, bin_factor).mean(axis=(1, 3))
    if lowpass > 0:
        from scipy import ndimage

        img = ndimage.gaussian_filter(img, lowpass)
    med = float(np.median(img))
    sd = 1.4826 * float(np.median(np.abs(img - med))) or float(img.std()) or 1.0
    return img, med - n_sd * sd, med + n_sd * sd


def plot_micrograph_picks(image: np.ndarray, picks: pd.DataFrame | Mapping[str, pd.DataFrame] | None = None,
                          radius: float = 20.0, image_name: str | None = None, title: str | None = None,
                          bin_factor: int | None = None, lowpass: float = 1.0, linewidth: float = 1.0,
                          colors: Sequence[str] = _COLORS, ax=None, figsize: float = 7.0):
    """The micrograph with each picks set drawn as circles of ``radius`` (original pixels).

    ``picks`` is one picks table or ``{label: table}`` (one colour and legend entry per set, e.g.
    ``{"truth": truth, "predicted": picks}``); tables need ``x_coord`` (column) and ``y_coord``
    (row) in original pixels, and are filtered to ``image_name`` when given and present.
    Each later set is drawn at 0.7x the circle size of the one before, so picks that coincide
    (a prediction on a true particle) show as concentric rings instead of hiding each other.
    Large images are binned for display (``bin_factor`` default: to about 1024 px) and
    low-passed (``lowpass`` sigma, display pixels) so particles are visible by eye.
    """
    from matplotlib.collections import EllipseCollection
    from matplotlib.lines import Line2D

    if bin_factor is None:
        bin_factor = max(1, int(np.ceil(max(image.shape) / 1024)))
    img, lo, hi = display_image(image, bin_factor, lowpass)
    if ax is None:
        fig, ax = plt.subplots(figsize=(figsize, figsize * image.shape[0] / image.shape[1]))
    else:
        fig = ax.figure
    ax.imshow(img, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest",
              extent=(-0.5, image.shape[1] - 0.5, image.shape[0] - 0.5, -0.5))
    sets: Mapping[str, pd.DataFrame]
    if picks is None:
        sets = {}
    elif isinstance(picks, pd.DataFrame):
        sets = {"picks": picks}
    else:
        sets = picks
    handles = []
    for i, (label, table) in enumerate(sets.items()):
        if image_name is not None and "image_name" in table.columns:
            table = table[table["image_name"].astype(str) == str(image_name)]
        xy = table[["x_coord", "y_coord"]].to_numpy(dtype=np.float64)
        color = colors[i % len(colors)]
        d = 2 * radius * 0.7 ** i  # each later set smaller: a pick on a true particle shows as two rings
        coll = EllipseCollection(np.full(len(xy), d), np.full(len(xy), d), np.zeros(len(xy)), units="xy",
                                 offsets=xy, offset_transform=ax.transData, facecolors="none",
                                 edgecolors=color, linewidths=linewidth)
        ax.add_collection(coll)
        handles.append(Line2D([], [], marker="o", linestyle="none", markerfacecolor="none",
                              markeredgecolor=color, label=f"{label} ({len(xy)})"))
    ax.set_xlim(-0.5, image.shape[1] - 0.5)
    ax.set_ylim(image.shape[0] - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    if handles:
        ax.legend(handles=handles, loc="upper right", fontsize=8, framealpha=0.8)
    if title:
        ax.set_title(title)
    return fig


def power_spectrum(image: np.ndarray, tile: int = 512) -> np.ndarray:
    """Welch-averaged power spectrum (centred, ``[tile, tile]``) of half-overlapping tiles,
    each mean-subtracted and Hann-windowed; smooths speckle so the Thon rings stand out."""
    img = np.asarray(image, dtype=np.float64)
    tile = int(min(tile, *img.shape))
    step = max(tile // 2, 1)
    window = np.outer(np.hanning(tile), np.hanning(tile))
    acc = np.zeros((tile, tile))
    count = 0
    for r in range(0, img.shape[0] - tile + 1, step):
        for c in range(0, img.shape[1] - tile + 1, step):
            patch = img[r:r + tile, c:c + tile]
            acc += np.abs(np.fft.fft2((patch - patch.mean()) * window)) ** 2
            count += 1
    return np.fft.fftshift(acc / max(count, 1))


def plot_power_spectrum(image: np.ndarray, pixel_size: float | None = None, tile: int = 512,
                        rings: Sequence[float] | None = None, title: str | None = None,
                        max_frequency: float | None = None, ax=None, figsize: float = 6.0):
    """Log power spectrum of ``image`` with a radial-average background divided out.

    Axes are in 1/Å when ``pixel_size`` is given (else cycles/pixel). ``rings`` (same unit as
    the axes, e.g. analytic CTF zeros) are drawn as dashed circles on the right half for
    comparison. ``max_frequency`` crops the display (default: Nyquist).
    """
    from matplotlib.patches import Arc

    ps = power_spectrum(image, tile)
    n = ps.shape[0]
    unit = 1.0 / (pixel_size if pixel_size else 1.0)
    # flatten the steep radial fall-off so rings are visible over the whole range
    yy, xx = np.indices(ps.shape) - n // 2
    rad = np.hypot(yy, xx).astype(int)
    logp = np.log(ps + 1e-30)
    radial = np.bincount(rad.ravel(), logp.ravel()) / np.maximum(np.bincount(rad.ravel()), 1)
    from scipy import ndimage

    background = ndimage.uniform_filter1d(radial, size=max(n // 32, 3))[rad]
    flat = logp - background
    flat[n // 2, n // 2] = 0.0
    nyq = 0.5 * unit
    lo, hi = np.percentile(flat, (2, 99.5))
    if ax is None:
        fig, ax = plt.subplots(figsize=(figsize, figsize))
    else:
        fig = ax.figure
    ax.imshow(flat, cmap="gray", vmin=lo, vmax=hi, extent=(-nyq, nyq, nyq, -nyq), interpolation="nearest")
    label = "1/Å" if pixel_size else "cycles/pixel"
    for r in (() if rings is None else rings):
        ax.add_patch(Arc((0, 0), 2 * r, 2 * r, theta1=-90, theta2=90, edgecolor="#ff3b30",
                         linestyle="--", linewidth=0.8))
    lim = min(max_frequency, nyq) if max_frequency else nyq
    ax.set_xlim(-lim, lim)
    ax.set_ylim(lim, -lim)
    ax.set_xlabel(f"spatial frequency ({label})")
    ax.set_ylabel(f"spatial frequency ({label})")
    if title:
        ax.set_title(title)
    return fig
