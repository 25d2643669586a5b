"""Networks on MRA-aligned particles: the model keeps its references and embed aligns new particles."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from fewlabel.classify2d.augment import AugmentConfig
from fewlabel.classify2d.cluster import kmeans
from fewlabel.classify2d.embed import embed
from fewlabel.classify2d.evaluate import cluster_scores
from fewlabel.classify2d.mra import mra_classify
from fewlabel.classify2d.train import TrainConfig, load_model, train_embedding

from tests.classify2d.c2d_shapes import make_shapes

ALIGNED = dict(size=16, dim=16, width=8, depth=2, batch_size=16, val_fraction=0.2, lr=3e-3, rot_pool=1,
               augment=AugmentConfig(rotate=False, max_shift=1.0, noise=0.1))


def test_aligned_model_keeps_references_and_embeds_rotated_particles_alike(tmp_path):
    x, y = make_shapes(15, 24, snr=1.0, seed=5)
    labels, refs = mra_classify(x, 4, size=16, n_init=2, seed=0)
    out = tmp_path / "m.pt"
    res = train_embedding(x, labels, TrainConfig(mode="supervised", epochs=6, patience=6, **ALIGNED), output=out,
                          references=refs, progress=False, log=lambda m: None)
    np.testing.assert_array_equal(res.model.references.numpy(), refs.astype(np.float32))
    e = embed(res.model, x)
    assert cluster_scores(y, kmeans(e, 4)[0])["ari"] > 0.8
    # a network without rotation pooling is still (nearly) rotation invariant: embed aligns first
    e90 = embed(res.model, np.rot90(x, 1, axes=(1, 2)).copy())
    assert float(np.mean(np.sum(e * e90, axis=1))) > 0.95
    model, config = load_model(out)
    assert config["model"]["references"] == 4 and config["model"]["reference_size"] == 16
    torch.testing.assert_close(torch.as_tensor(embed(model, x[:6])), torch.as_tensor(e[:6]))


def test_plain_model_has_no_references(shapes):
    x, y = shapes
    res = train_embedding(x, y, TrainConfig(mode="supervised", epochs=1, **ALIGNED), progress=False,
                          log=lambda m: None)
    assert res.model.references is None and "references" not in res.model.config()


@pytest.fixture
def noisy_stack(tmp_path):
    from fewlabel.io.stacks import write_stack

    x, y = make_shapes(10, 16, snr=2.0, seed=3)
    path = tmp_path / "p.mrcs"
    write_stack(path, x, pd.DataFrame({"label": y}), 1.0)
    return path, y


def test_cli_train_align_then_embed(cli_runner, noisy_stack, tmp_path):
    path, y = noisy_stack
    model = tmp_path / "m.pt"
    code, out, err = cli_runner("classify2d", "train", "--particles", path, "--mra-k", 4, "--align", "--mra-size",
                                16, "--epochs", 3, "--dim", 8, "--width", 4, "--batch-size", 8, "--device", "cpu",
                                "-o", model)
    assert code == 0, err
    cfg = json.loads((tmp_path / "m.pt.json").read_text())["config"]
    assert cfg["align"] is True and cfg["model"]["rot_pool"] == 1 and cfg["model"]["references"] == 4
    emb = tmp_path / "e.npy"
    code, out, err = cli_runner("classify2d", "embed", "--model", model, "--particles", path, "-o", emb)
    assert code == 0 and "MRA references" in err
    assert np.load(emb).shape == (40, 8)
    code, out, err = cli_runner("classify2d", "embed", "--model", model, "--particles", path, "--workers", 2,
                                "-o", tmp_path / "e2.npy")
    assert code == 2 and "in-process" in err
    code, out, err = cli_runner("classify2d", "train", "--particles", path, "--align", "-o", tmp_path / "x.pt")
    assert code == 2 and "--align needs" in err


def test_cli_train_align_with_labels_uses_as_many_references_as_classes(cli_runner, noisy_stack, tmp_path):
    path, y = noisy_stack
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"index": np.arange(len(y)), "label": y}).to_csv(labels, index=False)
    code, out, err = cli_runner("classify2d", "train", "--particles", path, "--labels", labels, "--align",
                                "--mra-size", 16, "--epochs", 1, "--dim", 8, "--width", 4, "--batch-size", 8,
                                "--device", "cpu", "-o", tmp_path / "m.pt")
    assert code == 0, err
    cfg = json.loads((tmp_path / "m.pt.json").read_text())["config"]
    assert cfg["model"]["references"] == 4 and cfg["train"]["augment"]["rotate"] is False
