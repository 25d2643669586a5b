"""From user files to model-ready arrays (and picks back to original pixels).

Micrographs are Fourier-cropped by the factor (integer or not) and normalized by
:mod:`fewlabel.preprocess`; picks change frame only through ``preprocess.scale_coordinates``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from fewlabel.errors import InputError


def prepare_image(image: np.ndarray, factor: float, normalize: str = "robust") -> np.ndarray:
    """Downsample by ``factor`` (Fourier cropping) and normalize; float32 ``[row, col]``."""
    from fewlabel import preprocess

    out = preprocess.downsample(np.asarray(image, dtype=np.float32), factor) if factor > 1 else image
    return np.ascontiguousarray(preprocess.normalize(out, method=normalize), dtype=np.float32)


def micrograph_paths(micrographs: str | os.PathLike | Iterable) -> list[Path]:
    """List micrograph files, raising InputError when there are none."""
    from fewlabel.io.micrographs import list_micrographs

    paths = list_micrographs(micrographs)
    if not paths:
        raise InputError(micrographs if isinstance(micrographs, (str, os.PathLike)) else None,
                         "no micrographs found (.mrc/.tif/.png/.jpg)")
    return list(paths)


def iter_prepared(paths: Iterable[Path], factor: float, normalize: str = "robust"
                  ) -> Iterator[tuple[str, tuple[int, int], np.ndarray]]:
    """Yield ``(name, original shape, prepared image)`` one micrograph at a time (streaming)."""
    from fewlabel.io.micrographs import read_micrograph

    for path in paths:
        mic = read_micrograph(path)
        yield mic.name, tuple(mic.image.shape), prepare_image(mic.image, factor, normalize)


def to_downsampled(picks: pd.DataFrame, factor: float) -> pd.DataFrame:
    """Original-pixel picks -> downsampled frame."""
    from fewlabel.preprocess import scale_coordinates

    return scale_coordinates(picks, 1 / factor) if factor != 1 else picks.copy()


def to_original(picks: pd.DataFrame, factor: float) -> pd.DataFrame:
    """Downsampled-frame picks -> original pixels."""
    from fewlabel.preprocess import scale_coordinates

    return scale_coordinates(picks, factor) if factor != 1 else picks.copy()


def read_labeled(picks_path: str | os.PathLike, names: list[str]) -> pd.DataFrame:
    """Read labeled picks and match their micrograph names to ``names`` (InputError if none/unknown)."""
    from fewlabel.io.picks import match_to_micrographs, read_picks

    picks = read_picks(picks_path)
    if len(picks) == 0:
        raise InputError(picks_path, "no labeled picks in this file")
    picks = match_to_micrographs(picks, names, source=picks_path)
    if len(picks) == 0:
        raise InputError(picks_path, "no labeled picks on any of the given micrographs")
    return picks
