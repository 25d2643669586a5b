"""cryoSPARC particle .cs files (NumPy structured arrays) read as picks; writing them is refused."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from fewlabel.errors import InputError
from fewlabel.io.micrographs import write_micrograph
from fewlabel.io.picks import match_to_micrographs, read_picks, write_picks
from tests.pick.blobdata import blob_micrographs

UID = "012345678901234567890"
CS_DTYPE = [("uid", "<u8"), ("location/micrograph_uid", "<u8"), ("location/exp_group_id", "<u4"),
            ("location/micrograph_path", "S100"), ("location/micrograph_shape", "<u4", (2,)),
            ("location/center_x_frac", "<f4"), ("location/center_y_frac", "<f4"),
            ("pick_stats/ncc_score", "<f4")]


def _cs_array(paths, shapes, xfrac, yfrac, score=None, dtype=CS_DTYPE):
    """A structured array like cryoSPARC's picked_particles.cs (fields absent from ``dtype`` are skipped)."""
    arr = np.zeros(len(paths), dtype=dtype)
    names = arr.dtype.names
    arr["uid"] = np.arange(len(paths)) + 10**18
    arr["location/micrograph_path"] = [p.encode() for p in paths]
    arr["location/micrograph_shape"] = shapes
    arr["location/center_x_frac"] = xfrac
    arr["location/center_y_frac"] = yfrac
    if "pick_stats/ncc_score" in names:
        arr["pick_stats/ncc_score"] = score if score is not None else 0.0
    return arr


def _save_cs(path, arr):
    with open(path, "wb") as f:  # np.save on a path would append .npy
        np.save(f, arr)
    return path


@pytest.fixture
def cs_file(tmp_path):
    """Two micrographs of 3838 rows x 3710 cols (non-square: swapped axes give other numbers)."""
    paths = [f"J5/motioncorrected/{UID}_FoilHole_1_Data_2_patch_aligned_doseweighted.mrc",
             f"J5/motioncorrected/{UID}_FoilHole_1_Data_2_patch_aligned_doseweighted.mrc",
             "J2/imported/FoilHole_3_Data_4.mrc"]
    arr = _cs_array(paths, [[3838, 3710]] * 3, [0.25, 0.5, 0.75], [0.125, 0.5, 0.0625], score=[0.5, 0.25, 1.5])
    return _save_cs(tmp_path / "J7_picked_particles.cs", arr)


def test_exact_pixel_coordinates_names_and_scores(cs_file):
    picks = read_picks(cs_file)
    assert picks["image_name"].tolist() == ["FoilHole_1_Data_2_patch_aligned_doseweighted"] * 2 + \
        ["FoilHole_3_Data_4"]
    assert picks["x_coord"].tolist() == [0.25 * 3710, 0.5 * 3710, 0.75 * 3710]  # x = frac * cols
    assert picks["y_coord"].tolist() == [0.125 * 3838, 0.5 * 3838, 0.0625 * 3838]  # y = frac * rows, no flip
    assert picks["score"].tolist() == [0.5, 0.25, 1.5]
    assert picks["x_coord"].dtype == np.float64


def test_flip_y(cs_file):
    picks = read_picks(cs_file, flip_y=True)
    assert picks["y_coord"].tolist() == [3838 - 0.125 * 3838, 3838 - 0.5 * 3838, 3838 - 0.0625 * 3838]
    assert picks["x_coord"].tolist() == read_picks(cs_file)["x_coord"].tolist()


def test_flip_y_is_refused_for_other_formats(tmp_path):
    path = write_picks(pd.DataFrame({"image_name": ["m"], "x_coord": [1.0], "y_coord": [2.0]}), tmp_path / "p.txt")
    with pytest.raises(ValueError, match="cryoSPARC"):
        read_picks(path, flip_y=True)


def test_without_score_field(tmp_path):
    dtype = [d for d in CS_DTYPE if d[0] != "pick_stats/ncc_score"]  # Manual Picker output has no ncc score
    arr = _cs_array(["J3/mic_a.mrc"], [[100, 200]], [0.5], [0.25], dtype=dtype)
    picks = read_picks(_save_cs(tmp_path / "manual.cs", arr))
    assert list(picks.columns) == ["image_name", "x_coord", "y_coord"]
    assert picks.iloc[0].tolist() == ["mic_a", 100.0, 25.0]


@pytest.mark.parametrize("path, name", [
    (f"J5/motioncorrected/{UID}_mic_001.mrc", "mic_001"),
    (f"{UID}_{UID}_mic.mrc", f"{UID}_mic"),  # only one prefix is cryoSPARC's
    ("J5/motioncorrected/01234567890123456789_mic.mrc", "01234567890123456789_mic"),  # 20 digits: kept
    ("J5/motioncorrected/0123456789012345678901_mic.mrc", "0123456789012345678901_mic"),  # 22 digits: kept
    ("J5/movies/mic_001_X.mrc", "mic_001_X"),
])
def test_uid_prefix_stripped_exactly(tmp_path, path, name):
    arr = _cs_array([path], [[64, 64]], [0.5], [0.5])
    assert read_picks(_save_cs(tmp_path / "p.cs", arr))["image_name"].tolist() == [name]


def test_particle_file_without_location_fields(tmp_path):
    dtype = [("uid", "<u8"), ("blob/path", "S100"), ("blob/idx", "<u4"), ("blob/shape", "<u4", (2,))]
    path = _save_cs(tmp_path / "J9_particles.cs", np.zeros(3, dtype=dtype))
    with pytest.raises(InputError) as err:
        read_picks(path)
    msg = err.value.message
    assert str(path) in msg and "location/micrograph_path" in msg and "location/center_y_frac" in msg
    assert "blob/path" in msg and "\n" not in msg


@pytest.mark.parametrize("content", [
    b"\x93NUMPY\x01\x00garbage",                      # truncated header
    b"image_name\tx_coord\ty_coord\nm\t1\t2\n",       # a text table named .cs
    b"",                                              # empty
])
def test_corrupt_file(tmp_path, content):
    path = tmp_path / "bad.cs"
    path.write_bytes(content)
    with pytest.raises(InputError, match="not a readable cryoSPARC .cs file") as err:
        read_picks(path)
    assert str(path) in err.value.message and "\n" not in err.value.message


def test_pickled_objects_and_plain_arrays_are_refused(tmp_path):
    pickled = tmp_path / "obj.cs"
    with open(pickled, "wb") as f:
        np.save(f, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="Python objects"):
        read_picks(pickled)
    raw = tmp_path / "raw.cs"
    raw.write_bytes(pickle.dumps({"location/center_x_frac": [0.5]}))
    with pytest.raises(InputError, match="not a readable cryoSPARC"):
        read_picks(raw)
    plain = _save_cs(tmp_path / "plain.cs", np.zeros((3, 2), np.float32))
    with pytest.raises(InputError, match="structured array"):
        read_picks(plain)


def test_zero_micrograph_shape_is_an_error(tmp_path):
    arr = _cs_array(["J5/a.mrc", "J5/b.mrc"], [[64, 64], [0, 0]], [0.5, 0.5], [0.5, 0.5])
    with pytest.raises(InputError, match=r"micrograph_shape is \[0, 0\] for 1 pick\(s\) \(row 2\)"):
        read_picks(_save_cs(tmp_path / "p.cs", arr))


def test_writing_cs_is_refused(tmp_path, cs_file):
    picks = read_picks(cs_file)
    with pytest.raises(InputError, match="Import Particles"):
        write_picks(picks, tmp_path / "out.cs")
    with pytest.raises(InputError, match="write .star"):
        write_picks(picks, tmp_path / "folder/", fmt="cs")
    assert not (tmp_path / "out.cs").exists() and not (tmp_path / "folder").exists()


def test_matching_ignores_uid_prefix_of_micrograph_files(cs_file):
    mics = [f"{UID}_FoilHole_1_Data_2_patch_aligned_doseweighted.mrc", "FoilHole_3_Data_4.mrc"]
    matched = match_to_micrographs(read_picks(cs_file), mics)
    assert matched["image_name"].tolist() == [f"{UID}_FoilHole_1_Data_2_patch_aligned_doseweighted"] * 2 + \
        ["FoilHole_3_Data_4"]
    with pytest.raises(InputError, match="not there: FoilHole_3_Data_4"):
        match_to_micrographs(read_picks(cs_file), mics[:1])


# --- through the CLI ---------------------------------------------------------------------------

def test_convert_cs_to_star_round_trip(cli_runner, tmp_path, cs_file):
    out = tmp_path / "picks.star"
    code, stdout, err = cli_runner("convert", "picks", cs_file, out)
    assert code == 0, err
    assert "3 picks on 2 micrograph(s)" in stdout
    pd.testing.assert_frame_equal(read_picks(out), read_picks(cs_file))
    assert "FoilHole_3_Data_4.mrc" in out.read_text()
    code, _, err = cli_runner("convert", "picks", cs_file, tmp_path / "flipped.txt", "--flip-y")
    assert code == 0, err
    assert read_picks(tmp_path / "flipped.txt")["y_coord"].tolist() == read_picks(cs_file, flip_y=True)[
        "y_coord"].tolist()


def test_convert_cli_errors_are_one_line(cli_runner, tmp_path, cs_file):
    star = write_picks(read_picks(cs_file), tmp_path / "in.star")
    for args, part in [((cs_file, tmp_path / "o.cs"), "Import Particles"),
                       ((star, tmp_path / "o.txt", "--flip-y"), "--flip-y applies only to cryoSPARC")]:
        code, _, err = cli_runner("convert", "picks", *args)
        assert code == 2 and err.startswith("error: ") and part in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.cs").exists() and not (tmp_path / "o.txt").exists()


def test_convert_checks_bounds_against_uid_prefixed_micrographs(cli_runner, tmp_path):
    mics = tmp_path / "motioncorrected"
    write_micrograph(mics / f"{UID}_mic_a.mrc", np.zeros((40, 60), np.float32))  # 40 rows x 60 cols
    arr = _cs_array([f"J5/motioncorrected/{UID}_mic_a.mrc"], [[40, 60]], [0.75], [0.5])
    cs = _save_cs(tmp_path / "p.cs", arr)
    code, _, err = cli_runner("convert", "picks", cs, tmp_path / "ok.txt", "--micrographs", mics)
    assert code == 0, err
    assert read_picks(tmp_path / "ok.txt").iloc[0].tolist()[:3] == ["mic_a", 45.0, 20.0]
    # the same picks on a micrograph with rows and columns swapped lie outside it (x = 45 >= 40 cols)
    write_micrograph(mics / f"{UID}_mic_a.mrc", np.zeros((60, 40), np.float32))
    code, _, err = cli_runner("convert", "picks", cs, tmp_path / "bad.txt", "--micrographs", mics)
    assert code == 2 and "lie outside" in err


def test_pick_train_reads_cs_labels(cli_runner, tmp_path):
    """`pick train --picks X.cs` on micrographs named as cryoSPARC writes them (uid prefix)."""
    images, names, truth = blob_micrographs(3, size=64, per_image=6, seed=3, prefix="FoilHole_")
    mics = tmp_path / "mics"
    for im, name in zip(images, names):
        write_micrograph(mics / f"{UID}_{name}.mrc", im)
    labeled = truth.groupby("image_name").head(3)
    arr = _cs_array([f"J5/motioncorrected/{UID}_{n}.mrc" for n in labeled["image_name"]],
                    [[64, 64]] * len(labeled), labeled["x_coord"] / 64, labeled["y_coord"] / 64)
    cs = _save_cs(tmp_path / "J8_picked_particles.cs", arr)
    model = tmp_path / "m.pt"
    code, out, err = cli_runner("pick", "train", "--micrographs", mics, "--picks", cs, "--radius", "3",
                                "--expected", "6", "--downsample", "1", "--model", "conv31", "--no-pretrained",
                                "--epochs", "1", "--steps-per-epoch", "2", "--device", "cpu", "-o", model)
    assert code == 0, err
    assert model.exists() and f"{len(labeled)} labeled picks" in out
