"""Training: learns on tiny blob micrographs, deterministic, resumable, survives Ctrl-C."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from tests.pick.blobdata import blob_micrographs

from fewlabel.checkpoint import load_checkpoint
from fewlabel.errors import InputError
from fewlabel.pick import metrics
from fewlabel.pick.extract import picks_from_scores
from fewlabel.pick.models import score_map
from fewlabel.pick.train import (TrainConfig, default_validation_fraction, last_path, load_picker, split_validation,
                                 train_picker)


@pytest.fixture(scope="module")
def blobs():
    images, names, truth = blob_micrographs(4, size=128, per_image=20, seed=0)
    labeled = truth.groupby("image_name").head(6).reset_index(drop=True)
    test_images, test_names, test_truth = blob_micrographs(2, size=128, per_image=20, seed=1, prefix="t")
    return images, names, labeled, test_images, test_names, test_truth


def small_config(**kw):
    base = dict(radius=2, pi=20 * 13 / 128 ** 2, model="conv31", units=8, epochs=2, steps_per_epoch=12,
                tile=24, positive_tiles=2, random_tiles=2, nms_radius=5, seed=3)
    base.update(kw)
    return TrainConfig(**base)


def _state(path):
    return load_checkpoint(path, "pick")["state_dict"]


def test_training_learns_beyond_random_scores(blobs, tmp_path):
    images, names, labeled, test_images, test_names, test_truth = blobs
    cfg = small_config(objective="ge-kl", units=16, epochs=2, steps_per_epoch=60, tile=32,
                       positive_tiles=4, random_tiles=4)
    history = train_picker(images, names, labeled, cfg, tmp_path / "m.pt", validation=["m3"], progress=False,
                           log=lambda m: None)
    assert [h["epoch"] for h in history] == [1, 2] and all("val_auprc" in h for h in history)
    # 6 of 20 particles labeled on the validation micrograph: the all-particle estimate scales up
    assert all(h["val_auprc"] < h["val_auprc_est"] <= 1 for h in history)
    model, config = load_picker(tmp_path / "m.pt")
    tables = [picks_from_scores(score_map(model, torch.from_numpy(im)).numpy(), n, 5, 1)
              for im, n in zip(test_images, test_names)]
    picks = pd.concat(tables)
    auprc = metrics.evaluate_picks(picks, test_truth, 3).auprc
    rng = np.random.default_rng(0)
    random_auprc = np.mean([metrics.evaluate_picks(picks.assign(score=rng.random(len(picks))), test_truth, 3).auprc
                            for _ in range(5)])
    assert auprc > 0.6 and auprc > 3 * random_auprc, (auprc, random_auprc)
    assert config["downsample"] == 1 and config["objective"] == "ge-kl" and config["receptive_field"] == 31


@pytest.mark.parametrize("objective,autoencoder", [("ge-binomial", 1.0), ("nnpu", 0.0), ("pn", 0.0)])
def test_same_seed_same_weights_and_resume_matches(blobs, tmp_path, objective, autoencoder):
    images, names, labeled, *_ = blobs
    cfg = small_config(objective=objective, autoencoder=autoencoder)
    quiet = dict(validation=["m3"], progress=False, log=lambda m: None)
    train_picker(images, names, labeled, cfg, tmp_path / "a.pt", **quiet)
    train_picker(images, names, labeled, cfg, tmp_path / "b.pt", **quiet)
    a, b = _state(last_path(tmp_path / "a.pt")), _state(last_path(tmp_path / "b.pt"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    # 1 epoch, then resume to 2: same weights as 2 epochs straight
    one = small_config(objective=objective, autoencoder=autoencoder, epochs=1)
    train_picker(images, names, labeled, one, tmp_path / "c.pt", **quiet)
    hist = train_picker(images, names, labeled, cfg, tmp_path / "c.pt", resume=True, **quiet)
    c = _state(last_path(tmp_path / "c.pt"))
    assert len(hist) == 2
    assert all(torch.equal(a[k], c[k]) for k in a)
    # a different seed gives different weights
    train_picker(images, names, labeled, small_config(objective=objective, autoencoder=autoencoder, seed=4),
                 tmp_path / "d.pt", **quiet)
    d = _state(last_path(tmp_path / "d.pt"))
    assert not all(torch.equal(a[k], d[k]) for k in a)


def test_ctrl_c_leaves_usable_checkpoints(blobs, tmp_path):
    images, names, labeled, *_ = blobs

    def interrupt(msg):
        if msg.startswith("epoch 1/"):
            raise KeyboardInterrupt

    out = tmp_path / "m.pt"
    with pytest.raises(KeyboardInterrupt):
        train_picker(images, names, labeled, small_config(), out, validation=["m3"], progress=False, log=interrupt)
    model, cfg = load_picker(out)
    assert cfg["model"] == "conv31"
    assert load_checkpoint(last_path(out), "pick")["training_state"]["epoch"] == 1
    hist = train_picker(images, names, labeled, small_config(), out, validation=["m3"], resume=True,
                        progress=False, log=lambda m: None)
    assert [h["epoch"] for h in hist] == [1, 2]


def test_bad_training_input(blobs, tmp_path):
    images, names, labeled, *_ = blobs
    with pytest.raises(InputError, match="larger than the downsampled"):
        train_picker(images, names, labeled, small_config(radius=70), tmp_path / "m.pt", progress=False)
    with pytest.raises(InputError, match="pi"):
        train_picker(images, names, labeled, small_config(pi=1.5), tmp_path / "m.pt", progress=False)
    with pytest.raises(InputError, match="no labeled picks"):
        train_picker(images, names, labeled.iloc[:0], small_config(), tmp_path / "m.pt", progress=False)
    assert not (tmp_path / "m.pt").exists()


def test_validation_split_by_micrograph():
    labeled = pd.DataFrame({"image_name": ["a", "b", "c", "d", "e"], "x_coord": 1.0, "y_coord": 1.0})
    names = ["a", "b", "c", "d", "e", "f"]
    val = split_validation(names, labeled, 0.2, np.random.default_rng(0))
    assert len(val) == 1 and val[0] in "abcde"
    assert split_validation(names, labeled.iloc[:1], 0.2, np.random.default_rng(0)) == []
    assert len(split_validation(names, labeled.iloc[:2], 0.9, np.random.default_rng(0))) == 1


def test_no_validation_hold_out_with_few_labels():
    # a 20% hold-out of 10-100 labels leaves too few particles to choose an epoch: train on all, keep the last
    assert default_validation_fraction(10) == 0.0 and default_validation_fraction(199) == 0.0
    assert default_validation_fraction(200) == 0.2 and default_validation_fraction(5000) == 0.2


@pytest.fixture(scope="module")
def start_state(blobs, tmp_path_factory):
    """A small trained picker standing in for the general picker (fine-tuning starts from it)."""
    images, names, labeled, *_ = blobs
    out = tmp_path_factory.mktemp("start") / "s.pt"
    cfg = small_config(objective="ge-kl", epochs=2, steps_per_epoch=40)
    train_picker(images, names, labeled, cfg, out, progress=False, log=lambda m: None)
    return _state(out)


def test_fine_tuning_defaults_depend_on_the_starting_weights():
    from fewlabel.pick.train import FINE_TUNE, FEW_LABELS_BELOW, SCRATCH_LR, resolve_defaults

    scratch = resolve_defaults(small_config())
    assert (scratch.lr, scratch.pseudo_labels, scratch.freeze_epochs) == (SCRATCH_LR, 0.0, 0)
    tuned = resolve_defaults(small_config(init="general_picker"))
    assert (tuned.lr, tuned.pseudo_labels, tuned.freeze_epochs) == tuple(FINE_TUNE[k] for k in
                                                                         ("lr", "pseudo_labels", "freeze_epochs"))
    # distillation from the general picker by default only with few labels; hard pseudo-labels only when asked
    few = resolve_defaults(small_config(init="general_picker"), FEW_LABELS_BELOW - 1)
    many = resolve_defaults(small_config(init="general_picker"), FEW_LABELS_BELOW)
    assert (few.distill, few.pseudo_labels) == (FINE_TUNE["distill"], 0.0) and few.distill > 0
    assert (many.distill, many.pseudo_labels) == (0.0, 0.0)
    assert resolve_defaults(small_config(), 10).distill == 0
    assert resolve_defaults(small_config(init="general_picker", pseudo_labels=0.3), 10 ** 4).pseudo_labels == 0.3
    given = resolve_defaults(small_config(init="general_picker", lr=1e-3, pseudo_labels=0.25, freeze_epochs=2))
    assert (given.lr, given.pseudo_labels, given.freeze_epochs) == (1e-3, 0.25, 2)
    # weight mixing with the starting weights: like pseudo-labels, only from the general picker with few labels
    assert resolve_defaults(small_config(init="general_picker"), 10).mix_start == FINE_TUNE["mix_start"] > 0
    assert resolve_defaults(small_config(init="general_picker"), FEW_LABELS_BELOW).mix_start == 0
    assert resolve_defaults(small_config(), 10).mix_start == 0
    assert resolve_defaults(small_config(init="general_picker", mix_start=0.2), 10 ** 4).mix_start == 0.2
    # averaging the last epochs and label-centred tiles: the same rule
    few, many = (resolve_defaults(small_config(init="general_picker"), n) for n in (10, FEW_LABELS_BELOW))
    assert (few.average_last, few.label_tiles) == (FINE_TUNE["average_last"], FINE_TUNE["label_tiles"])
    assert few.average_last > 1 and few.label_tiles > 0
    assert (many.average_last, many.label_tiles) == (1, 0.0)
    assert (scratch.average_last, scratch.label_tiles) == (1, 0.0)
    mine = resolve_defaults(small_config(init="general_picker", average_last=1, label_tiles=0.25), 10)
    assert (mine.average_last, mine.label_tiles) == (1, 0.25)


def test_pick_train_help_states_the_few_label_threshold():
    from click.testing import CliRunner

    from fewlabel.cli import pick as cli_pick
    from fewlabel.cli.main import cli
    from fewlabel.pick.train import FEW_LABELS_BELOW

    assert cli_pick.FEW_LABELS == FEW_LABELS_BELOW
    text = " ".join(CliRunner().invoke(cli, ["pick", "train", "--help"]).output.split())
    assert text.count(f"fewer than {FEW_LABELS_BELOW} labeled") == 4


def test_frozen_trunk_epochs_train_only_the_classifier(blobs, start_state, tmp_path):
    images, names, labeled, *_ = blobs
    quiet = dict(progress=False, log=lambda m: None, init_state=start_state)
    cfg = small_config(init="general_picker", epochs=2, steps_per_epoch=6, pseudo_labels=0.0)
    hist = train_picker(images, names, labeled, replace(cfg, freeze_epochs=1), tmp_path / "f.pt", **quiet)
    assert [h.get("frozen_trunk", False) for h in hist] == [True, False]
    one = train_picker(images, names, labeled, replace(cfg, epochs=1, freeze_epochs=1), tmp_path / "g.pt", **quiet)
    after = _state(tmp_path / "g.pt")
    assert len(one) == 1
    trunk = [k for k in start_state if k.startswith("features.")]
    assert trunk and all(torch.equal(after[k], start_state[k]) for k in trunk)  # weights and BN statistics
    assert not torch.equal(after["classifier.weight"], start_state["classifier.weight"])
    train_picker(images, names, labeled, replace(cfg, epochs=1, freeze_epochs=0), tmp_path / "h.pt", **quiet)
    free = _state(tmp_path / "h.pt")
    assert not all(torch.equal(free[k], start_state[k]) for k in trunk)


def test_pseudo_positives_are_the_top_new_picks(blobs, start_state):
    from fewlabel.pick.models import build_model
    from fewlabel.pick.train import pseudo_positives

    images, names, labeled, *_ = blobs
    model = build_model("conv31", units=8)
    model.load_state_dict(start_state)
    by_name = [labeled[labeled.image_name == n][["x_coord", "y_coord"]].to_numpy(float) for n in names]
    none = [np.zeros((0, 2))] * len(images)
    free = pseudo_positives(model, images, none, 30, 5.0)
    skip = pseudo_positives(model, images, by_name, 30, 5.0)
    assert sum(map(len, free)) == 30 and sum(map(len, skip)) == 30
    for xy, lab in zip(skip, by_name):  # never on a particle that is labeled already
        assert len(lab) == 0 or len(xy) == 0 or (((xy[:, None] - lab[None]) ** 2).sum(-1) > 25).all()
    assert sum(map(len, pseudo_positives(model, images, none, 5, 5.0))) == 5


def test_pseudo_labels_add_positives_and_survive_resume(blobs, start_state, tmp_path):
    images, names, labeled, *_ = blobs
    msgs = []
    quiet = dict(progress=False, init_state=start_state)
    fraction = 0.5
    cfg = small_config(init="general_picker", freeze_epochs=0, pseudo_labels=fraction)
    train_picker(images, names, labeled, cfg, tmp_path / "p.pt", log=msgs.append, **quiet)
    assert load_checkpoint(tmp_path / "p.pt", "pick")["config"]["pseudo_labels"] == fraction
    n = int(round(fraction * 20 * 4))  # pi x area / disk area = 20 expected per micrograph, 4 training micrographs
    assert any(f"top {n} picks" in m for m in msgs), msgs
    pseudo = load_checkpoint(last_path(tmp_path / "p.pt"), "pick")["training_state"]["pseudo_positives"]
    assert sum(len(p) for p in pseudo) == n
    train_picker(images, names, labeled, replace(cfg, pseudo_labels=0.0), tmp_path / "n.pt", log=lambda m: None,
                 **quiet)
    a, n = _state(tmp_path / "p.pt"), _state(tmp_path / "n.pt")
    assert not all(torch.equal(a[k], n[k]) for k in a)  # the extra positives change training
    train_picker(images, names, labeled, replace(cfg, epochs=1), tmp_path / "r.pt", log=lambda m: None, **quiet)
    train_picker(images, names, labeled, cfg, tmp_path / "r.pt", resume=True, log=lambda m: None, **quiet)
    r = _state(tmp_path / "r.pt")
    # resume reuses the stored pseudo-labels, and mixes (mix_start default) with the starting weights, not the resumed
    assert all(torch.equal(a[k], r[k]) for k in a)


def test_pseudo_labels_and_freezing_need_starting_weights(blobs, tmp_path):
    images, names, labeled, *_ = blobs
    for kw in ({"pseudo_labels": 0.5}, {"freeze_epochs": 1}):
        with pytest.raises(InputError, match="starting weights"):
            train_picker(images, names, labeled, small_config(**kw), tmp_path / "m.pt", progress=False)


def test_mix_start_saves_the_trained_weights_mixed_with_the_starting_ones(blobs, start_state, tmp_path):
    from fewlabel.pick.train import mix_states

    images, names, labeled, *_ = blobs
    quiet = dict(progress=False, log=lambda m: None)
    cfg = small_config(init="general_picker", epochs=1, steps_per_epoch=4, pseudo_labels=0.0, freeze_epochs=0)
    train_picker(images, names, labeled, replace(cfg, mix_start=0.25), tmp_path / "m.pt", init_state=start_state,
                 **quiet)
    trained = _state(last_path(tmp_path / "m.pt"))  # the resumable state keeps the weights as trained
    saved = _state(tmp_path / "m.pt")
    assert not torch.equal(trained["classifier.weight"], start_state["classifier.weight"])
    for k, v in saved.items():
        if v.is_floating_point():
            assert torch.allclose(v, 0.75 * trained[k] + 0.25 * start_state[k], atol=1e-6), k
        else:
            assert torch.equal(v, trained[k]), k
    assert all(torch.equal(saved[k], v) for k, v in mix_states(trained, start_state, 0.25).items())
    with pytest.raises(InputError, match="starting weights"):
        train_picker(images, names, labeled, replace(small_config(), mix_start=0.5), tmp_path / "x.pt", **quiet)
    with pytest.raises(InputError, match="between 0 and 1"):
        train_picker(images, names, labeled, replace(cfg, mix_start=1.5), tmp_path / "y.pt", init_state=start_state,
                     **quiet)


def test_cosine_learning_rate_falls_from_lr_to_zero_and_unknown_decays_fail(blobs, tmp_path):
    from fewlabel.pick.train import learning_rate

    cfg = small_config(lr=1e-3, epochs=2, steps_per_epoch=50, lr_decay="cosine")
    assert learning_rate(cfg, 0) == pytest.approx(1e-3)
    assert learning_rate(cfg, 50) == pytest.approx(5e-4)
    assert learning_rate(cfg, 100) == pytest.approx(0.0, abs=1e-12)
    rates = [learning_rate(cfg, s) for s in range(100)]
    assert all(a > b for a, b in zip(rates, rates[1:]))
    assert {learning_rate(replace(cfg, lr_decay="constant"), s) for s in (0, 60, 99)} == {1e-3}
    images, names, labeled, *_ = blobs
    with pytest.raises(InputError, match="learning-rate decay"):
        train_picker(images, names, labeled, replace(cfg, lr_decay="step"), tmp_path / "m.pt", progress=False)
    assert not (tmp_path / "m.pt").exists()


def test_cosine_decay_resumes_to_the_same_weights(blobs, tmp_path):
    images, names, labeled, *_ = blobs
    quiet = dict(progress=False, log=lambda m: None)
    cfg = small_config(lr_decay="cosine")
    train_picker(images, names, labeled, cfg, tmp_path / "a.pt", **quiet)

    def stop_after_first_epoch(msg):
        if msg.startswith("epoch 1/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # Ctrl-C after epoch 1 of the same run, then --resume
        train_picker(images, names, labeled, cfg, tmp_path / "b.pt", progress=False, log=stop_after_first_epoch)
    train_picker(images, names, labeled, cfg, tmp_path / "b.pt", resume=True, **quiet)
    a, b = _state(tmp_path / "a.pt"), _state(tmp_path / "b.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    train_picker(images, names, labeled, replace(cfg, lr_decay="constant"), tmp_path / "c.pt", **quiet)
    assert not all(torch.equal(a[k], v) for k, v in _state(tmp_path / "c.pt").items())


def test_keep_bn_stats_keeps_the_starting_running_statistics(blobs, start_state, tmp_path):
    images, names, labeled, *_ = blobs
    quiet = dict(progress=False, log=lambda m: None, init_state=start_state)
    cfg = small_config(init="general_picker", epochs=1, steps_per_epoch=6, pseudo_labels=0.0, mix_start=0.0)
    stats = [k for k in start_state if k.endswith(("running_mean", "running_var"))]
    assert stats
    train_picker(images, names, labeled, replace(cfg, keep_bn_stats=True), tmp_path / "k.pt", **quiet)
    kept = _state(tmp_path / "k.pt")
    assert all(torch.equal(kept[k], start_state[k]) for k in stats)
    assert not torch.equal(kept["classifier.weight"], start_state["classifier.weight"])  # the weights did train
    train_picker(images, names, labeled, cfg, tmp_path / "u.pt", **quiet)
    assert not all(torch.equal(_state(tmp_path / "u.pt")[k], start_state[k]) for k in stats)
    with pytest.raises(InputError, match="starting weights"):
        train_picker(images, names, labeled, small_config(keep_bn_stats=True), tmp_path / "x.pt", progress=False)


def test_average_last_saves_the_mean_of_the_last_epochs_and_resumes_to_it(blobs, tmp_path):
    images, names, labeled, *_ = blobs
    quiet = dict(progress=False, log=lambda m: None)
    cfg = small_config(epochs=3, steps_per_epoch=6)
    # averaging changes what is saved, never the training itself: the same seed walks the same weights
    train_picker(images, names, labeled, replace(cfg, epochs=2), tmp_path / "two.pt", **quiet)
    train_picker(images, names, labeled, cfg, tmp_path / "three.pt", **quiet)
    train_picker(images, names, labeled, replace(cfg, average_last=2), tmp_path / "avg.pt", **quiet)
    two, three, avg = _state(tmp_path / "two.pt"), _state(tmp_path / "three.pt"), _state(tmp_path / "avg.pt")
    assert all(torch.equal(three[k], v) for k, v in _state(last_path(tmp_path / "avg.pt")).items())
    assert not torch.equal(two["classifier.weight"], three["classifier.weight"])
    for k, v in avg.items():
        if v.is_floating_point():
            assert torch.allclose(v, (two[k] + three[k]) / 2, atol=1e-6), k
        else:
            assert torch.equal(v, three[k]), k

    def stop_after_second_epoch(msg):
        if msg.startswith("epoch 2/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # the window of epoch weights survives --resume
        train_picker(images, names, labeled, replace(cfg, average_last=2), tmp_path / "r.pt", progress=False,
                     log=stop_after_second_epoch)
    train_picker(images, names, labeled, replace(cfg, average_last=2), tmp_path / "r.pt", resume=True, **quiet)
    assert all(torch.equal(avg[k], v) for k, v in _state(tmp_path / "r.pt").items())
    with pytest.raises(InputError, match="average_last"):
        train_picker(images, names, labeled, replace(cfg, average_last=0), tmp_path / "x.pt", **quiet)
    assert not (tmp_path / "x.pt").exists()


def _fine_tuned(blobs, start_state, config, path, **kw):
    """The saved weights of ``config`` fine-tuned from ``start_state`` on the blobs, quietly."""
    images, names, labeled, *_ = blobs
    train_picker(images, names, labeled, config, path, **{"progress": False, "log": lambda m: None,
                                                          "init_state": start_state, **kw})
    return _state(path)


def test_label_tiles_trains_from_the_labels_among_pseudo_labels_and_is_checked(blobs, start_state, tmp_path):
    images, names, labeled, *_ = blobs
    quiet = dict(progress=False, log=lambda m: None, init_state=start_state)
    cfg = small_config(init="general_picker", epochs=1, steps_per_epoch=4, pseudo_labels=0.5, mix_start=0.0)
    a = _fine_tuned(blobs, start_state, replace(cfg, label_tiles=0.0), tmp_path / "a.pt")
    b = _fine_tuned(blobs, start_state, replace(cfg, label_tiles=0.5), tmp_path / "b.pt")
    assert not torch.equal(a["classifier.weight"], b["classifier.weight"])  # other tiles were drawn
    with pytest.raises(InputError, match="label_tiles"):
        train_picker(images, names, labeled, replace(cfg, label_tiles=1.5), tmp_path / "x.pt", **quiet)
    assert not (tmp_path / "x.pt").exists()


def test_distill_pulls_towards_the_starting_model_and_resumes_alike(blobs, start_state, tmp_path):
    from fewlabel.pick.train import teacher_probabilities

    images = blobs[0]
    cfg = small_config(init="general_picker", epochs=2, steps_per_epoch=6, pseudo_labels=0.0, mix_start=0.0,
                       average_last=1, label_tiles=0.0, distill=0.0, distill_targets="tile")
    plain = _fine_tuned(blobs, start_state, cfg, tmp_path / "plain.pt")
    msgs = []
    kd = _fine_tuned(blobs, start_state, replace(cfg, distill=1.0), tmp_path / "kd.pt", log=msgs.append)
    assert any("distilled from them with weight 1" in m for m in msgs), msgs
    assert not all(torch.equal(plain[k], kd[k]) for k in kd)  # the extra term changes training
    weights = [k for k in kd if k.endswith("weight")]

    def distance(state):
        return sum(float((state[k] - start_state[k]).pow(2).sum()) for k in weights)

    # per-tile targets are the start's own scores there, so a heavy weight stays nearer the starting weights
    assert distance(_fine_tuned(blobs, start_state, replace(cfg, distill=100.0), tmp_path / "s.pt")) < distance(plain)

    # 8-view targets pull the scores (not the weights: the start is not rotation invariant) towards its 8-view mean
    model, _ = load_picker(tmp_path / "plain.pt")
    model.load_state_dict(start_state)
    targets = [teacher_probabilities(model, im) for im in images]

    def score_gap(path):
        model, _ = load_picker(path)
        return float(np.mean([np.abs(torch.sigmoid(score_map(model, torch.from_numpy(im))).numpy() - t).mean()
                              for im, t in zip(images, targets)]))

    strong = replace(cfg, distill=100.0, distill_targets="tta")
    heavy = _fine_tuned(blobs, start_state, strong, tmp_path / "strong.pt")
    assert score_gap(tmp_path / "strong.pt") < score_gap(tmp_path / "plain.pt")
    # resume: the targets are the starting model's again, not the resumed weights'
    _fine_tuned(blobs, start_state, replace(strong, epochs=1), tmp_path / "r.pt")
    r = _fine_tuned(blobs, start_state, strong, tmp_path / "r.pt", resume=True)
    assert all(torch.equal(r[k], v) for k, v in heavy.items())


def test_distill_targets_tta_distills_from_the_mean_over_symmetries_and_is_checked(blobs, start_state, tmp_path):
    images, names, labeled, *_ = blobs
    cfg = small_config(init="general_picker", epochs=1, steps_per_epoch=4, pseudo_labels=0.0, mix_start=0.0,
                       average_last=1, label_tiles=0.0, distill=1.0)
    msgs = []
    tile = _fine_tuned(blobs, start_state, replace(cfg, distill_targets="tile"), tmp_path / "tile.pt")
    tta = _fine_tuned(blobs, start_state, replace(cfg, distill_targets="tta"), tmp_path / "tta.pt", log=msgs.append)
    off = _fine_tuned(blobs, start_state, replace(cfg, distill=0.0, distill_targets="tta"), tmp_path / "off.pt")
    assert any("(targets: tta)" in m for m in msgs), msgs
    assert not all(torch.equal(tile[k], tta[k]) for k in tile)  # other targets, other weights
    assert not all(torch.equal(off[k], tta[k]) for k in tta)  # and the tta targets do train
    assert load_checkpoint(tmp_path / "tta.pt", "pick")["config"]["distill_targets"] == "tta"
    with pytest.raises(InputError, match="distill_targets"):
        train_picker(images, names, labeled, replace(cfg, distill_targets="views"), tmp_path / "x.pt", progress=False,
                     log=lambda m: None, init_state=start_state)
    assert not (tmp_path / "x.pt").exists()


def test_distill_needs_starting_weights_and_a_non_negative_weight(blobs, start_state, tmp_path):
    images, names, labeled, *_ = blobs
    with pytest.raises(InputError, match="starting weights"):
        train_picker(images, names, labeled, small_config(distill=1.0), tmp_path / "a.pt", progress=False,
                     log=lambda m: None)
    with pytest.raises(InputError, match="negative"):
        train_picker(images, names, labeled, small_config(init="general_picker", distill=-1.0), tmp_path / "b.pt",
                     progress=False, log=lambda m: None, init_state=start_state)
