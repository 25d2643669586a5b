"""End to end through the CLI: train, embed, cluster, report; bad input exits 2 with one line."""

import json

import numpy as np
import pandas as pd
import pytest

from tests.classify2d.c2d_shapes import make_shapes


@pytest.fixture
def stack(tmp_path):
    from fewlabel.io.stacks import write_stack

    x, y = make_shapes(10, 16, None, seed=3)
    path = tmp_path / "p.mrcs"
    write_stack(path, x, pd.DataFrame({"label": y}), 1.0)
    pd.DataFrame({"index": np.arange(len(y)), "label": y}).to_csv(tmp_path / "labels.csv", index=False)
    return path, tmp_path / "labels.csv", y


def test_train_embed_cluster_report(cli_runner, stack, tmp_path):
    path, labels, y = stack
    model = tmp_path / "m.pt"
    code, out, err = cli_runner("classify2d", "train", "--particles", path, "--labels", labels, "--epochs", 2,
                                "--dim", 8, "--width", 4, "--batch-size", 8, "--device", "cpu", "-o", model)
    assert code == 0, err
    assert model.is_file() and json.loads((tmp_path / "m.pt.json").read_text())["kind"] == "classify2d"
    emb = tmp_path / "e.npy"
    assert cli_runner("classify2d", "embed", "--model", model, "--particles", path, "-o", emb)[0] == 0
    e = np.load(emb)
    assert e.shape == (40, 8) and np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5)
    clusters = tmp_path / "c.csv"
    code, out, err = cli_runner("classify2d", "cluster", "--embeddings", emb, "--k", "auto", "--k-max", 6,
                                "-o", clusters)
    assert code == 0 and "suggested k" in err and "Kneedle" in err
    df = pd.read_csv(clusters)
    assert list(df.columns) == ["index", "label"] and len(df) == 40
    assert (tmp_path / "c.elbow.png").is_file() and len(pd.read_csv(tmp_path / "c.elbow.csv")) == 6
    rep = tmp_path / "rep"
    code, out, err = cli_runner("classify2d", "report", "--particles", path, "--embeddings", emb,
                                "--clusters", clusters, "--labels", labels, "--max-members", 5, "-o", rep)
    assert code == 0, err
    for f in ("similarity.png", "tsne_classes.png", "tsne_clusters.png", "elbow.png", "class_averages.png"):
        assert (rep / f).stat().st_size > 1000
    scores = json.loads((rep / "scores.json").read_text())
    assert set(scores) == {"ari", "nmi", "accuracy"} and 0 <= scores["accuracy"] <= 1
    assert "data:image/png;base64" in (rep / "report.html").read_text()


def test_self_supervised_resume_of_finished_run(cli_runner, stack, tmp_path):
    path, _, _ = stack
    model = tmp_path / "m.pt"
    args = ("classify2d", "train", "--particles", path, "--epochs", 1, "--dim", 8, "--width", 4,
            "--batch-size", 8, "-o", model)
    assert cli_runner(*args)[0] == 0
    code, out, err = cli_runner(*args, "--resume")
    assert code == 0 and "nothing to resume" in err


def test_bad_input_exits_2(cli_runner, stack, tmp_path):
    path, labels, _ = stack
    emb = tmp_path / "e.npy"
    np.save(emb, np.random.default_rng(0).normal(size=(5, 3)))
    code, out, err = cli_runner("classify2d", "cluster", "--embeddings", emb, "--k", 9, "-o", tmp_path / "c.csv")
    assert code == 2 and "number of particles (5)" in err
    short = tmp_path / "short.csv"
    short.write_text("label\n0\n1\n")
    code, out, err = cli_runner("classify2d", "train", "--particles", path, "--labels", short, "-o", tmp_path / "m.pt")
    assert code == 2 and "2 label rows for a stack of 40" in err
    from fewlabel.io.stacks import write_stack
    empty = tmp_path / "empty.mrcs"
    try:
        write_stack(empty, np.zeros((0, 16, 16), np.float32), pd.DataFrame(), 1.0)
    except Exception:
        empty.write_bytes(b"")
    code, out, err = cli_runner("classify2d", "train", "--particles", empty, "-o", tmp_path / "m2.pt")
    assert code == 2 and "error:" in err


def test_train_on_mra_classes_without_labels(cli_runner, stack, tmp_path):
    path, labels, _ = stack
    model = tmp_path / "m.pt"
    code, out, err = cli_runner("classify2d", "train", "--particles", path, "--mra-k", 4, "--mra-size", 16,
                                "--epochs", 1, "--dim", 8, "--width", 4, "--batch-size", 8, "-o", model)
    assert code == 0, err
    assert "MRA class sizes" in err
    config = json.loads((tmp_path / "m.pt.json").read_text())["config"]
    assert config["train"]["mode"] == "supervised" and config["mra_k"] == 4
    code, out, err = cli_runner("classify2d", "train", "--particles", path, "--mra-k", 4, "--labels", labels,
                                "-o", tmp_path / "m2.pt")
    assert code == 2 and "--mra-k" in err


@pytest.fixture
def simulated_stack(tmp_path):
    """A tiny simulated stack whose .star carries each particle's defocus (rlnDefocusU/V/Angle)."""
    from fewlabel.simulate.particles import simulate_particles, write_particles

    x, lab = simulate_particles(6, "views", snr=None, box=32, seed=0)
    write_particles(tmp_path / "sim", x, lab, {})
    return tmp_path / "sim" / "particles.mrcs", tmp_path / "sim" / "labels.csv"


def test_cluster_by_mra_with_phase_flipping_then_report_without_embeddings(cli_runner, simulated_stack, tmp_path):
    path, labels = simulated_stack
    clusters = tmp_path / "mra.csv"
    code, out, err = cli_runner("classify2d", "cluster", "--method", "mra", "--particles", path, "--k", 4,
                                "--size", 32, "--n-init", 2, "-o", clusters)
    assert code == 0, err
    assert "phase flipping 24 particles" in err
    df = pd.read_csv(clusters)
    assert list(df.columns) == ["index", "label"] and sorted(df["label"].unique()) == [0, 1, 2, 3]
    rep = tmp_path / "rep"
    code, out, err = cli_runner("classify2d", "report", "--particles", path, "--clusters", clusters,
                                "--labels", labels, "--max-members", 5, "-o", rep)
    assert code == 0, err
    assert (rep / "class_averages.png").stat().st_size > 1000 and not (rep / "tsne_clusters.png").exists()
    from fewlabel.classify2d.evaluate import cluster_scores

    expected = cluster_scores(pd.read_csv(labels)["label"].to_numpy(), df["label"].to_numpy())
    assert json.loads((rep / "scores.json").read_text()) == pytest.approx(expected)


def test_cluster_by_mra_bad_options_exit_2(cli_runner, stack, simulated_stack, tmp_path):
    path, _, _ = stack  # shapes: no defocus in the metadata
    out_csv = tmp_path / "c.csv"
    code, out, err = cli_runner("classify2d", "cluster", "--method", "mra", "-o", out_csv)
    assert code == 2 and "--particles" in err
    code, out, err = cli_runner("classify2d", "cluster", "--method", "mra", "--particles", path, "-o", out_csv)
    assert code == 2 and "integer --k" in err
    code, out, err = cli_runner("classify2d", "cluster", "--method", "mra", "--particles", path, "--k", 4,
                                "--ctf", "flip", "-o", out_csv)
    assert code == 2 and "rlnDefocusU" in err
    assert not out_csv.exists()
