"""Fourier-crop downsampling, normalization and the coordinate frame they imply."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fewlabel.io.micrographs import Micrograph
from fewlabel.preprocess import downsample, normalize, preprocess_micrograph, scale_coordinates


def _cosine(shape, kx, ky, step=1.0):
    """cos of integer wave numbers (kx, ky) per image, sampled every ``step`` pixels."""
    rows, cols = shape
    y, x = np.mgrid[0:rows, 0:cols] * step
    full_rows, full_cols = rows * step, cols * step
    return np.cos(2 * np.pi * (kx * x / full_cols + ky * y / full_rows))


@pytest.mark.parametrize("shape, factor", [((64, 96), 2), ((60, 90), 3), ((81, 75), 3), ((33, 50), 1)])
def test_band_limited_image_is_resampled_exactly(shape, factor):
    """A low-frequency image downsampled by f equals the same function sampled every f pixels."""
    image = 3.0 + _cosine(shape, 2, 3) + 0.5 * _cosine(shape, -5, 1)
    small = downsample(image, factor)
    expected_shape = (shape[0] // factor, shape[1] // factor)
    assert small.shape == expected_shape and small.dtype == np.float32
    expected = 3.0 + _cosine(expected_shape, 2, 3, factor) + 0.5 * _cosine(expected_shape, -5, 1, factor)
    np.testing.assert_allclose(small, expected, atol=1e-4)


def test_odd_size_trims_to_a_multiple_and_preserves_mean():
    rng = np.random.default_rng(0)
    image = rng.normal(loc=7.0, size=(101, 99))
    small = downsample(image, 2)
    assert small.shape == (50, 49)
    assert small.mean() == pytest.approx(image[:100, :98].mean(), abs=1e-5)
    np.testing.assert_allclose(downsample(np.full((31, 17), 2.5), 4), 2.5, atol=1e-5)


def test_fourier_crop_does_not_alias_unlike_striding():
    """A checkerboard is pure Nyquist: striding turns it into a constant offset, cropping removes it."""
    board = np.indices((64, 64)).sum(axis=0) % 2 * 2.0 - 1.0  # +-1, mean 0
    assert abs(board[::2, ::2].mean()) == 1.0  # aliased by striding
    np.testing.assert_allclose(downsample(board, 2), 0.0, atol=1e-5)


@pytest.mark.parametrize("factor, tol", [(3, 1e-3), (2.5, 1e-3), (3.7, 0.5 / 3.7)])
def test_blob_lands_at_scaled_coordinates(factor, tol):
    """The frame convention: original pixel x is x/f after downsampling by f, integer or not (a
    fractional factor trims the image to round(out x f) px: off by at most half an original pixel)."""
    y, x = np.mgrid[0:240, 0:270]
    x0, y0 = 123.4, 101.7
    blob = np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * 9.0**2))
    small = downsample(blob, factor)
    assert small.shape == (int(240 // factor), int(270 // factor))
    yy, xx = np.mgrid[0:small.shape[0], 0:small.shape[1]]
    centre = np.array([(small * xx).sum(), (small * yy).sum()]) / small.sum()
    expected = scale_coordinates(np.array([x0, y0]), 1 / factor)
    np.testing.assert_allclose(centre, expected, atol=tol)
    assert small.sum() * factor**2 == pytest.approx(blob.sum(), rel=0.01)


def test_fractional_factor_resamples_a_band_limited_image():
    """Downsampling 100 px by 2.5 gives 40 px: the same low-frequency function sampled every 2.5 px."""
    image = 1.0 + _cosine((100, 100), 2, -3)
    small = downsample(image, 2.5)
    assert small.shape == (40, 40)
    np.testing.assert_allclose(small, 1.0 + _cosine((40, 40), 2, -3, 2.5), atol=1e-4)


def test_downsample_rejects_bad_factor():
    with pytest.raises(ValueError):
        downsample(np.zeros((8, 8)), 0)
    with pytest.raises(ValueError):
        downsample(np.zeros((8, 8)), 0.5)
    with pytest.raises(ValueError):
        downsample(np.zeros((2, 8)), 4)


def test_scale_coordinates_round_trip_and_keeps_other_columns():
    picks = pd.DataFrame({"image_name": ["a", "b"], "x_coord": [10.0, 3.0], "y_coord": [4.0, 8.0],
                          "score": [0.5, 0.1]})
    small = scale_coordinates(picks, 1 / 4)
    assert small["x_coord"].tolist() == [2.5, 0.75] and small["y_coord"].tolist() == [1.0, 2.0]
    assert small["score"].tolist() == [0.5, 0.1] and picks["x_coord"].tolist() == [10.0, 3.0]
    pd.testing.assert_frame_equal(scale_coordinates(small, 4), picks)
    with pytest.raises(ValueError):
        scale_coordinates(picks, 0)


@pytest.fixture
def ice_with_particles():
    """Background ice N(5, 2) on 75% of pixels, darker particles N(-3, 1) on 25%, a few hot pixels."""
    rng = np.random.default_rng(3)
    image = rng.normal(5.0, 2.0, size=(300, 300))
    particles = rng.random(image.shape) < 0.25
    image[particles] = rng.normal(-3.0, 1.0, size=particles.sum())
    image[rng.random(image.shape) < 0.001] = 1e4
    return image.astype(np.float32), particles


def test_gmm_normalizes_by_the_background_component(ice_with_particles):
    image, particles = ice_with_particles
    out = normalize(image, "gmm", seed=0)
    background = out[~particles & (image < 1e3)]
    assert background.mean() == pytest.approx(0.0, abs=0.05)
    assert background.std() == pytest.approx(1.0, abs=0.05)
    np.testing.assert_array_equal(out, normalize(image, "gmm", seed=0))  # seeded: reproducible


def test_gmm_on_unimodal_noise_standardises_it():
    image = np.random.default_rng(1).normal(2.0, 3.0, size=(200, 200)).astype(np.float32)
    out = normalize(image, "gmm")
    assert out.mean() == pytest.approx(0.0, abs=0.05) and out.std() == pytest.approx(1.0, abs=0.05)


def test_robust_normalization_ignores_outliers():
    rng = np.random.default_rng(2)
    image = rng.normal(10.0, 4.0, size=(200, 200)).astype(np.float32)
    image[:10] = 1e6  # 5% saturated rows
    out = normalize(image, "robust")
    clean = out[10:]
    assert abs(np.median(clean)) < 0.1 and clean.std() == pytest.approx(1.0, abs=0.1)


def test_normalize_constant_none_and_unknown():
    flat = np.full((10, 10), 4.0, dtype=np.float32)
    np.testing.assert_array_equal(normalize(flat, "robust"), 0.0)
    np.testing.assert_array_equal(normalize(flat, "gmm"), 0.0)
    image = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(normalize(image, "none"), image)
    with pytest.raises(ValueError, match="robust"):
        normalize(image, "zscore")


def test_preprocess_micrograph_updates_pixel_size_and_keeps_name():
    image = np.random.default_rng(4).normal(size=(64, 48)).astype(np.float32)
    mic = Micrograph(image, "mic_3", pixel_size=1.25)
    out = preprocess_micrograph(mic, downsample=4, normalize="robust")
    assert out.name == "mic_3" and out.shape == (16, 12)
    assert out.pixel_size == pytest.approx(5.0)
    assert abs(float(np.median(out.image))) < 1e-5
    assert preprocess_micrograph(Micrograph(image, "x"), 2, "none").pixel_size is None


@pytest.mark.parametrize("shape, factor", [((64, 96), 4), ((81, 75), 3), ((50, 41), 2)])
def test_separable_crop_equals_cropping_the_full_2d_spectrum(shape, factor):
    """The axis-by-axis single-precision crop gives the numbers of a float64 crop of the whole rfft2."""
    image = np.random.default_rng(1).normal(size=shape)
    rows, cols = shape[0] // factor, shape[1] // factor
    spec = np.fft.rfft2(image[: rows * factor, : cols * factor])
    top, bottom = (rows + 1) // 2, rows // 2
    cropped = np.concatenate([spec[:top, : cols // 2 + 1], spec[spec.shape[0] - bottom:, : cols // 2 + 1]])
    reference = np.fft.irfft2(cropped, s=(rows, cols)) / factor ** 2
    small = downsample(image, factor)
    np.testing.assert_allclose(small, reference, atol=2e-5)
    np.testing.assert_array_equal(downsample(image, factor, workers=2), small)  # threads change nothing
