"""The general picker: assemblies, canonical corpus, pretraining, and its use by pick train/extract.

A tiny general picker is built in a fixture (never the shipped one) and put in place of the
shipped weights with monkeypatch.
"""

from dataclasses import replace

import numpy as np
import pytest
import torch

from fewlabel.errors import InputError
from fewlabel.io.micrographs import write_micrograph
from fewlabel.io.picks import read_picks, write_picks
from fewlabel.pick import pretrained
from fewlabel.pick.pretrained import Recipe
from fewlabel.simulate.assemblies import point_group_rotations, symmetric_assembly
from fewlabel.simulate.density import load_molecule
from tests.pick.blobdata import blob_micrographs

TINY = replace(Recipe(), corpus=("5a7u", "5a7u:C3:0"), n_micrographs=3, n_validation=1, shape=64, tile=16,
               batch=2, steps=6, coverage=(0.1, 0.2))


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    """A general picker trained for 6 steps on 3 tiny corpus micrographs, and its summary."""
    out = tmp_path_factory.mktemp("general") / "general_picker.pt"
    summary = pretrained.pretrain(TINY, out, checkpoint_every=3, log=lambda m: None, progress=False)
    return out, summary


@pytest.fixture
def shipped(tiny_weights, monkeypatch):
    """Make the tiny weights the 'shipped' general picker."""
    monkeypatch.setattr(pretrained, "weights_path", lambda: tiny_weights[0])
    return tiny_weights[0]


def test_point_groups_and_assembly_shapes():
    assert len(point_group_rotations("C4")) == 4 and len(point_group_rotations("D3")) == 6
    rots = point_group_rotations("D2")
    assert np.allclose(np.einsum("kij,kil->kjl", rots, rots), np.eye(3))  # all orthogonal
    mono = load_molecule("5a7u")
    d2 = symmetric_assembly(mono, "D2", seed=0)
    assert d2.n_atoms == 4 * mono.n_atoms and np.allclose(d2.coords.mean(axis=0), 0, atol=1e-9)
    assert d2.radius > 1.5 * mono.radius  # copies side by side make a larger particle
    assert not np.allclose(symmetric_assembly(mono, "C3", seed=1).coords, symmetric_assembly(mono, "C3").coords)
    with pytest.raises(InputError):
        point_group_rotations("T")


def test_canonical_micrograph_is_seeded_and_in_the_canonical_frame():
    a, b = pretrained.simulate_canonical(TINY, 2), pretrained.simulate_canonical(TINY, 2)
    c = pretrained.simulate_canonical(replace(TINY, seed=1), 2)
    assert np.array_equal(a.image, b.image) and not np.array_equal(a.image, c.image)
    lo, hi = TINY.particle_radius
    assert lo <= a.particle_radius <= hi and a.image.shape == (64, 64) and len(a.centres) > 0
    assert abs(float(np.median(a.image))) < 1e-3  # robust-normalised like pick train's inputs
    assert a.info["molecule"] in TINY.corpus


def _high_frequency_share(image: np.ndarray) -> float:
    f = np.abs(np.fft.fft2(image - image.mean())) ** 2
    r = np.hypot(*np.meshgrid(np.fft.fftfreq(image.shape[0]), np.fft.fftfreq(image.shape[1]), indexing="ij"))
    return float(f[r > 0.25].sum() / f.sum())


def test_lowpass_corpus_micrographs_are_blurred_and_the_rest_unchanged():
    """A low-passed corpus micrograph (denoised look) has the same particles and far less power above 0.25
    cycles/px; with probability 0 the corpus is exactly the one without the option."""
    plain = pretrained.simulate_canonical(TINY, 2)
    assert pretrained.simulate_canonical(replace(TINY, lowpass_probability=0.0), 2).info["lowpass_sigma"] == 0
    blurred = pretrained.simulate_canonical(replace(TINY, lowpass_probability=1.0, lowpass_sigma=(1.5, 1.5)), 2)
    assert blurred.info["lowpass_sigma"] == pytest.approx(1.5)
    assert np.array_equal(plain.centres, blurred.centres)
    assert _high_frequency_share(blurred.image) < 0.1 * _high_frequency_share(plain.image)
    assert abs(float(np.median(blurred.image))) < 1e-3


def test_highpass_corpus_micrographs_lose_their_background():
    """Flattened corpus micrographs (background blur subtracted) keep far less of their power below 0.03 cycles/px."""
    def low_share(image):
        f = np.abs(np.fft.fft2(image - image.mean())) ** 2
        r = np.hypot(*np.meshgrid(np.fft.fftfreq(image.shape[0]), np.fft.fftfreq(image.shape[1]), indexing="ij"))
        return float(f[(r > 0) & (r < 0.03)].sum() / f.sum())

    recipe = replace(TINY, contaminations=(3.0, 3.0), carbon_probability=1.0)
    plain = pretrained.simulate_canonical(recipe, 1)
    flat = pretrained.simulate_canonical(replace(recipe, highpass_probability=1.0, highpass_sigma=(4.0, 4.0)), 1)
    assert flat.info["highpass_sigma"] == pytest.approx(4.0) and plain.info["highpass_sigma"] == 0
    assert np.array_equal(plain.centres, flat.centres)
    assert low_share(flat.image) < 0.5 * low_share(plain.image)


def test_pretrain_writes_a_loadable_reproducible_general_picker(tiny_weights, tmp_path):
    out, summary = tiny_weights
    model, config = pretrained.load_general(out)
    assert config["general_picker"] and config["recipe"]["steps"] == 6 and out.with_name(out.name + ".json").exists()
    assert [h["step"] for h in summary["history"]] == [3, 6] and 0 <= summary["val_auprc"] <= 1
    again = tmp_path / "again.pt"
    pretrained.pretrain(TINY, again, checkpoint_every=3, log=lambda m: None, progress=False)
    m2, _ = pretrained.load_general(again)
    for (k, v), v2 in zip(model.state_dict().items(), m2.state_dict().values()):
        assert torch.equal(v, v2), k
    assert out.stat().st_size < 10e6


def test_pretrain_resume_gives_the_same_weights(tiny_weights, tmp_path):
    from fewlabel.checkpoint import load_checkpoint
    from fewlabel.pick.train import last_path

    def stop_at_3(msg):
        if '"step": 3' in msg:
            raise KeyboardInterrupt

    out = tmp_path / "stopped.pt"
    with pytest.raises(KeyboardInterrupt):
        pretrained.pretrain(TINY, out, checkpoint_every=3, log=stop_at_3, progress=False)
    assert not out.exists() and load_checkpoint(last_path(out), "pick")["training_state"]["step"] == 3
    pretrained.pretrain(TINY, out, checkpoint_every=3, resume=True, log=lambda m: None, progress=False)
    a = load_checkpoint(tiny_weights[0], "pick")["state_dict"]
    b = load_checkpoint(out, "pick")["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_config_for_diameter_puts_the_particle_at_the_working_radius():
    cfg = pretrained.config_for_diameter({"downsample": 1, "radius": 3.0}, 108)
    assert cfg["downsample"] == 8 and cfg["radius"] == 27 and cfg["nms_radius_used"] == 54
    factor = pretrained.downsample_for_diameter(50.7)  # not rounded to an integer
    assert 50.7 / 2 / factor == pytest.approx(pretrained.WORKING_PARTICLE_RADIUS, rel=1e-3) and factor != round(factor)
    assert pretrained.downsample_for_diameter(10) == 1
    with pytest.raises(InputError):
        pretrained.config_for_diameter({}, 0)


def test_pick_train_downsampling_depends_on_the_start():
    from fewlabel.pick.train import default_downsample

    assert default_downsample(27) == 9  # random weights: positive radius ~3 px, an integer
    assert default_downsample(2) == 1
    assert default_downsample(27, general_picker=True) == pretrained.downsample_for_diameter(108)
    assert default_downsample(27, particle_radius=40, general_picker=True) == pretrained.downsample_for_diameter(80)


def test_train_from_pretrained_scores_epoch_zero_and_rejects_other_shapes(tiny_weights, tmp_path):
    from fewlabel.checkpoint import load_checkpoint
    from fewlabel.pick.train import TrainConfig, train_picker

    images, names, truth = blob_micrographs(4, size=64, per_image=8, seed=3)
    state = load_checkpoint(tiny_weights[0], "pick")["state_dict"]
    cfg = TrainConfig(radius=2, pi=0.05, epochs=1, steps_per_epoch=3, init="general_picker")
    hist = train_picker(images, names, truth, cfg, tmp_path / "m.pt", validation=["m3"], init_state=state,
                        log=lambda m: None, progress=False)
    assert [h["epoch"] for h in hist] == [0, 1] and hist[1]["elapsed_s"] > 0
    saved = load_checkpoint(tmp_path / "m.pt", "pick")
    assert saved["config"]["init"] == "general_picker"
    with pytest.raises(InputError):
        train_picker(images, names, truth, replace(cfg, units=8), tmp_path / "x.pt", init_state=state,
                     log=lambda m: None, progress=False)


@pytest.fixture(scope="module")
def mic_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrained_cli")
    images, names, truth = blob_micrographs(3, size=64, per_image=8, seed=5)
    (root / "mics").mkdir()
    for im, name in zip(images, names):
        write_micrograph(root / "mics" / f"{name}.mrc", im)
    write_picks(truth, root / "labeled.tsv")
    return root


@pytest.mark.parametrize("flag, init", [(None, "general_picker"), ("--no-pretrained", "scratch")])
def test_cli_train_default_is_pretrained(shipped, mic_dir, tmp_path, cli_runner, flag, init):
    from fewlabel.checkpoint import load_checkpoint

    out = tmp_path / "p.pt"
    args = ["pick", "train", "--micrographs", mic_dir / "mics", "--picks", mic_dir / "labeled.tsv", "--radius", "2",
            "--expected", "8", "--epochs", "1", "--steps-per-epoch", "2", "-o", out] + ([flag] if flag else [])
    code, stdout, err = cli_runner(*args)
    assert code == 0, err
    assert ("general picker" in stdout) == (init == "general_picker")
    assert load_checkpoint(out, "pick")["config"]["init"] == init


def test_cli_pretrained_with_other_architecture_is_an_input_error(shipped, mic_dir, tmp_path, cli_runner):
    code, _, err = cli_runner("pick", "train", "--micrographs", mic_dir / "mics", "--picks", mic_dir / "labeled.tsv",
                              "--radius", "2", "--expected", "8", "--units", "8", "--pretrained", "-o", tmp_path / "p.pt")
    assert code == 2 and "--no-pretrained" in err


def test_cli_extract_without_model_uses_the_general_picker(shipped, mic_dir, tmp_path, cli_runner):
    code, _, err = cli_runner("pick", "extract", "--micrographs", mic_dir / "mics", "-o", tmp_path / "a.tsv")
    assert code == 2 and "--diameter" in err
    code, stdout, err = cli_runner("pick", "extract", "--micrographs", mic_dir / "mics", "--diameter", "12",
                                   "-o", tmp_path / "picks.tsv")
    assert code == 0, err
    picks = read_picks(tmp_path / "picks.tsv")
    assert set(picks.image_name) == {"m0", "m1", "m2"} and picks["score"].notna().all()
    assert "zero labels" in stdout


def test_cli_train_fine_tuning_options_reach_the_config(shipped, mic_dir, tmp_path, cli_runner):
    from fewlabel.checkpoint import load_checkpoint

    base = ["pick", "train", "--micrographs", mic_dir / "mics", "--picks", mic_dir / "labeled.tsv", "--radius", "2",
            "--expected", "8", "--epochs", "2", "--steps-per-epoch", "2"]
    code, stdout, err = cli_runner(*base, "--lr", "2e-4", "--pseudo-labels", "0.5", "--freeze-epochs", "1",
                                   "--average-last", "1", "--label-tiles", "0.25", "--distill", "0.5",
                                   "--distill-targets", "tile", "-o", tmp_path / "p.pt")
    assert code == 0, err
    cfg = load_checkpoint(tmp_path / "p.pt", "pick")["config"]
    assert (cfg["lr"], cfg["pseudo_labels"], cfg["freeze_epochs"]) == (2e-4, 0.5, 1)
    assert (cfg["average_last"], cfg["label_tiles"], cfg["distill"], cfg["distill_targets"]) == (1, 0.25, 0.5, "tile")
    assert "pseudo-labels: the starting model's top" in stdout
    # a few labels from the general picker: distillation, weights averaged over the last epochs, half the tiles
    # on the labels
    code, stdout, err = cli_runner(*base, "-o", tmp_path / "d.pt")
    assert code == 0, err
    cfg = load_checkpoint(tmp_path / "d.pt", "pick")["config"]
    assert (cfg["average_last"], cfg["label_tiles"], cfg["distill"], cfg["pseudo_labels"]) == (5, 0.5, 1.0, 0.0)
    assert cfg["distill_targets"] == "tta"  # the starting model's 8-view scores, computed once
    assert "averaged over the last 5 epochs" in stdout
    code, _, err = cli_runner(*base, "--no-pretrained", "--pseudo-labels", "0.5", "-o", tmp_path / "q.pt")
    assert code == 2 and "starting weights" in err
