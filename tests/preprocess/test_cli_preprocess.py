"""`fewlabel preprocess`: outputs with the new pixel size, and one-line errors for bad micrographs."""

from __future__ import annotations

import json

import mrcfile
import numpy as np
import pytest
import tifffile

from fewlabel.io.micrographs import read_micrograph, write_micrograph


@pytest.fixture
def raw(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "raw"
    for i in range(2):
        write_micrograph(folder / f"mic_{i}.mrc", rng.normal(5.0, 2.0, size=(96, 80)).astype(np.float32),
                         pixel_size=1.5)
    return folder


def _assert_failed_cleanly(code, err, out_dir, *parts):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    for part in parts:
        assert part in lines[0]
    assert not out_dir.exists() or not any(out_dir.iterdir())  # nothing written, no temp files


@pytest.mark.parametrize("method", ["robust", "gmm"])
def test_preprocess_writes_downsampled_normalized_mrc(cli_runner, tmp_path, raw, method):
    out = tmp_path / "out"
    code, stdout, _ = cli_runner("preprocess", raw, "-o", out, "--downsample", "4", "--normalize", method)
    assert code == 0 and "1.5 -> 6 Å" in stdout
    assert sorted(p.name for p in out.iterdir()) == ["mic_0.mrc", "mic_1.mrc", "preprocess.json"]
    mic = read_micrograph(out / "mic_1.mrc")
    assert mic.shape == (24, 20) and mic.pixel_size == 6.0
    assert abs(float(np.median(mic.image))) < 0.2 and 0.7 < mic.image.std() < 1.3
    record = json.loads((out / "preprocess.json").read_text())
    assert record["config"]["downsample"] == 4 and record["config"]["normalize"] == method


def test_fractional_downsampling(cli_runner, tmp_path, raw):
    out = tmp_path / "out"
    code, stdout, _ = cli_runner("preprocess", raw, "-o", out, "--downsample", "2.5")
    assert code == 0 and "downsample x2.5" in stdout
    mic = read_micrograph(out / "mic_0.mrc")
    assert mic.shape == (38, 32) and mic.pixel_size == pytest.approx(3.75)


def test_pixel_size_option_fills_missing_header(cli_runner, tmp_path):
    tifffile.imwrite(tmp_path / "scan.tif", np.ones((30, 30), np.float32))
    code, _, _ = cli_runner("preprocess", tmp_path / "scan.tif", "-o", tmp_path / "o", "--downsample", "3",
                            "--normalize", "none", "--pixel-size", "0.5")
    assert code == 0
    mic = read_micrograph(tmp_path / "o" / "scan.mrc")
    assert mic.pixel_size == 1.5 and np.allclose(mic.image, 1.0, atol=1e-5)


def test_missing_micrograph(cli_runner, tmp_path, raw):
    out = tmp_path / "out"
    code, _, err = cli_runner("preprocess", raw / "mic_0.mrc", raw / "gone.mrc", "-o", out)
    _assert_failed_cleanly(code, err, out, "gone.mrc", "file not found")


def test_non_mrc_named_mrc(cli_runner, tmp_path, raw):
    (raw / "fake.mrc").write_text("this is a text file, not an image\n" * 50)
    out = tmp_path / "out"
    code, _, err = cli_runner("preprocess", raw, "-o", out)
    _assert_failed_cleanly(code, err, out, "fake.mrc", "not a valid MRC file")


def test_truncated_mrc(cli_runner, tmp_path, raw):
    data = (raw / "mic_1.mrc").read_bytes()
    (raw / "mic_1.mrc").write_bytes(data[:-500])
    out = tmp_path / "out"
    code, _, err = cli_runner("preprocess", raw, "-o", out)
    _assert_failed_cleanly(code, err, out, "mic_1.mrc", "truncated")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # mrcfile header stats of NaN
def test_nan_pixels(cli_runner, tmp_path, raw):
    image = np.zeros((96, 80), np.float32)
    image[5, 5] = np.nan
    with mrcfile.new(raw / "a_nan.mrc") as mrc:  # sorts first: fails before any output
        mrc.set_data(image)
    out = tmp_path / "out"
    code, _, err = cli_runner("preprocess", raw, "-o", out)
    _assert_failed_cleanly(code, err, out, "a_nan.mrc", "1 NaN and 0 inf pixels")


def test_stack_given_as_micrograph(cli_runner, tmp_path):
    with mrcfile.new(tmp_path / "stack.mrcs") as mrc:
        mrc.set_data(np.zeros((4, 16, 16), np.float32))
    out = tmp_path / "out"
    code, _, err = cli_runner("preprocess", tmp_path / "stack.mrcs", "-o", out)
    _assert_failed_cleanly(code, err, out, "stack.mrcs", "3D stack of 4 sections")


def test_refuses_to_overwrite_inputs(cli_runner, raw):
    before = (raw / "mic_0.mrc").read_bytes()
    code, _, err = cli_runner("preprocess", raw, "-o", raw)
    assert code == 2 and "refusing to overwrite" in err
    assert (raw / "mic_0.mrc").read_bytes() == before
