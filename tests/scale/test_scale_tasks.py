"""The pick-extract task: scaled runs (in-process, a Dask worker process) write what `fewlabel pick extract` writes."""

import numpy as np
import pandas as pd
import pytest

from fewlabel.io.micrographs import write_micrograph
from fewlabel.io.picks import read_picks
from fewlabel.scale.cluster import ScaleSpec
from fewlabel.scale.commands import pick_extract
from fewlabel.scale.runner import ItemsFailedError
from fewlabel.scale.tasks import cached_picker


def _blob_micrographs(folder, n=4, size=96, per_image=8, seed=0):
    """Gaussian blobs on noise, written as .mrc; returns the true centres (original pixels)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    rows = []
    for i in range(n):
        img = rng.normal(0, 0.3, (size, size)).astype(np.float32)
        for x, y in rng.uniform(8, size - 8, (per_image, 2)):
            img += np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 2.5 ** 2)).astype(np.float32)
            rows.append((f"m{i}", x, y))
        write_micrograph(folder / f"m{i}.mrc", img)
    return pd.DataFrame(rows, columns=["image_name", "x_coord", "y_coord"])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny picker trained for a few steps with fewlabel's pick API."""
    from fewlabel.pick import data
    from fewlabel.pick.train import TrainConfig, train_picker

    root = tmp_path_factory.mktemp("picker")
    mics = root / "mics"
    mics.mkdir()
    truth = _blob_micrographs(mics)
    paths = data.micrograph_paths(mics)
    images = [im for _, _, im in data.iter_prepared(paths, 2, "robust")]
    names = [p.stem for p in paths]
    config = TrainConfig(radius=4, pi=8 * 13 / 48 ** 2, downsample=2, model="conv31", units=4, epochs=1,
                         steps_per_epoch=3, tile=16, positive_tiles=2, random_tiles=2, nms_radius=8, seed=0)
    train_picker(images, names, data.to_downsampled(truth, 2), config, root / "picker.pt", progress=False,
                 log=lambda m: None)
    return root / "picker.pt", mics


def test_scaled_pick_extract_equals_the_cli(trained, tmp_path, cli_runner):
    model, mics = trained
    code, _, err = cli_runner("pick", "extract", "--model", model, "--micrographs", mics, "-o", tmp_path / "cli.tsv",
                              "--batch-size", "1", "--device", "cpu")
    assert code == 0, err
    reference = read_picks(tmp_path / "cli.tsv")
    assert len(reference) > 0 and reference["image_name"].nunique() == 4
    paths = sorted(mics.glob("*.mrc"))
    for spec, out in ((ScaleSpec(), "inproc.tsv"), (ScaleSpec(workers=1), "dask.tsv")):
        picks = pick_extract(paths, model, tmp_path / out, spec, device="cpu", radius=8.0, log=lambda m: None)
        assert len(picks) == len(reference)
        assert (tmp_path / out).read_bytes() == (tmp_path / "cli.tsv").read_bytes(), spec
        assert not (tmp_path / f"{out}.parts").exists()


def test_no_tta_reaches_the_scaled_workers(trained, tmp_path, cli_runner):
    """`--no-tta` scores one orientation in-process and on Dask workers alike, and changes the picks."""
    model, mics = trained
    args = ("pick", "extract", "--model", model, "--micrographs", mics, "--batch-size", "1", "--device", "cpu")
    assert cli_runner(*args, "-o", tmp_path / "tta.tsv")[0] == 0
    assert cli_runner(*args, "--no-tta", "-o", tmp_path / "plain.tsv")[0] == 0
    assert (tmp_path / "tta.tsv").read_bytes() != (tmp_path / "plain.tsv").read_bytes()
    picks = pick_extract(sorted(mics.glob("*.mrc")), model, tmp_path / "dask.tsv", ScaleSpec(workers=1),
                         device="cpu", radius=8.0, tta=False, log=lambda m: None)
    assert len(picks) > 0
    assert (tmp_path / "dask.tsv").read_bytes() == (tmp_path / "plain.tsv").read_bytes()


def test_unreadable_micrograph_fails_alone(trained, tmp_path):
    import shutil

    model, mics = trained
    for p in mics.glob("*.mrc"):
        shutil.copy(p, tmp_path / p.name)
    (tmp_path / "m2.mrc").write_bytes(b"garbage, not an MRC file")
    paths = sorted(tmp_path.glob("*.mrc"))
    with pytest.raises(ItemsFailedError, match="1 of 4 micrographs failed \\(m2: ") as err:
        pick_extract(paths, model, tmp_path / "out.star", ScaleSpec(), device="cpu", log=lambda m: None)
    assert err.value.failures[0][0] == "m2"
    written = read_picks(tmp_path / "out.star")
    assert sorted(written["image_name"].unique()) == ["m0", "m1", "m3"]  # the others are merged and written


def test_picker_is_cached_per_process_and_reloaded_when_the_file_changes(trained, tmp_path):
    import os
    import shutil

    model, _ = trained
    for f in model.parent.glob(model.name + "*"):  # the model and its JSON sidecar
        shutil.copy(f, tmp_path / f.name)
    copy = tmp_path / model.name
    first = cached_picker(copy, "cpu")
    assert cached_picker(copy, "cpu") is first  # same file: no second load
    st = copy.stat()
    os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # the file was replaced
    assert cached_picker(copy, "cpu") is not first


def _assert_shards_then_merge_equal_one_run(base, tmp_path, cli_runner):
    """Run ``base`` once plainly, then as shards 1/2 and 2/2, then merged: the same picks file, nothing recomputed."""
    code, _, err = cli_runner(*base, "-o", tmp_path / "one.tsv")
    assert code == 0, err
    out = tmp_path / "sharded.tsv"
    for shard in ("1/2", "2/2"):
        code, _, err = cli_runner(*base, "-o", out, "--shard", shard)
        assert code == 0, err
        assert not out.exists()  # a shard only writes its parts
    assert len(list((tmp_path / "sharded.tsv.parts").glob("*.tsv"))) == 4
    code, stdout, err = cli_runner(*base, "-o", out, "--workers", "1")
    assert code == 0, err
    assert "0 micrographs computed, 4 skipped" in stdout  # nothing recomputed: every part was done
    assert out.read_bytes() == (tmp_path / "one.tsv").read_bytes()


def test_cli_shards_then_merge_equal_one_run(trained, tmp_path, cli_runner):
    """`fewlabel pick extract --shard I/N` (sbatch --array style), then a plain rerun merges the parts."""
    model, mics = trained
    base = ("pick", "extract", "--model", model, "--micrographs", mics, "--batch-size", "1", "--device", "cpu",
            "--radius", "8")
    _assert_shards_then_merge_equal_one_run(base, tmp_path, cli_runner)


def test_general_picker_shards_then_merge_equal_one_run(trained, tmp_path, cli_runner):
    """Zero labels (no --model) sharded: every shard writes the same general-picker file, and the parts of
    the earlier shards stay valid (the run is keyed on the model's content, not on when it was written)."""
    _, mics = trained
    base = ("pick", "extract", "--diameter", "10", "--micrographs", mics, "--device", "cpu")
    _assert_shards_then_merge_equal_one_run(base, tmp_path, cli_runner)
