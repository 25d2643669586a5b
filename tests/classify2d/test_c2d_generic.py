"""Generic embedding: training shapes (assemblies), the (shape, view) training set, embedding a new molecule."""

import json

import numpy as np
import pandas as pd
import pytest

from fewlabel.classify2d.cluster import kmeans
from fewlabel.classify2d.evaluate import cluster_scores
from fewlabel.classify2d.generic import (GENERIC_SHAPES, HELD_OUT, _write_model, embed_new_molecule, generic_config,
                                         generic_training_set, parse_shapes, shape_particles)
from fewlabel.classify2d.mra import mra_classify, mra_profile
from fewlabel.classify2d.train import train_embedding
from fewlabel.errors import InputError
from fewlabel.simulate.assemblies import parse_assembly
from fewlabel.simulate.density import load_molecule

from tests.classify2d.c2d_shapes import make_shapes

TINY = dict(size=16, dim=8, width=4, depth=2, batch_size=16, epochs=8, patience=8, val_fraction=0.2, lr=3e-3)


def test_default_shapes_never_hold_the_held_out_protein():
    assert parse_shapes(None) == GENERIC_SHAPES == parse_shapes("default")
    assert not {s.split(":")[0] for s in GENERIC_SHAPES} & set(HELD_OUT)
    assert any(":" in s for s in GENERIC_SHAPES)  # assemblies, not only the monomers


@pytest.mark.parametrize("text, problem", [("5a7u:X3", "point group"), ("nosuch", "unknown molecule"),
                                           ("5a7u:C2:a", "integer"), ("5a7u:C2:0:1", "name:GROUP"), (" , ", "empty")])
def test_parse_shapes_refuses_bad_specs(text, problem):
    with pytest.raises(InputError, match=problem):
        parse_shapes(text)


def test_parse_shapes_keeps_order():
    assert parse_shapes("5a7u:C3:1, adk_open") == ("5a7u:C3:1", "adk_open")


def test_assembly_written_for_the_simulator_reads_back_the_same_atoms(tmp_path):
    mol = parse_assembly("5a7u:C2:0")
    _write_model(mol, tmp_path / "a.cif")
    back = load_molecule(tmp_path / "a.cif")
    assert back.n_atoms == mol.n_atoms
    np.testing.assert_allclose(back.coords, mol.coords, atol=2e-3)
    assert sorted(back.elements[i] for i in back.element_index) == sorted(mol.elements[i] for i in mol.element_index)


def test_shape_particles_simulates_the_assembly_not_the_monomer():
    x, lab = shape_particles("5a7u:C2:0", 2, n_views=2, snr=None, box=32, seed=1)
    assert x.shape == (4, 32, 32) and sorted(lab["label"]) == [0, 0, 1, 1]
    # the automatic pixel size follows the particle's diameter: the dimer is larger than the monomer
    _, mono = shape_particles("5a7u", 2, n_views=2, snr=None, box=32, seed=1)
    ratio = lab.attrs["pixel_size"] / mono.attrs["pixel_size"]
    expected = parse_assembly("5a7u:C2:0").diameter / load_molecule("5a7u").diameter
    assert ratio == pytest.approx(expected, rel=0.02) and ratio > 1.3


def test_training_set_labels_shape_and_view():
    logs = []
    x, y, names = generic_training_set(("5a7u", "5a7u:C2:0"), n_per_class=5, n_views=2, snr=1.0, box=32,
                                       mra_size=16, seed=0, log=logs.append)
    assert x.shape == (20, 16, 16) and np.bincount(y).tolist() == [5, 5, 5, 5]
    assert names == ["5a7u/view0", "5a7u/view1", "5a7u:C2:0/view0", "5a7u:C2:0/view1"]
    assert len(logs) == 2
    x2, y2, _ = generic_training_set(("5a7u", "5a7u:C2:0"), n_per_class=5, n_views=2, snr=1.0, box=32,
                                     mra_size=16, seed=0, log=lambda m: None)
    np.testing.assert_array_equal(x, x2)  # same seed, same set
    np.testing.assert_array_equal(y, y2)


def test_embed_new_molecule_aligns_onto_its_own_references():
    # "training shapes": classes 0-1 of the toy set, aligned by their own MRA; "new molecule": classes 2-3
    x, y = make_shapes(12, 24, snr=2.0, seed=4)
    train = y < 2
    refs = mra_classify(x[train], 2, size=16, n_init=2, seed=0)[1]
    aligned = mra_profile(x[train], refs)[1]
    model = train_embedding(aligned, y[train], generic_config(0, **TINY), progress=False, log=lambda m: None).model
    new = ~train
    emb = embed_new_molecule(model, x[new], 2, mra_size=16, seed=0)
    assert emb.shape == (int(new.sum()), 8)
    both = embed_new_molecule(model, x[new], 2, mra_size=16, profile_weight=0.75, seed=0)
    assert both.shape == (int(new.sum()), 8 + 2)
    assert cluster_scores(y[new], kmeans(both, 2, 0)[0])["ari"] > 0.5
    with pytest.raises(InputError, match="own MRA references"):
        model.references = refs  # a model that keeps references is embedded by embed.embed
        embed_new_molecule(model, x[new], 2, mra_size=16)


def test_cli_generic_then_embed_with_mra_k(cli_runner, tmp_path):
    from fewlabel.io.stacks import write_stack

    model = tmp_path / "g.pt"
    code, out, err = cli_runner("classify2d", "generic", "--shapes", "5a7u,5a7u:C2:0", "--views", 2, "--per-class",
                                6, "--snr", "1", "--box", 32, "--mra-size", 16, "--dim", 8, "--width", 4,
                                "--batch-size", 8, "--epochs", 2, "--device", "cpu", "-o", model)
    assert code == 0, err
    assert "shape 2/2: 5a7u:C2:0" in err and "embed with --mra-k" in out
    cfg = json.loads((tmp_path / "g.pt.json").read_text())["config"]
    assert cfg["generic"]["shapes"] == ["5a7u", "5a7u:C2:0"] and cfg["model"]["rot_pool"] == 1
    assert len(cfg["class_names"]) == 4 and "references" not in cfg["model"]
    x, y = make_shapes(5, 16, snr=2.0, seed=3)
    stack = tmp_path / "p.mrcs"
    write_stack(stack, x, pd.DataFrame({"label": y}), 1.0)
    emb = tmp_path / "e.npy"
    code, out, err = cli_runner("classify2d", "embed", "--model", model, "--particles", stack, "--mra-k", 4,
                                "--mra-size", 16, "-o", emb)
    assert code == 0, err
    assert np.load(emb).shape == (20, 8 + 4)  # embedding + MRA profile (default weight)
    code, out, err = cli_runner("classify2d", "embed", "--model", model, "--particles", stack, "--mra-k", 4,
                                "--mra-size", 16, "--profile-weight", 0, "-o", tmp_path / "e0.npy")
    assert code == 0 and np.load(tmp_path / "e0.npy").shape == (20, 8)
    code, out, err = cli_runner("classify2d", "embed", "--model", model, "--particles", stack, "-o", tmp_path / "x.npy")
    assert code == 2 and "needs --mra-k" in err
    code, out, err = cli_runner("classify2d", "generic", "--shapes", "1hvr:Q2", "-o", tmp_path / "bad.pt")
    assert code == 2 and "point group" in err
