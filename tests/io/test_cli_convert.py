"""`fewlabel convert picks`: conversions by extension, and one-line errors with exit code 2."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from fewlabel.io.micrographs import write_micrograph
from fewlabel.io.picks import read_picks, write_picks
from tests.conftest import shared_path


@pytest.fixture
def picks_txt(tmp_path):
    table = pd.DataFrame({"image_name": ["m1", "m1", "m2"], "x_coord": [10.0, 20.5, 30.0],
                          "y_coord": [5.0, 6.0, 7.5], "score": [0.9, 0.2, -1.5]})
    path = tmp_path / "picks.txt"
    write_picks(table, path)
    return path


@pytest.fixture
def mics(tmp_path):
    folder = tmp_path / "mics"
    for name in ("m1", "m2"):
        write_micrograph(folder / f"{name}.mrc", np.zeros((40, 50), np.float32))
    return folder


def _assert_one_line_error(code, err, *parts):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    for part in parts:
        assert part in lines[0]


def test_convert_by_extension(cli_runner, tmp_path, picks_txt):
    code, out, _ = cli_runner("convert", "picks", picks_txt, tmp_path / "p.star", "--star-version", "3.0")
    assert code == 0 and "3 picks on 2 micrograph(s)" in out
    assert_frame_equal(read_picks(tmp_path / "p.star"), read_picks(picks_txt))
    assert "data_optics" not in (tmp_path / "p.star").read_text()


def test_convert_to_box_folder_and_back(cli_runner, tmp_path, picks_txt):
    code, _, _ = cli_runner("convert", "picks", picks_txt, tmp_path / "boxes", "--to", "box", "--box-size", "16")
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "boxes").iterdir()) == ["m1.box", "m2.box"]
    assert (tmp_path / "boxes" / "m1.box").read_text().splitlines()[1] == "12.5\t-2\t16\t16"
    code, _, _ = cli_runner("convert", "picks", picks_txt, f"{tmp_path / 'stars'}/", "--to", "star")
    assert code == 0 and sorted(p.name for p in (tmp_path / "stars").iterdir()) == ["m1.star", "m2.star"]
    assert_frame_equal(read_picks(tmp_path / "stars"), read_picks(picks_txt))
    code, _, _ = cli_runner("convert", "picks", tmp_path / "boxes" / "m2.box", tmp_path / "one.csv",
                            "--image-name", "renamed.mrc")
    assert code == 0
    back = read_picks(tmp_path / "one.csv")
    assert back["image_name"].tolist() == ["renamed"] and back["x_coord"].tolist() == [30.0]


def test_convert_real_relion_star(cli_runner, tmp_path):
    star = shared_path("empiar10025_t20s_coordinates", "particles.star")
    code, _, _ = cli_runner("convert", "picks", star, tmp_path / "t.txt")
    assert code == 0
    assert_frame_equal(read_picks(tmp_path / "t.txt"), read_picks(star.with_name("particles.txt")))


def test_convert_checks_against_micrographs(cli_runner, tmp_path, picks_txt, mics):
    code, _, _ = cli_runner("convert", "picks", picks_txt, tmp_path / "ok.csv", "--micrographs", mics)
    assert code == 0 and (tmp_path / "ok.csv").exists()


# --- bad input through the CLI: one line naming the file, exit 2, no output left -------------

@pytest.mark.parametrize("text, problem", [
    ("image_name\tx_coord\nm1\t1\n", "missing column(s) y_coord"),
    ("image_name\tx_coord\ty_coord\nm1\t1\tseven\n", "cannot read 'seven' as a number"),
])
def test_bad_picks_file(cli_runner, tmp_path, text, problem):
    bad = tmp_path / "bad.txt"
    bad.write_text(text)
    code, _, err = cli_runner("convert", "picks", bad, tmp_path / "out.star")
    _assert_one_line_error(code, err, str(bad), problem)
    assert not (tmp_path / "out.star").exists()


def test_missing_picks_file(cli_runner, tmp_path):
    code, _, err = cli_runner("convert", "picks", tmp_path / "none.star", tmp_path / "out.txt")
    _assert_one_line_error(code, err, "none.star", "file not found")


def test_pick_on_absent_micrograph(cli_runner, tmp_path, picks_txt, mics):
    (mics / "m2.mrc").unlink()
    code, _, err = cli_runner("convert", "picks", picks_txt, tmp_path / "o.star", "--micrographs", mics)
    _assert_one_line_error(code, err, str(picks_txt), "not there: m2")
    assert not (tmp_path / "o.star").exists()


def test_pick_outside_image(cli_runner, tmp_path, mics):
    path = tmp_path / "far.txt"
    path.write_text("image_name\tx_coord\ty_coord\nm1\t10\t10\nm1\t49\t40\n")  # image is 50 x 40
    code, _, err = cli_runner("convert", "picks", path, tmp_path / "o.csv", "--micrographs", mics)
    _assert_one_line_error(code, err, str(path), "1 pick(s) lie outside", "x=49, y=40")
    assert not (tmp_path / "o.csv").exists()


def test_box_output_needs_box_size_and_inputs_are_not_overwritten(cli_runner, tmp_path, picks_txt):
    code, _, err = cli_runner("convert", "picks", picks_txt, tmp_path / "out", "--to", "box")
    _assert_one_line_error(code, err, "--box-size")
    before = picks_txt.read_text()
    code, _, err = cli_runner("convert", "picks", picks_txt, picks_txt)
    _assert_one_line_error(code, err, "refusing to overwrite")
    assert picks_txt.read_text() == before
