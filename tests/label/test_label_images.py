"""Display images: downsampled, smoothed, stretched to 8 bits, particles visible, cached."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from fewlabel.label.images import ImageCache, choose_factor, display_image


def test_choose_factor_brings_longest_side_under_limit():
    assert choose_factor((500, 800), 1024) == 1
    assert choose_factor((4096, 4096), 1024) == 4
    assert choose_factor((3000, 4100), 1024) == 5
    assert max(4100 / 5, 3000 / 5) <= 1024


def test_display_image_shows_dark_particles_on_full_range():
    rng = np.random.default_rng(1)
    image = rng.normal(0, 1.0, (256, 256)).astype(np.float32)
    rows, cols = np.mgrid[:256, :256]
    disc = (cols - 100) ** 2 + (rows - 140) ** 2 < 15 ** 2
    image[disc] -= 1.5  # invisible per pixel (SNR 1.5), visible after low-pass
    out = display_image(image, factor=2, diameter=30)
    assert out.dtype == np.uint8 and out.shape == (128, 128)
    assert out.min() == 0 and out.max() == 255
    inside = out[70, 50]
    background = np.median(out)
    assert inside < background - 40


def test_cache_renders_each_micrograph_once(mic_dir):
    from fewlabel.io.micrographs import read_micrograph

    calls = []

    def counting_read(path):
        calls.append(path)
        return read_micrograph(path)

    cache = ImageCache(diameter=24, factor=2, size=1, read=counting_read)
    a, b = sorted(mic_dir.glob("*.mrc"))[:2]
    first = cache.render(a)
    assert cache.render(a) is first and calls == [a]
    img = Image.open(io.BytesIO(first.png))
    assert img.mode == "L" and img.size == (160, 120)
    assert first.factor == 2 and first.shape == (240, 320) and first.display_shape == (120, 160)
    cache.render(b)  # evicts a (size=1)
    cache.render(a)
    assert calls == [a, b, a]
