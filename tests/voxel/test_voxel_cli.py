"""CLI: simulate -> voxelize -> fit -> predict -> experiment, and one-line errors for bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd


def test_simulate_fit_predict_round_trip(tmp_path, cli_runner):
    g = tmp_path / "g.npz"
    code, out, _ = cli_runner("simulate", "volumes", "geometries", "-o", g, "--n-samples", "60", "--size", "12")
    assert code == 0 and g.exists()
    code, out, _ = cli_runner("voxel", "fit", "--grids", g, "--method", "pca", "--latent", "6", "-o", tmp_path / "m")
    assert code == 0 and (tmp_path / "m" / "model.json").exists() and (tmp_path / "m" / "run.json").exists()
    code, out, _ = cli_runner("voxel", "predict", "--model", tmp_path / "m", "--grids", g, "-o", tmp_path / "p.csv")
    assert code == 0 and "accuracy" in out
    pred = pd.read_csv(tmp_path / "p.csv")
    assert list(pred.columns) == ["index", "label"] and len(pred) == 60
    assert set(pred["label"]) <= {0, 1, 2}


def test_clathrin_simulation_writes_localizations_labels_and_grids(tmp_path, cli_runner):
    out_dir = tmp_path / "cl"
    code, _, _ = cli_runner("simulate", "volumes", "clathrin", "-o", out_dir, "--n-structures", "12", "--size", "10")
    assert code == 0
    locs = pd.read_csv(out_dir / "localizations.csv")
    labels = pd.read_csv(out_dir / "labels.csv")
    assert {"x [nm]", "y [nm]", "z [nm]", "structure"} <= set(locs.columns)
    assert len(labels) == 12 and set(labels["curved"]) <= {0, 1}
    grids = np.load(out_dir / "grids.npz")
    assert grids["X"].shape == (12, 10, 10, 10)
    # the localizations table is itself a valid voxelize input (structure column splits it)
    code, out, _ = cli_runner("voxel", "voxelize", out_dir / "localizations.csv", "-o", tmp_path / "v.npz",
                              "--size", "10", "--voxel-size", "10", "--centre", "centroid")
    assert code == 0 and np.load(tmp_path / "v.npz")["X"].shape[0] == 12


def test_voxelize_with_labels_table(tmp_path, cli_runner):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("x,y,z\n0,0,0\n1,1,1\n")
    b.write_text("x [nm],y [nm]\n0,0\n5,0\n")
    (tmp_path / "labels.csv").write_text("name,label\na,0\nb,1\n")
    code, _, _ = cli_runner("voxel", "voxelize", a, b, "-o", tmp_path / "g.npz", "--size", "8",
                            "--labels", tmp_path / "labels.csv")
    assert code == 0
    data = np.load(tmp_path / "g.npz")
    assert data["y"].tolist() == [0, 1] and data["names"].tolist() == ["a", "b"]


def test_bad_inputs_exit_2_with_one_line(tmp_path, cli_runner):
    empty = tmp_path / "empty.csv"
    empty.write_text("x,y,z\n")
    code, _, err = cli_runner("voxel", "voxelize", empty, "-o", tmp_path / "g.npz")
    assert code == 2 and "empty" in err and len(err.strip().splitlines()) == 1
    one = tmp_path / "one.npz"
    np.savez(one, X=np.zeros((4, 8, 8, 8), np.uint8), y=np.zeros(4, int))
    code, _, err = cli_runner("voxel", "fit", "--grids", one, "--method", "pca", "-o", tmp_path / "m")
    assert code == 2 and "class" in err
    two = tmp_path / "two.npz"
    np.savez(two, X=np.zeros((4, 8, 8, 8), np.uint8), y=np.array([0, 1, 0, 1]))
    other = tmp_path / "other.npz"
    np.savez(other, X=np.zeros((3, 6, 6, 6), np.uint8))
    code, _, err = cli_runner("voxel", "fit", "--grids", two, "--unlabeled", other, "--method", "pca",
                              "--latent", "2", "-o", tmp_path / "m")
    assert code == 2 and "6^3" in err


def test_experiment_writes_table_and_curve(tmp_path, cli_runner):
    out = tmp_path / "exp"
    code, stdout, _ = cli_runner("voxel", "experiment", "--dataset", "geometries", "--method", "pca",
                                 "--method", "kmeans", "--labeled", "30", "--unlabeled", "30", "--test", "30",
                                 "--size", "10", "--latent", "4", "--curve-points", "2", "-o", out)
    assert code == 0
    table = (out / "accuracy.md").read_text()
    assert "| geometries | pca |" in table and "| geometries | kmeans |" in table
    assert (out / "accuracy_vs_unlabeled.png").stat().st_size > 1000
    results = pd.read_csv(out / "results.csv")
    assert sorted(results["n_unlabeled"].unique().tolist()) == [0, 30]
