"""`fewlabel simulate micrographs|particles`: outputs exist and read back; bad options exit 2."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd


def test_simulate_micrographs_cli(cli_runner, tmp_path):
    from fewlabel.io.micrographs import read_micrograph
    from fewlabel.io.picks import read_picks

    out = tmp_path / "sim"
    code, stdout, _ = cli_runner("simulate", "micrographs", "-o", out, "--n", 2, "--seed", 1, "--shape", 192, 224,
                                 "--pixel-size", 3.0, "--pdb", "1hvr", "--snr", 0.2, "--labeled", "3,7",
                                 "--particles-per-micrograph", 15)
    assert code == 0, stdout
    assert "particles" in stdout
    mic = read_micrograph(out / "micrographs" / "mic_0001.mrc")
    assert mic.image.shape == (192, 224) and mic.pixel_size == 3.0
    truth = read_picks(out / "truth.star")
    assert set(truth["image_name"]) <= {"mic_0000", "mic_0001"} and len(truth) > 5
    assert len(read_picks(out / "labeled_3.tsv")) == 3 and len(read_picks(out / "labeled_7.tsv")) == 7
    meta = json.loads((out / "simulation.json").read_text())
    assert meta["config"]["molecules"] == ["1hvr"] and meta["config"]["snr"] == 0.2
    assert meta["particle_diameter_px"] == meta["molecules"]["1hvr"]["diameter_px"] > 15


def test_simulate_micrographs_cli_bad_options(cli_runner, tmp_path):
    cases = [("--snr", "-1"), ("--defocus-min", "3", "--defocus-max", "1"), ("--pdb", "not_a_protein"),
             ("--pdb", str(tmp_path / "missing.pdb")), ("--pixel-size", "0"), ("--labeled", "ten")]
    for extra in cases:
        code, _, stderr = cli_runner("simulate", "micrographs", "-o", tmp_path / "x", "--n", 1,
                                     "--shape", 64, 64, *extra)
        assert code == 2, extra
        assert stderr.startswith("error:") and len(stderr.strip().splitlines()) == 1, stderr
    assert not (tmp_path / "x" / "truth.tsv").exists()


def test_simulate_particles_cli(cli_runner, tmp_path):
    from fewlabel.io.stacks import read_stack

    out = tmp_path / "parts"
    code, stdout, _ = cli_runner("simulate", "particles", "-o", out, "--classes", "views", "--n-views", 3,
                                 "--n-per-class", 4, "--box", 32, "--snr", "clean", "--seed", 2)
    assert code == 0, stdout
    images, meta, apix = read_stack(out / "particles.mrcs")
    labels = pd.read_csv(out / "labels.csv")
    assert images.shape == (12, 32, 32) and apix > 0
    assert list(labels.columns) == ["index", "label", "class_name"]
    assert labels["label"].value_counts().to_dict() == {0: 4, 1: 4, 2: 4}
    assert set(labels["class_name"]) == {"view0", "view1", "view2"}
    np.testing.assert_array_equal(meta["rlnClassNumber"].to_numpy(), labels["label"].to_numpy() + 1)
    summary = json.loads((out / "simulation.json").read_text())
    assert summary["n_particles"] == 12 and summary["snr"] is None


def test_simulate_particles_cli_bad_options(cli_runner, tmp_path):
    for extra in (("--snr", "loud"), ("--molecules", "adk_open"), ("--box", "4"), ("--n-per-class", "0"),
                  ("--molecules", "adk_open", "--molecules", "nope")):
        code, _, stderr = cli_runner("simulate", "particles", "-o", tmp_path / "y", *extra)
        assert code == 2, extra
        assert stderr.startswith("error:"), stderr
