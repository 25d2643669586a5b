"""Point cloud and mesh readers: formats, SMLM headers, grouping, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from fewlabel.errors import InputError
from fewlabel.io.pointclouds import read_binvox, read_off, read_pointclouds
from tests.conftest import shared_path


def test_thunderstorm_csv_headers_with_units(tmp_path):
    p = tmp_path / "locs.csv"
    p.write_text('"id","frame","x [nm]","y [nm]","z [nm]","uncertainty [nm]"\n'
                 "1,1,10.5,20.0,-3.0,5\n2,2,11.5,21.0,4.0,5\n")
    clouds = read_pointclouds(p)
    assert list(clouds) == ["locs"]
    np.testing.assert_allclose(clouds["locs"], [[10.5, 20.0, -3.0], [11.5, 21.0, 4.0]])


def test_tsv_2d_gets_zero_z_and_group_splits(tmp_path):
    p = tmp_path / "picked.tsv"
    p.write_text("x_nm\ty_nm\tgroup\n1\t2\t0\n3\t4\t1\n5\t6\t1\n")
    clouds = read_pointclouds(p)
    assert sorted(clouds) == ["picked_0", "picked_1"]
    assert clouds["picked_1"].shape == (2, 3)
    assert np.all(clouds["picked_1"][:, 2] == 0)


def test_npz_points_with_particle_index(tmp_path):
    p = tmp_path / "origami.npz"
    np.savez(p, points=np.arange(12.0).reshape(6, 2), particle_index=np.array([0, 0, 0, 1, 1, 2]))
    clouds = read_pointclouds(p)
    assert [len(c) for c in clouds.values()] == [3, 2, 1]


def test_picasso_hdf5_locs(tmp_path):
    h5py = pytest.importorskip("h5py")
    locs = np.zeros(4, dtype=[("frame", "<u4"), ("x", "<f4"), ("y", "<f4"), ("group", "<i4")])
    locs["x"], locs["y"], locs["group"] = [1, 2, 3, 4], [5, 6, 7, 8], [0, 0, 1, 1]
    p = tmp_path / "picked.hdf5"
    with h5py.File(p, "w") as f:
        f.create_dataset("locs", data=locs)
    clouds = read_pointclouds(p)
    np.testing.assert_allclose(clouds["picked_1"][:, :2], [[3, 7], [4, 8]])


@pytest.mark.parametrize("body, problem", [
    ("x,y,z\n", "empty"),
    ("x,y,z\n1,2,3\nnan,2,3\n", "NaN"),
    ("a,b\n1,2\n", "no x and y"),
])
def test_bad_point_clouds_raise_input_error(tmp_path, body, problem):
    p = tmp_path / "bad.csv"
    p.write_text(body)
    with pytest.raises(InputError, match=problem):
        read_pointclouds(p)


def test_unknown_suffix_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_pointclouds(tmp_path / "nope.csv")
    (tmp_path / "a.xyz").write_text("1 2 3\n")
    with pytest.raises(InputError, match="unknown point cloud format"):
        read_pointclouds(tmp_path / "a.xyz")


@pytest.mark.parametrize("header", ["OFF\n4 2 0\n", "OFF4 2 0\n"])
def test_off_both_header_forms_and_quad_fan(tmp_path, header):
    p = tmp_path / "m.off"
    p.write_text(header + "0 0 0\n1 0 0\n1 1 0\n0 1 0\n3 0 1 2\n4 0 1 2 3\n")
    v, f = read_off(p)
    assert v.shape == (4, 3)
    assert f.tolist() == [[0, 1, 2], [0, 1, 2], [0, 2, 3]]


def test_off_rejects_bad_vertex_index(tmp_path):
    p = tmp_path / "m.off"
    p.write_text("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n")
    with pytest.raises(InputError, match="vertex"):
        read_off(p)


def _write_binvox(path, grid, translate=(0, 0, 0), scale=1.0):
    flat = grid.transpose(0, 2, 1).ravel().astype(np.uint8)  # binvox order: x, z, y
    runs = []
    i = 0
    while i < len(flat):
        j = i
        while j < len(flat) and flat[j] == flat[i] and j - i < 255:
            j += 1
        runs += [flat[i], j - i]
        i = j
    n = grid.shape[0]
    head = f"#binvox 1\ndim {n} {n} {n}\ntranslate {translate[0]} {translate[1]} {translate[2]}\nscale {scale}\ndata\n"
    path.write_bytes(head.encode() + bytes(runs))


def test_binvox_round_trip_keeps_axis_order(tmp_path):
    rng = np.random.default_rng(0)
    grid = rng.random((6, 6, 6)) > 0.7
    grid[0, 1, 5] = True  # asymmetric marker
    p = tmp_path / "g.binvox"
    _write_binvox(p, grid, (1.0, 2.0, 3.0), 4.5)
    read, translate, scale = read_binvox(p)
    assert np.array_equal(read, grid)
    np.testing.assert_allclose(translate, [1, 2, 3])
    assert scale == 4.5


def test_shared_smlm_files_read():
    ts = read_pointclouds(shared_path("smlm_pointclouds", "epfl_challenge_mt1_localizations",
                                      "sequence-as-stack-MT1.N1.LD-AS-Exp.csv"))
    (cloud,) = ts.values()
    assert cloud.shape == (12716, 3) and np.ptp(cloud[:, 2]) > 0
    picked = read_pointclouds(shared_path("smlm_pointclouds", "picasso_dnapaint", "raw_movie_locs_picked.hdf5"))
    assert len(picked) == 9
    origami = read_pointclouds(shared_path("smlm_pointclouds", "tud_origami_dnapaint", "tud_dol30.npz"))
    assert len(origami) == 549 and all(np.all(c[:, 2] == 0) for c in origami.values())
