"""Particle stacks: .mrcs + .star round trip, the real RELION stacks, bad input."""

from __future__ import annotations

import mrcfile
import numpy as np
import pandas as pd
import pytest
import starfile
from pandas.testing import assert_frame_equal

from fewlabel.errors import InputError
from fewlabel.io.stacks import read_stack, write_stack
from tests.conftest import shared_path


@pytest.fixture
def stack():
    rng = np.random.default_rng(5)
    images = rng.normal(size=(6, 24, 24)).astype(np.float32)
    meta = pd.DataFrame({
        "image_name": ["mic_1", "mic_1", "mic_2", "mic_2", "mic_2", "0007"],
        "x_coord": rng.integers(0, 4000, 6) + 0.25,
        "y_coord": rng.integers(0, 4000, 6) / 3,
        "score": rng.normal(size=6),
        "label": [1, 0, 0, 1, 1, 0],
    })
    meta["image_name"] = meta["image_name"].astype(str)
    return images, meta


def test_write_then_read_round_trips(tmp_path, stack):
    images, meta = stack
    out = write_stack(tmp_path / "parts.mrcs", images, meta, pixel_size=2.125)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["parts.mrcs", "parts.star"]
    for source in (out, tmp_path / "parts.star"):
        got_images, got_meta, apix = read_stack(source)
        np.testing.assert_array_equal(got_images, images)
        assert_frame_equal(got_meta, meta)
        assert apix == 2.125
    star = starfile.read(tmp_path / "parts.star")
    assert star["particles"]["rlnImageName"].iloc[2] == "000003@parts.mrcs"
    assert star["particles"]["rlnMicrographName"].iloc[0] == "mic_1.mrc"
    assert star["optics"]["rlnImageSize"].iloc[0] == 24
    with mrcfile.open(out) as mrc:
        assert mrc.is_image_stack() and mrc.voxel_size.x == pytest.approx(2.125)


def test_write_stack_without_metadata_or_pixel_size(tmp_path, stack):
    images, _ = stack
    write_stack(tmp_path / "bare.mrcs", images)
    got, meta, apix = read_stack(tmp_path / "bare.star")
    np.testing.assert_array_equal(got, images)
    assert len(meta) == 6 and apix is None


def test_write_stack_rejects_bad_shapes(tmp_path, stack):
    images, meta = stack
    with pytest.raises(ValueError, match=r"\[n, box, box\]"):
        write_stack(tmp_path / "x.mrcs", images[:, :, :20], meta)
    with pytest.raises(ValueError, match="metadata has 5 rows"):
        write_stack(tmp_path / "x.mrcs", images, meta.iloc[:5])
    assert list(tmp_path.iterdir()) == []


def test_star_with_shuffled_references_gathers_the_right_images(tmp_path, stack):
    images, _ = stack
    write_stack(tmp_path / "a.mrcs", images)
    order = [4, 0, 5]
    starfile.write(pd.DataFrame({"rlnImageName": [f"{i + 1}@a.mrcs" for i in order]}), tmp_path / "sub.star")
    got, _, _ = read_stack(tmp_path / "sub.star")
    np.testing.assert_array_equal(got, images[order])


@pytest.mark.filterwarnings("ignore:.*(Map ID|machine stamp):RuntimeWarning")
def test_real_relion31_stack():
    star_path = shared_path("cryoem_particle_stacks", "real", "relion31.star")
    images, meta, apix = read_stack(star_path)
    raw = starfile.read(star_path)
    with mrcfile.open(star_path.with_suffix(".mrcs"), permissive=True) as mrc:
        np.testing.assert_array_equal(images, mrc.data)
    assert apix == raw["optics"]["rlnImagePixelSize"].iloc[0]  # STAR, not the header's 1.0
    np.testing.assert_array_equal(meta["x_coord"], raw["particles"]["rlnCoordinateX"])
    assert "rlnImageName" not in meta.columns and "rlnOpticsGroup" not in meta.columns


def test_real_relion30_stacks():
    star_path = shared_path("cryoem_particle_stacks", "real", "sample_relion_data.star")
    images, meta, apix = read_stack(star_path)
    raw = starfile.read(star_path)
    assert images.shape[0] == len(raw) and images.dtype == np.float32
    expected = raw["rlnDetectorPixelSize"].iloc[0] * 1e4 / raw["rlnMagnification"].iloc[0]
    assert apix == pytest.approx(expected)
    np.testing.assert_array_equal(meta["rlnClassNumber"], raw["rlnClassNumber"])

    mrc_stack = shared_path("cryoem_particle_stacks", "real", "empiar_10076_7.mrc")  # .mrc + same-stem .star
    images, meta, _ = read_stack(mrc_stack)
    assert images.shape[0] == len(meta) == len(starfile.read(mrc_stack.with_suffix(".star")))


@pytest.mark.filterwarnings("ignore:.*(Map ID|machine stamp):RuntimeWarning")
def test_real_stack_without_star_and_without_map_id():
    path = shared_path("cryoem_particle_stacks", "synthetic_known_views", "toy_1000proj.mrcs")
    images, meta, _ = read_stack(path)
    with mrcfile.open(path, permissive=True) as mrc:
        assert images.shape == mrc.data.shape
    assert len(meta) == len(images)


# --- bad input ------------------------------------------------------------------------------

def test_missing_and_truncated_stacks(tmp_path, stack):
    images, _ = stack
    with pytest.raises(InputError, match="file not found"):
        read_stack(tmp_path / "none.mrcs")
    write_stack(tmp_path / "t.mrcs", images)
    data = (tmp_path / "t.mrcs").read_bytes()
    (tmp_path / "t.mrcs").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"t\.mrcs: truncated"):
        read_stack(tmp_path / "t.star")


def test_star_referencing_missing_stack_or_image(tmp_path, stack):
    images, _ = stack
    write_stack(tmp_path / "a.mrcs", images)
    starfile.write(pd.DataFrame({"rlnImageName": ["1@gone.mrcs"]}), tmp_path / "gone.star")
    with pytest.raises(InputError, match=r"gone\.star: image stack gone\.mrcs .* not found"):
        read_stack(tmp_path / "gone.star")
    starfile.write(pd.DataFrame({"rlnImageName": ["9@a.mrcs"]}), tmp_path / "high.star")
    with pytest.raises(InputError, match=r"high\.star: asks for image 9 of a\.mrcs, which holds 6"):
        read_stack(tmp_path / "high.star")
    starfile.write(pd.DataFrame({"rlnCoordinateX": [1.0]}), tmp_path / "coords.star")
    with pytest.raises(InputError, match="missing column rlnImageName"):
        read_stack(tmp_path / "coords.star")


def test_non_square_and_nan_stacks(tmp_path):
    with mrcfile.new(tmp_path / "rect.mrcs") as mrc:
        mrc.set_data(np.zeros((2, 8, 10), np.float32))
    with pytest.raises(InputError, match="must be square"):
        read_stack(tmp_path / "rect.mrcs")
    bad = np.zeros((2, 8, 8), np.float32)
    bad[1, 2, 3] = np.nan
    with pytest.warns(RuntimeWarning), mrcfile.new(tmp_path / "nan.mrcs") as mrc:
        mrc.set_data(bad)
    with pytest.raises(InputError, match="1 NaN/inf pixels"):
        read_stack(tmp_path / "nan.mrcs")
