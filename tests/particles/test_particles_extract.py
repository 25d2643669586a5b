"""Particle extraction: boxes centred on picks, edge handling, downsampling, normalisation, CLI."""

import numpy as np
import pandas as pd
import pytest

from fewlabel.errors import InputError
from fewlabel.particles import cut_boxes, extract_particles, normalize_particles


@pytest.fixture
def mic():
    """A 64 x 80 micrograph with bright dots at (x=20, y=30) and (x=60, y=10)."""
    m = np.zeros((64, 80), np.float32)
    m[30, 20] = 10.0
    m[10, 60] = 5.0
    return m


def test_box_is_centred_on_the_pick(mic):
    boxes, inside = cut_boxes(mic, np.array([20.0]), np.array([30.0]), 8)
    assert inside.tolist() == [True]
    assert np.unravel_index(np.argmax(boxes[0]), boxes[0].shape) == (4, 4)


def test_edge_boxes_are_skipped_or_flagged(mic):
    picks = pd.DataFrame({"image_name": "m", "x_coord": [20.0, 60.0, 78.0], "y_coord": [30.0, 10.0, 2.0],
                          "score": [0.9, 0.5, 0.1]})
    imgs, meta = extract_particles({"m": mic}, picks, 16, normalize="none")
    assert len(imgs) == 2 and meta["x_coord"].tolist() == [20.0, 60.0] and meta["inside"].all()
    assert meta["score"].tolist() == [0.9, 0.5]
    imgs, meta = extract_particles({"m": mic}, picks, 16, edge="flag", normalize="none")
    assert len(imgs) == 3 and meta["inside"].tolist() == [True, True, False]
    assert np.isfinite(imgs).all()


def test_downsample_keeps_original_coordinates(mic):
    picks = pd.DataFrame({"image_name": ["m"], "x_coord": [20.0], "y_coord": [30.0]})
    imgs, meta = extract_particles({"m": mic}, picks, 16, downsample=2, normalize="none")
    assert imgs.shape == (1, 8, 8)
    assert meta["x_coord"].iloc[0] == 20.0 and meta["y_coord"].iloc[0] == 30.0
    assert imgs[0].sum() == pytest.approx(10.0 / 4, rel=1e-4)  # mean-preserving Fourier crop


def test_background_normalisation_uses_the_ring_outside_the_circle():
    rng = np.random.default_rng(0)
    x = rng.normal(3, 2, (5, 32, 32)).astype(np.float32)
    x[:, 12:20, 12:20] += 50  # a bright particle in the middle must not bias the background
    out = normalize_particles(x, "background")
    yy, xx = np.mgrid[:32, :32] - 15.5
    ring = yy**2 + xx**2 > 16**2
    assert np.allclose(out[:, ring].mean(1), 0, atol=1e-5) and np.allclose(out[:, ring].std(1), 1, atol=1e-4)
    whole = normalize_particles(x, "whole")
    assert np.allclose(whole.reshape(5, -1).std(1), 1, atol=1e-4)


def test_box_larger_than_micrograph_is_an_input_error(mic):
    picks = pd.DataFrame({"image_name": ["m"], "x_coord": [20.0], "y_coord": [30.0]})
    with pytest.raises(InputError, match="larger than micrograph"):
        extract_particles({"m": mic}, picks, 70)
    with pytest.raises(InputError, match="edge handling"):
        extract_particles({"m": mic}, picks, 8, edge="pad")


def test_cli_extract_writes_stack_and_star(cli_runner, tmp_path, mic):
    from fewlabel.io.micrographs import write_micrograph
    from fewlabel.io.stacks import read_stack

    (tmp_path / "mics").mkdir()
    write_micrograph(tmp_path / "mics" / "m.mrc", mic, pixel_size=1.5)
    picks = tmp_path / "picks.tsv"
    pd.DataFrame({"image_name": ["m", "m", "m"], "x_coord": [20, 60, 79], "y_coord": [30, 10, 63],
                  "score": [1.0, 0.5, 0.2]}).to_csv(picks, sep="\t", index=False)
    out = tmp_path / "p.mrcs"
    code, stdout, err = cli_runner("particles", "extract", "--micrographs", tmp_path / "mics", "--picks", picks,
                                   "--box", 16, "--downsample", 2, "-o", out)
    assert code == 0, err
    assert "1 box(es) leaving the micrograph skipped" in stdout
    images, meta, apix = read_stack(out)
    assert images.shape == (2, 8, 8) and out.with_suffix(".star").is_file()
    assert apix == pytest.approx(3.0)
    assert meta["x_coord"].tolist() == [20, 60] and meta["inside"].all()
    code, stdout, err = cli_runner("particles", "extract", "--micrographs", tmp_path / "mics", "--picks", picks,
                                   "--box", 100, "-o", tmp_path / "q.mrcs")
    assert code == 2 and "larger than micrograph" in err
