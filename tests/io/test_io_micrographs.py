"""Micrograph readers/writers: every pixel type and container, and every bad-input case."""

from __future__ import annotations

import mrcfile
import numpy as np
import pytest
import tifffile
from PIL import Image

from fewlabel.errors import InputError
from fewlabel.io.micrographs import (
    Micrograph,
    iter_micrographs,
    list_micrographs,
    read_micrograph,
    write_micrograph,
)


@pytest.fixture
def image() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(48, 64)).astype(np.float32)


def _write_mrc(path, data, voxel_size=None):
    with mrcfile.new(path, overwrite=True) as mrc:
        mrc.set_data(data)
        if voxel_size is not None:
            mrc.voxel_size = voxel_size
    return path


def test_mrc_round_trip_keeps_pixels_and_pixel_size(tmp_path, image):
    out = write_micrograph(tmp_path / "mic_01.mrc", image, pixel_size=1.34)
    mic = read_micrograph(out)
    assert mic.name == "mic_01"
    assert mic.path == out
    assert mic.image.dtype == np.float32 and mic.shape == (48, 64)
    np.testing.assert_array_equal(mic.image, image)
    assert mic.pixel_size == 1.34  # float32 header noise removed
    assert [p.name for p in tmp_path.iterdir()] == ["mic_01.mrc"]  # no temp file left


def test_write_micrograph_takes_pixel_size_from_micrograph(tmp_path, image):
    write_micrograph(tmp_path / "b.mrc", Micrograph(image, "a", 2.5))
    assert read_micrograph(tmp_path / "b.mrc").pixel_size == pytest.approx(2.5)


def test_zero_voxel_size_means_unknown(tmp_path, image):
    mic = read_micrograph(_write_mrc(tmp_path / "a.mrc", image))
    assert mic.pixel_size is None


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.uint16, np.float16, np.float32])
def test_mrc_modes_read_as_float32(tmp_path, dtype):
    data = (np.arange(30).reshape(5, 6) - 10).astype(dtype) if dtype != np.uint16 else \
        np.arange(30, dtype=dtype).reshape(5, 6) * 1000
    mic = read_micrograph(_write_mrc(tmp_path / "m.mrc", data))
    assert mic.image.dtype == np.float32
    np.testing.assert_array_equal(mic.image, data.astype(np.float32))


def test_fei_extended_header_is_skipped_and_gives_pixel_size(tmp_path, image):
    path = tmp_path / "fei.mrc"
    with mrcfile.new(path) as mrc:
        mrc.set_data(image)
        ext = np.zeros(1, dtype=mrcfile.dtypes.get_ext_header_dtype(b"FEI1"))
        ext["Metadata size"] = ext.dtype.itemsize
        ext["Pixel size X"] = 1.06e-10  # metres
        mrc.set_extended_header(ext)
        mrc.header.exttyp = b"FEI1"
    mic = read_micrograph(path)
    np.testing.assert_array_equal(mic.image, image)
    assert mic.pixel_size == pytest.approx(1.06)


def test_single_section_3d_mrc_is_a_micrograph(tmp_path, image):
    mic = read_micrograph(_write_mrc(tmp_path / "one.mrcs", image[None]))
    assert mic.shape == image.shape and mic.name == "one"


def test_tiff_png_jpeg(tmp_path, image):
    tifffile.imwrite(tmp_path / "t.tif", image)
    np.testing.assert_array_equal(read_micrograph(tmp_path / "t.tif").image, image)

    u16 = (np.arange(48 * 64) % 4000).astype(np.uint16).reshape(48, 64)
    Image.fromarray(u16).save(tmp_path / "p16.png")
    np.testing.assert_array_equal(read_micrograph(tmp_path / "p16.png").image, u16.astype(np.float32))

    gray = (np.arange(48 * 64) % 256).astype(np.uint8).reshape(48, 64)
    Image.fromarray(np.stack([gray] * 3, axis=-1)).save(tmp_path / "rgb.png")
    np.testing.assert_array_equal(read_micrograph(tmp_path / "rgb.png").image, gray.astype(np.float32))

    smooth = np.tile(np.linspace(0, 255, 64), (48, 1)).astype(np.uint8)
    Image.fromarray(smooth).save(tmp_path / "j.jpg", quality=95)
    jpg = read_micrograph(tmp_path / "j.jpg")
    assert jpg.shape == (48, 64) and jpg.pixel_size is None
    assert np.abs(jpg.image - smooth).max() < 8  # lossy, but the same picture


def test_write_tiff_and_refuse_png(tmp_path, image):
    write_micrograph(tmp_path / "o.tiff", image)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "o.tiff"), image)
    with pytest.raises(InputError, match="o.png"):
        write_micrograph(tmp_path / "o.png", image)


def test_list_and_iter_micrographs(tmp_path, image):
    for name in ["b.mrc", "a.tif", "c.png"]:
        (tmp_path / name).touch()
    (tmp_path / "notes.txt").touch()
    (tmp_path / ".a.tmp.mrc").touch()  # temp file of an unfinished write
    found = list_micrographs(tmp_path)
    assert [p.name for p in found] == ["a.tif", "b.mrc", "c.png"]
    assert list_micrographs([tmp_path / "c.png", tmp_path / "b.mrc"]) == [tmp_path / "b.mrc", tmp_path / "c.png"]

    write_micrograph(tmp_path / "x1.mrc", image)
    write_micrograph(tmp_path / "x2.mrc", image * 2)
    mics = list(iter_micrographs([tmp_path / "x1.mrc", tmp_path / "x2.mrc"]))
    assert [m.name for m in mics] == ["x1", "x2"]
    np.testing.assert_array_equal(mics[1].image, image * 2)


def test_list_micrographs_errors(tmp_path):
    with pytest.raises(InputError, match="no micrographs found"):
        list_micrographs(tmp_path)
    with pytest.raises(InputError, match="missing.mrc: file not found"):
        list_micrographs([tmp_path / "missing.mrc"])
    (tmp_path / "x.txt").touch()
    with pytest.raises(InputError, match="not a micrograph file"):
        list_micrographs([tmp_path / "x.txt"])


# --- bad input: each names the file and the problem ------------------------------------------

def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"nope\.mrc: file not found") as err:
        read_micrograph(tmp_path / "nope.mrc")
    assert err.value.path == str(tmp_path / "nope.mrc")


@pytest.mark.parametrize("content", [b"hello world\n" * 200, b"hi", bytes(range(256)) * 20])
def test_non_mrc_file_named_mrc(tmp_path, content):
    path = tmp_path / "fake.mrc"
    path.write_bytes(content)
    with pytest.raises(InputError, match=r"fake\.mrc: not a valid MRC file") as err:
        read_micrograph(path)
    assert "\n" not in str(err.value)


def test_truncated_mrc(tmp_path, image):
    path = write_micrograph(tmp_path / "t.mrc", image)
    data = path.read_bytes()
    path.write_bytes(data[:-100])
    with pytest.raises(InputError, match=r"t\.mrc: .*truncated"):
        read_micrograph(path)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # mrcfile header stats of NaN/inf
@pytest.mark.parametrize("bad, what", [(np.nan, "2 NaN and 0 inf"), (np.inf, "0 NaN and 2 inf")])
def test_nan_inf_pixels(tmp_path, image, bad, what):
    image[3, 4] = image[10, 2] = bad
    path = _write_mrc(tmp_path / "n.mrc", image)
    with pytest.raises(InputError, match=f"n.mrc: contains {what} pixels"):
        read_micrograph(path)
    tifffile.imwrite(tmp_path / "n.tif", image)
    with pytest.raises(InputError, match="n.tif: contains"):
        read_micrograph(tmp_path / "n.tif")


def test_3d_stack_is_not_a_micrograph(tmp_path, image):
    path = _write_mrc(tmp_path / "stack.mrcs", np.stack([image] * 3))
    with pytest.raises(InputError, match=r"stack\.mrcs: is a 3D stack of 3 sections"):
        read_micrograph(path)
    tifffile.imwrite(tmp_path / "stack.tif", np.stack([image] * 5))
    with pytest.raises(InputError, match=r"stack\.tif: is a 3D stack of 5 pages"):
        read_micrograph(tmp_path / "stack.tif")


def test_corrupt_png_and_unknown_suffix(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not a png at all")
    with pytest.raises(InputError, match=r"bad\.png: not a readable image"):
        read_micrograph(tmp_path / "bad.png")
    (tmp_path / "bad.xyz").write_bytes(b"abc")
    with pytest.raises(InputError, match="unsupported micrograph format .xyz"):
        read_micrograph(tmp_path / "bad.xyz")


def test_read_micrograph_shape_from_headers(tmp_path, image):
    from fewlabel.io.micrographs import read_micrograph_shape

    write_micrograph(tmp_path / "a.mrc", image)
    tifffile.imwrite(tmp_path / "b.tif", image)
    Image.fromarray((image * 0).astype(np.uint8)).save(tmp_path / "c.png")
    for name in ["a.mrc", "b.tif", "c.png"]:
        assert read_micrograph_shape(tmp_path / name) == image.shape
    _write_mrc(tmp_path / "s.mrcs", np.stack([image] * 2))
    with pytest.raises(InputError, match="3D stack of 2 sections"):
        read_micrograph_shape(tmp_path / "s.mrcs")
    (tmp_path / "fake.mrc").write_text("not an mrc" * 200)
    with pytest.raises(InputError, match="fake.mrc: not a valid MRC file"):
        read_micrograph_shape(tmp_path / "fake.mrc")
    with pytest.raises(InputError, match="file not found"):
        read_micrograph_shape(tmp_path / "gone.tif")


def test_real_empiar10017_jpeg_and_its_picks_fit_inside():
    from fewlabel.io.micrographs import read_micrograph_shape
    from fewlabel.io.picks import check_picks_in_bounds, read_picks
    from tests.conftest import shared_path

    folder = shared_path("empiar10017_betagal_micrographs")
    jpgs = list_micrographs(folder / "micrographs")
    mic = read_micrograph(jpgs[0])
    with Image.open(jpgs[0]) as img:
        np.testing.assert_array_equal(mic.image, np.asarray(img, dtype=np.float32))
    assert mic.name == jpgs[0].stem and mic.pixel_size is None
    shapes = {p.stem: read_micrograph_shape(p) for p in jpgs}
    assert shapes[mic.name] == mic.shape
    picks = read_picks(folder / "coords_groundtruth" / "derived_from_masks.tsv")
    check_picks_in_bounds(picks, shapes, source="derived_from_masks.tsv")  # raises if any is outside
    assert set(picks["image_name"]) <= set(shapes)
