"""Particle extraction: cut a box around every pick, normalise it, optionally downsample it.

Coordinates never change frame here: boxes are cut from the ORIGINAL micrograph around the picks'
original-pixel centres, and each box is then Fourier-cropped with :func:`fewlabel.preprocess.downsample`.
The metadata table therefore keeps the picks' own coordinates (``image_name, x_coord, y_coord,
(score)``), plus ``inside`` (False for a box that left the micrograph and was padded).

Boxes that leave the micrograph are skipped (default) or kept, padded with the box's mean, and
flagged (``edge="flag"``). Normalisation is per particle: ``background`` (RELION-like: mean and
standard deviation of the pixels outside the inscribed circle), ``whole`` (whole box) or ``none``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from fewlabel.errors import InputError

EDGE_MODES = ("skip", "flag")
NORMALIZE_MODES = ("background", "whole", "none")


def normalize_particles(images: np.ndarray, method: str = "background") -> np.ndarray:
    """Per-particle normalisation of ``images [n, b, b]`` (see module docstring)."""
    if method not in NORMALIZE_MODES:
        raise InputError(None, f"normalisation must be one of {', '.join(NORMALIZE_MODES)}, not {method!r}")
    x = np.asarray(images, dtype=np.float32)
    if method == "none" or len(x) == 0:
        return x.copy()
    if method == "background":
        b = x.shape[-1]
        yy, xx = np.mgrid[:b, :b] - (b - 1) / 2
        ring = yy**2 + xx**2 > (b / 2) ** 2
        vals = x[:, ring]
    else:
        vals = x.reshape(len(x), -1)
    mean = vals.mean(1)[:, None, None]
    std = vals.std(1)[:, None, None]
    return ((x - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)


def cut_boxes(image: np.ndarray, x: np.ndarray, y: np.ndarray, box: int) -> tuple[np.ndarray, np.ndarray]:
    """Boxes ``[n, box, box]`` centred on (x = column, y = row) and a mask of those fully inside.

    The box covers ``round(c) - box//2 ... + box`` on each axis; boxes crossing an edge are padded
    with the mean of their inside part.
    """
    rows, cols = image.shape
    r0 = np.round(np.asarray(y, float)).astype(int) - box // 2
    c0 = np.round(np.asarray(x, float)).astype(int) - box // 2
    inside = (r0 >= 0) & (c0 >= 0) & (r0 + box <= rows) & (c0 + box <= cols)
    out = np.empty((len(r0), box, box), dtype=np.float32)
    for i, (r, c) in enumerate(zip(r0, c0)):
        if inside[i]:
            out[i] = image[r:r + box, c:c + box]
            continue
        rs, re = max(r, 0), min(r + box, rows)
        cs, ce = max(c, 0), min(c + box, cols)
        part = image[rs:re, cs:ce] if (re > rs and ce > cs) else np.zeros((0, 0), np.float32)
        out[i] = part.mean() if part.size else 0.0
        if part.size:
            out[i, rs - r:re - r, cs - c:ce - c] = part
    return out, inside


def extract_particles(
    micrographs: Mapping[str, np.ndarray] | Callable[[str], np.ndarray],
    picks: pd.DataFrame,
    box: int,
    downsample: int = 1,
    edge: str = "skip",
    normalize: str = "background",
    names: list[str] | None = None,
    progress: bool = False,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Extract particle images for ``picks`` (a picks table, see docs/design.md).

    ``micrographs`` maps an image name to its 2D array, or is a function loading it (called once per
    micrograph, so large sets stream). ``box`` is in original micrograph pixels; the output box is
    ``box // downsample``. Returns ``(images float32 [n, box // downsample, ...], metadata)`` in pick
    order (minus skipped boxes).
    """
    from tqdm.auto import tqdm

    from fewlabel.preprocess import downsample as fourier_crop

    if edge not in EDGE_MODES:
        raise InputError(None, f"edge handling must be one of {', '.join(EDGE_MODES)}, not {edge!r}")
    if box < 2:
        raise InputError(None, f"box must be at least 2 pixels, got {box}")
    if downsample < 1 or box // downsample < 2:
        raise InputError(None, f"downsampling factor {downsample} is not usable with box {box}")
    for col in ("image_name", "x_coord", "y_coord"):
        if col not in picks.columns:
            raise InputError(None, f"picks table lacks the column {col!r}")
    load = micrographs if callable(micrographs) else micrographs.__getitem__
    order = names or list(dict.fromkeys(picks["image_name"]))
    out_box = box // downsample
    chunks, metas = [], []
    for name in tqdm(order, desc="extract", unit="micrograph", disable=not progress):
        sel = picks[picks["image_name"] == name]
        if len(sel) == 0:
            continue
        image = np.asarray(load(name), dtype=np.float32)
        if box > min(image.shape):
            raise InputError(None, f"box {box} px is larger than micrograph {name} "
                                   f"({image.shape[1]} x {image.shape[0]} px)")
        boxes, inside = cut_boxes(image, sel["x_coord"].to_numpy(), sel["y_coord"].to_numpy(), box)
        meta = sel.copy()
        meta["inside"] = inside
        if edge == "skip":
            boxes, meta = boxes[inside], meta[inside]
        if downsample > 1:
            boxes = np.stack([fourier_crop(b, downsample) for b in boxes]) if len(boxes) else \
                np.empty((0, out_box, out_box), np.float32)
        chunks.append(boxes)
        metas.append(meta)
    if not chunks:
        return np.empty((0, out_box, out_box), np.float32), picks.iloc[:0].assign(inside=[])
    images = normalize_particles(np.concatenate(chunks), normalize)
    meta = pd.concat(metas).reset_index(drop=True)
    return images, meta
