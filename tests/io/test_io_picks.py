"""Picks tables: exact round trips between every pair of formats, real RELION/Topaz files, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import starfile
from pandas.testing import assert_frame_equal

from fewlabel.errors import InputError
from fewlabel.io.picks import (
    check_picks_in_bounds,
    empty_picks,
    match_to_micrographs,
    normalize_image_name,
    read_picks,
    write_picks,
)
from tests.conftest import shared_path

# format name -> (file name, write_picks keyword arguments)
FORMATS = {
    "tsv": ("picks.txt", {}),
    "csv": ("picks.csv", {}),
    "star3.0": ("picks.star", {"star_version": "3.0"}),
    "star3.1": ("picks.star", {"star_version": "3.1"}),
    "box": ("picks.box", {"box_size": 64}),
}


def _table(rng: np.random.Generator, names: list[str], n: int, score: bool) -> pd.DataFrame:
    """Random picks; box needs half-pixel coordinates to be exact, so all tables use them."""
    df = pd.DataFrame({
        "image_name": rng.choice(names, size=n),
        "x_coord": rng.integers(0, 8000, size=n) / 2,
        "y_coord": rng.integers(0, 8000, size=n) / 2,
    })
    if score:
        df["score"] = rng.normal(size=n) * 10.0 ** rng.integers(-8, 4, size=n)
    return df.astype(empty_picks(score).dtypes.to_dict())


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


@pytest.mark.parametrize("src, dst", list(itertools.product(FORMATS, FORMATS)))
def test_round_trip_every_pair_of_formats(tmp_path, rng, src, dst):
    """src -> dst -> back gives the very same table (box: one micrograph, no score)."""
    box_involved = "box" in (src, dst)
    names = ["mic_0001"] if box_involved else ["mic_0001", "14sep05c_00024sq", "0042"]
    original = _table(rng, names, 37, score=not box_involved)
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    file_a = tmp_path / "a" / FORMATS[src][0]
    file_b = tmp_path / "b" / FORMATS[dst][0]
    write_picks(original, file_a, **FORMATS[src][1])
    via_a = read_picks(file_a, image_name="mic_0001")
    assert_frame_equal(via_a, original)
    write_picks(via_a, file_b, **FORMATS[dst][1])
    assert_frame_equal(read_picks(file_b, image_name="mic_0001"), original)


@pytest.mark.parametrize("fmt", ["tsv", "csv", "star"])
def test_empty_table_round_trips(tmp_path, fmt):
    path = tmp_path / f"p.{ {'tsv': 'txt'}.get(fmt, fmt) }"
    write_picks(empty_picks(score=True), path)
    assert_frame_equal(read_picks(path), empty_picks(score=True))


def test_empty_box_file_is_no_picks(tmp_path):
    (tmp_path / "m.box").write_text("")
    assert_frame_equal(read_picks(tmp_path / "m.box"), empty_picks())


def test_numeric_looking_names_stay_strings_and_extensions_are_stripped(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text("image_name\tx_coord\ty_coord\n0001.mrc\t1\t2\nraw/0002.tiff\t3\t4\nx.y.v2\t5\t6\n")
    picks = read_picks(path)
    assert picks["image_name"].tolist() == ["0001", "0002", "x.y.v2"]
    assert picks["x_coord"].dtype == np.float64


def test_normalize_image_name():
    assert normalize_image_name("Micrographs/mic_1.mrc") == "mic_1"
    assert normalize_image_name("mic_1.JPG") == "mic_1"
    assert normalize_image_name("ribo_bin8_1.82A") == "ribo_bin8_1.82A"  # a dot is not an extension


def test_box_file_geometry_and_image_name(tmp_path):
    """EMAN .box stores the lower-left corner: centre = corner + size/2, no y flip."""
    path = tmp_path / "mic_7.box"
    path.write_text("100\t200\t64\t64\n10.5\t0\t32\t32\t-3\n")  # EMAN1 5th column ignored
    picks = read_picks(path)
    assert picks["image_name"].tolist() == ["mic_7", "mic_7"]
    assert picks["x_coord"].tolist() == [132.0, 26.5]
    assert picks["y_coord"].tolist() == [232.0, 16.0]
    assert read_picks(path, image_name="other.mrc")["image_name"].iloc[0] == "other"
    write_picks(picks, tmp_path / "out.box", box_size=20)
    assert (tmp_path / "out.box").read_text().splitlines()[0] == "122\t222\t20\t20"


def test_folder_of_per_micrograph_files(tmp_path, rng):
    table = _table(rng, ["m1", "m2", "m3"], 30, score=False)
    table = table.sort_values("image_name", kind="stable").reset_index(drop=True)
    write_picks(table, tmp_path / "boxes", fmt="box", box_size=50)
    assert sorted(p.name for p in (tmp_path / "boxes").iterdir()) == ["m1.box", "m2.box", "m3.box"]
    assert_frame_equal(read_picks(tmp_path / "boxes"), table)


def test_star_fom_unset_is_no_score(tmp_path):
    path = tmp_path / "mic_autopick.star"
    starfile.write(pd.DataFrame({"rlnCoordinateX": [1.0, 2.0], "rlnCoordinateY": [3.0, 4.0],
                                 "rlnAutopickFigureOfMerit": [-999.0, -999.0]}), path)
    picks = read_picks(path, image_name="mic")
    assert list(picks.columns) == ["image_name", "x_coord", "y_coord"]
    assert picks["image_name"].tolist() == ["mic", "mic"]


# --- real files -----------------------------------------------------------------------------

def test_empiar10025_star_and_topaz_txt_agree():
    folder = shared_path("empiar10025_t20s_coordinates")
    star = read_picks(folder / "particles.star")
    txt = read_picks(folder / "particles.txt")
    assert len(star) == len(pd.read_csv(folder / "particles.txt", sep="\t"))
    assert_frame_equal(star, txt)
    raw = starfile.read(folder / "particles.star")
    np.testing.assert_array_equal(star["x_coord"], raw["rlnCoordinateX"])


def test_empiar10025_survives_every_format(tmp_path):
    original = read_picks(shared_path("empiar10025_t20s_coordinates", "particles.star"))
    original = original.sort_values("image_name", kind="stable").reset_index(drop=True)
    table = original
    for target, kwargs in [("p.txt", {}), ("p.csv", {}), ("p.star", {"star_version": "3.0"}),
                           ("p2.star", {}), ("boxes", {"fmt": "box", "box_size": 100})]:
        write_picks(table, tmp_path / target, **kwargs)
        table = read_picks(tmp_path / target)
    assert table["image_name"].nunique() == 30
    assert_frame_equal(table, original)


def test_relion31_particles_with_optics_block():
    path = shared_path("cryoem_particle_stacks", "real", "relion31.star")
    raw = starfile.read(path)
    picks = read_picks(path)
    assert set(raw) == {"optics", "particles"}
    assert len(picks) == len(raw["particles"])
    np.testing.assert_array_equal(picks["y_coord"], raw["particles"]["rlnCoordinateY"])
    expected = [name.split("/")[-1].removesuffix(".mrc") for name in raw["particles"]["rlnMicrographName"]]
    assert picks["image_name"].tolist() == expected


def test_relion_star_with_fom_scores():
    path = shared_path("cryoem_particle_stacks", "real", "sample_relion_data.star")
    raw = starfile.read(path)
    picks = read_picks(path)
    np.testing.assert_array_equal(picks["score"], raw["rlnAutopickFigureOfMerit"])


def test_empiar10017_picker_star_files():
    folder = shared_path("empiar10017_betagal_micrographs", "coords_pickers", "crYOLO")
    one = sorted(folder.glob("*.star"))[0]
    picks = read_picks(one)
    assert len(picks) == len(starfile.read(one)) > 0
    assert set(picks["image_name"]) == {one.stem}  # no rlnMicrographName: name from the file
    assert "score" not in picks.columns  # FOM is RELION's unset -999
    everything = read_picks(folder)
    assert everything["image_name"].nunique() == len(list(folder.glob("*.star")))


def test_empiar10017_groundtruth_csv_and_star_agree():
    folder = shared_path("empiar10017_betagal_micrographs", "coords_groundtruth")
    csv = read_picks(folder / "Falcon_2012_06_12-14_33_35_0.csv")  # X-Coordinate, Y-Coordinate
    star = read_picks(folder / "Falcon_2012_06_12-14_33_35_0.star")
    key = ["x_coord", "y_coord"]
    assert_frame_equal(csv.sort_values(key).reset_index(drop=True),
                       star.sort_values(key).reset_index(drop=True))


# --- matching against micrographs -----------------------------------------------------------

def test_match_to_micrographs_normalises_names():
    picks = pd.DataFrame({"image_name": ["a.mrc", "b", "a"], "x_coord": [1.0, 2, 3], "y_coord": [1.0, 2, 3]})
    matched = match_to_micrographs(picks, ["data/a.mrc", "b.tif"], source="picks.txt")
    assert matched["image_name"].tolist() == ["a", "b", "a"]
    with pytest.raises(InputError, match=r"picks\.txt: 2 pick\(s\) name micrograph\(s\) that are not there: a"):
        match_to_micrographs(picks, ["b"], source="picks.txt")


def test_check_picks_in_bounds():
    picks = pd.DataFrame({"image_name": ["a", "a"], "x_coord": [0.0, 99.5], "y_coord": [49.0, 0.0]})
    check_picks_in_bounds(picks, {"a.mrc": (50, 100)}, source="p.txt")  # inside: no error
    with pytest.raises(InputError, match=r"p\.txt: 1 pick\(s\) lie outside .* x=99.5, y=0 outside 80 x 50"):
        check_picks_in_bounds(picks, {"a": (50, 80)}, source="p.txt")
    negative = picks.assign(y_coord=[-1.0, 3.0])
    with pytest.raises(InputError, match="outside"):
        check_picks_in_bounds(negative, {"a": (50, 100)}, source="p.txt")


# --- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("name, text, problem", [
    ("p.txt", "image_name\tx_coord\nm\t1\n", r"missing column\(s\) y_coord"),
    ("p.csv", "image_name,xx,yy\nm,1,2\n", r"missing column\(s\) x_coord, y_coord"),
    ("p.star", "data_\nloop_\n_rlnMicrographName #1\n_rlnCoordinateX #2\nm.mrc 1\n", "rlnCoordinateY"),
    ("p.box", "1 2 3\n", "missing columns"),
    ("p.txt", "image_name\tx_coord\ty_coord\nm\t1\t2\nm\tabc\t3\n", r"column x_coord: cannot read 'abc'.*row 2"),
    ("p.csv", "image_name,x_coord,y_coord\nm,1,2e\n", r"column y_coord: cannot read '2e'"),
    ("p.star", "data_\nloop_\n_rlnCoordinateX #1\n_rlnCoordinateY #2\n1 2\n3 n/a\n", "cannot read 'n/a'"),
    ("p.box", "1 2 64 64\n1 two 64 64\n", r"y \(column 2\): cannot read 'two'"),
    ("p.txt", "image_name\tx_coord\ty_coord\nm\t\t2\n", r"column x_coord: cannot read ''"),
    ("p.txt", "", "file is empty"),
    ("p.xyz", "a b c\n", "cannot tell the picks format"),
])
def test_bad_picks_files(tmp_path, name, text, problem):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError, match=problem) as err:
        read_picks(path)
    assert err.value.path == str(path)
    assert "\n" not in err.value.message


def test_missing_picks_file(tmp_path):
    with pytest.raises(InputError, match=r"gone\.star: file not found"):
        read_picks(tmp_path / "gone.star")


def test_box_writing_needs_box_size_and_one_micrograph(tmp_path, rng):
    table = _table(rng, ["m1", "m2"], 10, score=False)
    with pytest.raises(InputError, match="needs a positive box size"):
        write_picks(table, tmp_path / "o.box")
    with pytest.raises(InputError, match="one .box per micrograph"):
        write_picks(table, tmp_path / "o.box", box_size=32)
    assert list(tmp_path.iterdir()) == []  # nothing half-written
