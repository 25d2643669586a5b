"""Micrograph preprocessing: Fourier-crop downsampling, per-micrograph normalization, and THE one
function that moves coordinates between original and downsampled pixels.

Frames: Fourier cropping by a factor ``f`` (integer or not) keeps the band-limited image sampled
at original positions ``0, f, 2f, ...`` (the image is first trimmed to ``round(out x f)`` pixels,
a multiple of an integer ``f``), so a point at original pixel ``x`` sits at ``x / f`` after
downsampling (to within half an original pixel for a fractional ``f``). :func:`scale_coordinates`
is the only place that applies this; picking and extraction code calls it instead of dividing.

Example::

    >>> from fewlabel.io.micrographs import read_micrograph
    >>> from fewlabel.preprocess import preprocess_micrograph, scale_coordinates
    >>> small = preprocess_micrograph(read_micrograph("mic.mrc"), downsample=4)  # doctest: +SKIP
    >>> picks_small = scale_coordinates(picks, 1 / 4)                              # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fewlabel.io.micrographs import Micrograph

NORMALIZE_METHODS = ("robust", "gmm", "none")
MAD_TO_SIGMA = 1.4826  # MAD of a Gaussian times this is its standard deviation
_ROW_BLOCK = 256  # rows per real FFT block in downsample: small temporaries, same numbers


def downsample(image: np.ndarray, factor: float, workers: int | None = None) -> np.ndarray:
    """Downsample a 2D image by ``factor`` (>= 1, integer or not) by cropping its Fourier transform.

    Unlike striding, nothing aliases: frequencies above the new Nyquist are removed. The output has
    ``floor(size / factor)`` pixels per axis; the image is first trimmed to ``round(out x factor)``
    pixels (a multiple of an integer factor, odd sizes allowed), so one output pixel spans
    ``factor`` input pixels to within ``0.5 / out`` (coordinates scaled by ``factor`` are off by
    at most half an input pixel). The result is scaled so the mean is preserved. Returns float32.

    The crop is separable, so it runs axis by axis in single precision: a real FFT along the rows,
    keep the low ``cols // 2 + 1`` columns, and only those few columns go through the column FFT
    (the same numbers as cropping a full ``rfft2``, at about half the CPU time and a quarter of the
    temporary memory for a 4096x4096 image downsampled by 8). ``workers``: threads for ``scipy.fft`` (None: scipy's default, 1 unless
    inside ``scipy.fft.set_workers``).
    """
    from scipy import fft

    factor = float(factor)
    if not factor >= 1:
        raise ValueError(f"downsampling factor must be at least 1, got {factor:g}")
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2:
        raise ValueError(f"downsample expects a 2D image, got shape {image.shape}")
    if factor == 1:
        return image.copy()
    rows, cols = int(image.shape[0] // factor), int(image.shape[1] // factor)
    if rows < 1 or cols < 1:
        raise ValueError(f"image of shape {image.shape} is smaller than the factor {factor:g}")
    image = image[: int(round(rows * factor)), : int(round(cols * factor))]
    # along axis 1 keep frequencies 0..cols/2, a block of rows at a time (never the full half-spectrum
    # in memory); along axis 0 keep |k| < rows/2 (positive, then negative)
    keep = cols // 2 + 1
    spectrum = np.empty((image.shape[0], keep), dtype=np.result_type(image.dtype, np.complex64))
    for start in range(0, image.shape[0], _ROW_BLOCK):
        block = image[start: start + _ROW_BLOCK]
        spectrum[start: start + len(block)] = fft.rfft(block, axis=1, workers=workers)[:, :keep]
    spectrum = fft.fft(spectrum, axis=0, workers=workers, overwrite_x=True)
    top, bottom = (rows + 1) // 2, rows // 2
    spectrum = np.concatenate([spectrum[:top], spectrum[spectrum.shape[0] - bottom:]], axis=0)
    spectrum = fft.ifft(spectrum, axis=0, workers=workers, overwrite_x=True)
    small = fft.irfft(spectrum, n=cols, axis=1, workers=workers)
    small *= (rows * cols) / float(image.shape[0] * image.shape[1])  # preserve the mean
    return small.astype(np.float32, copy=False)


def normalize(image: np.ndarray, method: str = "robust", seed: int = 0,
              sample_size: int = 100_000) -> np.ndarray:
    """Normalize one micrograph's pixel values to zero centre and unit spread (float32).

    - ``robust``: subtract the median and divide by 1.4826 x MAD (a standard deviation that
      ignores carbon, ice contamination and hot pixels); falls back to the standard deviation
      when more than half the pixels are equal.
    - ``gmm``: Topaz-style: fit a two-component Gaussian mixture to the pixel values (scikit-learn,
      on a seeded subsample of ``sample_size`` pixels) and standardise by the component with the
      largest weight, i.e. the background ice rather than particles or contamination.
    - ``none``: return the image unchanged (as float32).
    """
    image = np.asarray(image, dtype=np.float32)
    if method == "none":
        return image.copy()
    if method == "robust":
        centre = float(np.median(image))
        spread = MAD_TO_SIGMA * float(np.median(np.abs(image - centre)))
    elif method == "gmm":
        centre, spread = _gmm_background(image, seed, sample_size)
    else:
        raise ValueError(f"normalize method must be one of {NORMALIZE_METHODS}, got {method!r}")
    if not spread > 0:
        spread = float(image.std())
    out = image - np.float32(centre)
    if spread > 0:
        out /= np.float32(spread)
    return out


def _gmm_background(image: np.ndarray, seed: int, sample_size: int) -> tuple[float, float]:
    """Mean and standard deviation of the dominant component of a 2-Gaussian fit to the pixels.

    Pixels more than 10 robust standard deviations from the median (hot or dead pixels) are left
    out of the fit. If one Gaussian explains the sample better (lower BIC), its mean and deviation are used:
    splitting unimodal noise in two would shift the centre for no reason.
    """
    from sklearn.mixture import GaussianMixture

    values = image.ravel()
    rng = np.random.default_rng(seed)
    if values.size > sample_size:
        values = values[rng.integers(0, values.size, size=sample_size)]
    values = values.astype(np.float64)
    # hot/dead pixels would claim a component of their own: leave out values > 10 robust sigma away
    med = np.median(values)
    mad = MAD_TO_SIGMA * np.median(np.abs(values - med))
    if mad > 0:
        values = values[np.abs(values - med) <= 10 * mad]
    values = values[:, None]
    n, mean, var = len(values), float(values.mean()), float(values.var())
    if var == 0:
        return mean, 0.0
    gmm = GaussianMixture(n_components=2, covariance_type="full", random_state=seed, max_iter=100,
                          tol=1e-3, reg_covar=1e-6 * var)
    gmm.fit(values)
    bic_one = n * (np.log(2 * np.pi * var) + 1) + 2 * np.log(n)
    if bic_one <= gmm.bic(values):
        return mean, float(np.sqrt(var))
    k = int(np.argmax(gmm.weights_))
    return float(gmm.means_[k, 0]), float(np.sqrt(gmm.covariances_[k, 0, 0]))


def scale_coordinates(picks: pd.DataFrame | np.ndarray, factor: float) -> pd.DataFrame | np.ndarray:
    """Multiply pick coordinates by ``factor``: THE one place coordinates change frame.

    Original -> downsampled by ``f``: ``scale_coordinates(picks, 1 / f)``; back:
    ``scale_coordinates(picks, f)``. Accepts a picks table (``x_coord``/``y_coord`` scaled, other
    columns kept, a new table returned) or an array whose last axis is (x, y).
    """
    factor = float(factor)
    if not factor > 0:
        raise ValueError(f"coordinate scale factor must be positive, got {factor}")
    if isinstance(picks, pd.DataFrame):
        out = picks.copy()
        out["x_coord"] = out["x_coord"].astype(np.float64) * factor
        out["y_coord"] = out["y_coord"].astype(np.float64) * factor
        return out
    return np.asarray(picks, dtype=np.float64) * factor


def preprocess_micrograph(mic: Micrograph, downsample: float = 1, normalize: str = "robust",
                          seed: int = 0) -> Micrograph:
    """Downsample then normalize one micrograph; the pixel size grows by the factor.

    The name is kept so picks still match; ``path`` is None because the image no longer
    matches the file it came from.
    """
    factor = float(downsample)
    image = _downsample(mic.image, factor)
    image = _normalize(image, normalize, seed=seed)
    pixel_size = None if mic.pixel_size is None else mic.pixel_size * factor
    return Micrograph(image=image, name=mic.name, pixel_size=pixel_size, path=None)


_downsample, _normalize = downsample, normalize  # the keyword arguments above shadow the names
