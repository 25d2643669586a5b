"""Micrographs as PNGs a person can label: downsampled, low-pass filtered, contrast-normalized.

Raw micrographs are too large for a browser and too noisy to see particles in. Each one is
downsampled by Fourier cropping (``fewlabel.preprocess.downsample``, which also removes the
frequencies above the new Nyquist), smoothed by a Gaussian a twentieth of the particle
diameter wide, normalized, and its 0.5-99.5 percentile range stretched to 8 bits.
"""

from __future__ import annotations

import io
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

#: Longest side of a displayed micrograph when the factor is chosen automatically.
DISPLAY_SIZE = 1024


def choose_factor(shape: tuple[int, int], max_size: int = DISPLAY_SIZE) -> int:
    """The smallest integer downsampling factor that brings the longest side to ``max_size``."""
    return max(1, math.ceil(max(shape) / max_size))


def display_image(image: np.ndarray, factor: int, diameter: float) -> np.ndarray:
    """uint8 ``[row, col]`` image for display: Fourier-cropped by ``factor``, low-passed at a
    twentieth of the particle ``diameter`` (original pixels), normalized, percentile-stretched."""
    from scipy.ndimage import gaussian_filter

    from fewlabel.preprocess import downsample, normalize

    small = np.asarray(downsample(np.asarray(image, dtype=np.float32), factor), dtype=np.float32)
    sigma = diameter / factor / 20.0
    if sigma >= 0.5:
        small = gaussian_filter(small, sigma)
    small = np.asarray(normalize(small, method="robust"), dtype=np.float32)
    finite = np.isfinite(small)
    if not finite.any():
        return np.zeros(small.shape, dtype=np.uint8)
    lo, hi = np.percentile(small[finite], [0.5, 99.5])
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    out = np.clip((np.nan_to_num(small, nan=lo) - lo) * scale, 0, 255)
    return out.astype(np.uint8)


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of a uint8 grayscale image."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image, mode="L").save(buf, format="PNG", optimize=False, compress_level=3)
    return buf.getvalue()


class Rendered(NamedTuple):
    """A micrograph rendered for display; shapes are (rows, cols)."""

    png: bytes
    factor: int
    shape: tuple[int, int]
    display_shape: tuple[int, int]


class ImageCache:
    """Renders micrographs to PNG once and keeps the last ``size`` of them in memory.

    ``read`` maps a path to a Micrograph-like object with an ``image`` array (``read_micrograph``
    by default); ``factor`` is a fixed downsampling factor, or None to choose one per micrograph.
    """

    def __init__(self, diameter: float, factor: int | None = None, size: int = 8,
                 read: Callable | None = None):
        self.diameter = float(diameter)
        self.factor = factor
        self.size = size
        self._read = read
        self._cache: OrderedDict[Path, Rendered] = OrderedDict()
        self._lock = threading.Lock()
        self._path_locks: dict[Path, threading.Lock] = {}

    def render(self, path: Path) -> Rendered:
        """The display PNG of the micrograph at ``path``, with its factor and shapes."""
        with self._lock:
            if path in self._cache:
                self._cache.move_to_end(path)
                return self._cache[path]
            path_lock = self._path_locks.setdefault(path, threading.Lock())
        with path_lock:  # two requests for one image render it once
            with self._lock:
                if path in self._cache:
                    return self._cache[path]
            image = self._load(path)
            factor = self.factor or choose_factor(image.shape)
            small = display_image(image, factor, self.diameter)
            entry = Rendered(encode_png(small), factor, (int(image.shape[0]), int(image.shape[1])),
                             (int(small.shape[0]), int(small.shape[1])))
            with self._lock:
                self._cache[path] = entry
                while len(self._cache) > self.size:
                    self._cache.popitem(last=False)
            return entry

    def _load(self, path: Path) -> np.ndarray:
        if self._read is None:
            from fewlabel.io.micrographs import read_micrograph

            self._read = read_micrograph
        image = np.asarray(self._read(path).image)
        if image.ndim != 2:
            from fewlabel.errors import InputError

            raise InputError(path, f"expected a 2D micrograph, got shape {image.shape}")
        return image
