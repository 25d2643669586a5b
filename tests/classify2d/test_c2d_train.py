"""Training: learns to separate classes, is seeded, resumes exactly, rejects bad input."""

import numpy as np
import pytest
import torch

from fewlabel.classify2d.augment import AugmentConfig
from fewlabel.classify2d.cluster import kmeans
from fewlabel.classify2d.embed import embed
from fewlabel.classify2d.evaluate import cluster_scores
from fewlabel.classify2d.train import TrainConfig, load_model, train_embedding
from fewlabel.errors import InputError

TINY = dict(size=16, dim=16, width=8, depth=2, batch_size=16, val_fraction=0.2, lr=3e-3,
            augment=AugmentConfig(max_shift=1.0, noise=0.1))


def test_supervised_training_separates_rotated_shapes(shapes):
    x, y = shapes
    untrained = train_embedding(x, y, TrainConfig(mode="supervised", epochs=1, steps_per_epoch=1, **TINY),
                                progress=False, log=lambda m: None)
    res = train_embedding(x, y, TrainConfig(mode="supervised", epochs=8, patience=8, **TINY),
                          progress=False, log=lambda m: None)
    ari = cluster_scores(y, kmeans(embed(res.model, x), 4)[0])["ari"]
    ari0 = cluster_scores(y, kmeans(embed(untrained.model, x), 4)[0])["ari"]
    assert ari > 0.6 and ari > ari0 + 0.2
    assert res.history[-1]["train_loss"] < res.history[0]["train_loss"]


def test_self_supervised_runs_without_labels_and_is_seeded(shapes):
    x, _ = shapes
    cfg = TrainConfig(mode="self-supervised", epochs=2, **TINY)
    a = train_embedding(x, None, cfg, progress=False, log=lambda m: None)
    b = train_embedding(x, None, cfg, progress=False, log=lambda m: None)
    assert [h["train_loss"] for h in a.history] == [h["train_loss"] for h in b.history]
    torch.testing.assert_close(embed(a.model, x[:5]), embed(b.model, x[:5]))


def test_same_seed_gives_the_same_weights_on_one_and_two_threads(shapes):
    x, _ = shapes
    cfg = TrainConfig(mode="self-supervised", epochs=1, steps_per_epoch=1, **TINY)
    before = torch.get_num_threads()
    states = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            res = train_embedding(x, None, cfg, progress=False, log=lambda m: None)
            states.append(res.model.state_dict())
    finally:
        torch.set_num_threads(before)
    for name, value in states[0].items():
        assert torch.equal(value, states[1][name]), name


def test_resume_continues_to_the_same_weights(shapes, tmp_path):
    x, y = shapes
    full = TrainConfig(mode="supervised", epochs=3, patience=10, **TINY)
    straight = train_embedding(x, y, full, tmp_path / "a.pt", progress=False, log=lambda m: None)
    # an "interrupted" run: same config, but stop after 2 epochs by patching epochs in the loop
    first = TrainConfig(mode="supervised", epochs=3, patience=10, **TINY)
    path = tmp_path / "b.pt"
    train_embedding(x, y, first, path, progress=False, log=lambda m: None, _stop_after=2)
    resumed = train_embedding(x, y, full, path, resume=True, progress=False, log=lambda m: None)
    assert len(resumed.history) == 3
    for k, v in straight.model.state_dict().items():
        torch.testing.assert_close(v, resumed.model.state_dict()[k])
    model, config = load_model(path)
    assert config["train"]["mode"] == "supervised" and config["model"]["box"] == 16
    assert (tmp_path / "b.pt.json").is_file()


def test_resume_refuses_a_different_config(shapes, tmp_path):
    x, y = shapes
    path = tmp_path / "m.pt"
    train_embedding(x, y, TrainConfig(mode="supervised", epochs=1, **TINY), path, progress=False, log=lambda m: None)
    with pytest.raises(InputError, match="different config"):
        train_embedding(x, y, TrainConfig(mode="supervised", epochs=1, margin=0.9, **TINY), path, resume=True,
                        progress=False, log=lambda m: None)


def test_bad_inputs_raise_input_error(shapes):
    x, y = shapes
    with pytest.raises(InputError, match="non-empty"):
        train_embedding(np.empty((0, 16, 16)), None, TrainConfig(**TINY), progress=False)
    with pytest.raises(InputError, match="labels for"):
        train_embedding(x, y[:-3], TrainConfig(mode="supervised", **TINY), progress=False)
    with pytest.raises(InputError, match="at least 2 labeled classes"):
        train_embedding(x, np.zeros(len(x), int), TrainConfig(mode="supervised", **TINY), progress=False)
