"""Particles-extract and embed tasks: chunked, merged results equal the one-shot functions."""

import numpy as np
import pandas as pd
import pytest

from fewlabel.io.micrographs import write_micrograph
from fewlabel.scale.cluster import ScaleSpec
from fewlabel.scale.merge import concat_stacks
from fewlabel.scale.parts import PickleCodec
from fewlabel.scale.runner import run_scaled
from fewlabel.scale.tasks import EmbedTask, ParticlesExtractTask, row_chunks, stack_rows


def _run(items, task, tmp_path, what):
    return run_scaled(items, task, codec=PickleCodec(), parts_dir=tmp_path / f"{what}.parts", spec=ScaleSpec(),
                      finish=lambda parts: list(parts), what=what, progress=False, log=lambda m: None).result


def test_particles_task_per_micrograph_equals_extract_particles(tmp_path):
    from fewlabel.particles import extract_particles

    rng = np.random.default_rng(0)
    images = {f"m{i}": rng.normal(size=(80, 90)).astype(np.float32) for i in range(3)}
    for name, im in images.items():
        write_micrograph(tmp_path / f"{name}.mrc", im, pixel_size=1.5)
    picks = pd.DataFrame({"image_name": ["m2", "m0", "m2", "m1", "m0", "m1"],
                          "x_coord": [20.0, 40, 85, 30, 60, 45], "y_coord": [20.0, 30, 40, 50, 60, 3],
                          "score": np.arange(6.0)})
    ref_images, ref_meta = extract_particles(images, picks, 16, 2, "skip", "background")
    groups = dict(tuple(picks.groupby("image_name", sort=False)))
    items = [(name, (tmp_path / f"{name}.mrc", g)) for name, g in groups.items()]
    parts = _run(items, ParticlesExtractTask(box=16, downsample=2), tmp_path, "micrographs")
    got_images, got_meta, pixel_size = concat_stacks(parts)
    # per-particle normalisation: same numbers up to float32 summation order
    np.testing.assert_allclose(got_images, ref_images, rtol=1e-5, atol=1e-5)
    pd.testing.assert_frame_equal(got_meta, ref_meta)
    assert pixel_size == pytest.approx(1.5) and len(got_meta) < len(picks)  # edge boxes skipped


def test_embed_task_in_row_chunks_equals_one_pass(tmp_path):
    import torch

    from fewlabel.checkpoint import save_checkpoint
    from fewlabel.classify2d.embed import embed
    from fewlabel.classify2d.models import EmbeddingNet
    from fewlabel.io.stacks import write_stack

    torch.manual_seed(0)
    model = EmbeddingNet(box=16, dim=8, width=4, depth=2, rot_pool=1).eval()
    save_checkpoint(tmp_path / "emb.pt", "classify2d", {"model": model.config()}, model.state_dict())
    stack = np.random.default_rng(1).normal(size=(11, 16, 16)).astype(np.float32)
    write_stack(tmp_path / "p.mrcs", stack, None, 1.0)
    assert stack_rows(tmp_path / "p.mrcs") == 11
    items = row_chunks(11, 4)
    assert [r for _, r in items] == [(0, 4), (4, 8), (8, 11)]
    parts = _run(items, EmbedTask(str(tmp_path / "emb.pt"), str(tmp_path / "p.mrcs"), device="cpu"), tmp_path,
                 "chunks")
    np.testing.assert_allclose(np.concatenate(parts), embed(model, stack), rtol=1e-5, atol=1e-6)


def test_scaled_particles_and_embed_commands_write_what_the_cli_writes(tmp_path, cli_runner):
    import torch

    from fewlabel.checkpoint import save_checkpoint
    from fewlabel.classify2d.models import EmbeddingNet
    from fewlabel.io.picks import write_picks
    from fewlabel.io.stacks import read_stack
    from fewlabel.scale.commands import classify2d_embed, particles_extract

    rng = np.random.default_rng(3)
    mics = tmp_path / "mics"
    mics.mkdir()
    for i in range(3):
        write_micrograph(mics / f"m{i}.mrc", rng.normal(size=(96, 96)).astype(np.float32), pixel_size=2.0)
    picks = pd.DataFrame({"image_name": ["m1", "m0", "m1", "m2", "m0", "m2", "m1"],
                          "x_coord": [20.0, 40, 70, 30, 60, 48, 50], "y_coord": [20.0, 30, 40, 50, 60, 48, 70]})
    write_picks(picks, tmp_path / "picks.tsv")
    code, _, err = cli_runner("particles", "extract", "--micrographs", mics, "--picks", tmp_path / "picks.tsv",
                              "--box", 32, "--downsample", 2, "-o", tmp_path / "cli.mrcs")
    assert code == 0, err
    cli_images, cli_meta, cli_ps = read_stack(tmp_path / "cli.mrcs")
    images, meta = particles_extract({f"m{i}": mics / f"m{i}.mrc" for i in range(3)}, picks, tmp_path / "s.mrcs",
                                     ScaleSpec(), box=32, downsample=2, log=lambda m: None)
    got_images, got_meta, got_ps = read_stack(tmp_path / "s.mrcs")
    assert got_ps == pytest.approx(cli_ps) == pytest.approx(4.0) and len(got_images) == len(cli_images) == 7
    np.testing.assert_allclose(got_images, cli_images, rtol=1e-5, atol=1e-5)
    pd.testing.assert_frame_equal(got_meta, cli_meta)

    torch.manual_seed(0)
    model = EmbeddingNet(box=16, dim=8, width=4, depth=2, rot_pool=1).eval()
    save_checkpoint(tmp_path / "emb.pt", "classify2d", {"model": model.config()}, model.state_dict())
    code, _, err = cli_runner("classify2d", "embed", "--model", tmp_path / "emb.pt", "--particles",
                              tmp_path / "cli.mrcs", "--device", "cpu", "-o", tmp_path / "cli.npy")
    assert code == 0, err
    emb = classify2d_embed(tmp_path / "emb.pt", tmp_path / "cli.mrcs", tmp_path / "s.npy", ScaleSpec(), device="cpu",
                           chunk=3, log=lambda m: None)
    np.testing.assert_allclose(np.load(tmp_path / "s.npy"), np.load(tmp_path / "cli.npy"), rtol=1e-5, atol=1e-6)
    assert emb.shape == (7, 8)
