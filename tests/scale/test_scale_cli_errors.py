"""Bad input to the scaled `fewlabel pick extract`: one line, exit code 2, and the others still done."""

import shutil
import socket

import numpy as np
import pytest
import torch

from fewlabel.checkpoint import save_checkpoint
from fewlabel.io.micrographs import write_micrograph
from fewlabel.io.picks import read_picks
from fewlabel.pick.models import build_model, model_config


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Five small micrographs and an (untrained: speed and errors do not depend on weights) picker."""
    root = tmp_path_factory.mktemp("scale_cli")
    mics = root / "mics"
    mics.mkdir()
    rng = np.random.default_rng(0)
    for i in range(5):
        write_micrograph(mics / f"mic_{i}.mrc", rng.normal(size=(64, 64)).astype(np.float32))
    torch.manual_seed(0)
    model = build_model("conv31", units=4)
    config = {"radius": 4.0, "downsample": 2, "normalize": "robust", "nms_radius_used": 8.0,
              "model_config": model_config(model)}
    save_checkpoint(root / "picker.pt", "pick", config, model.state_dict())
    return root / "picker.pt", mics


@pytest.fixture(scope="module")
def scheduler():
    """Address of a small Dask cluster (threads in this process: starts fast) for --scheduler runs."""
    import logging

    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None, silence_logs=logging.CRITICAL) as cluster:
        yield cluster.scheduler_address


def _extract(cli_runner, model, mics, out, *extra):
    return cli_runner("pick", "extract", "--model", model, "--micrographs", mics, "-o", out, "--device", "cpu",
                      *extra)


@pytest.mark.parametrize("shard", ["3/2", "0/2", "2", "a/b"])
def test_bad_shard_spec_is_one_line_and_exit_2(setup, tmp_path, cli_runner, shard):
    model, mics = setup
    code, _, err = _extract(cli_runner, model, mics, tmp_path / "p.tsv", "--shard", shard)
    assert code == 2
    assert "--shard" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "p.tsv").exists() and not (tmp_path / "p.tsv.parts").exists()


def test_scheduler_that_does_not_answer_is_one_line_and_exit_2(setup, tmp_path, cli_runner):
    model, mics = setup
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, _, err = _extract(cli_runner, model, mics, tmp_path / "p.tsv", "--scheduler", f"tcp://127.0.0.1:{port}",
                              "--scheduler-timeout", "1")
    assert code == 2
    assert f"127.0.0.1:{port}" in err and "no Dask scheduler answered within 1 s" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "p.tsv").exists()


def test_micrograph_failing_mid_run_is_reported_others_merged_exit_2(setup, scheduler, tmp_path, cli_runner):
    model, mics = setup
    folder = tmp_path / "mics"
    shutil.copytree(mics, folder)
    data = (folder / "mic_2.mrc").read_bytes()
    (folder / "mic_2.mrc").write_bytes(data[: len(data) // 2])  # truncated: fails only when its turn comes
    out = tmp_path / "p.tsv"
    code, _, err = _extract(cli_runner, model, folder, out, "--scheduler", scheduler)
    assert code == 2
    assert "failed: mic_2:" in err and "truncated" in err
    assert "1 of 5 micrographs failed" in err.strip().splitlines()[-1]
    assert sorted(read_picks(out)["image_name"].unique()) == ["mic_0", "mic_1", "mic_3", "mic_4"]
    # fixed and rerun: only the failed micrograph is computed, then everything is merged
    shutil.copy(mics / "mic_2.mrc", folder / "mic_2.mrc")
    code, stdout, err = _extract(cli_runner, model, folder, out, "--scheduler", scheduler)
    assert code == 0, err
    assert "1 micrographs computed, 4 skipped" in stdout
    assert sorted(read_picks(out)["image_name"].unique()) == [f"mic_{i}" for i in range(5)]


def test_unreadable_micrograph_in_a_plain_run_is_reported_and_the_others_written(setup, tmp_path, cli_runner):
    model, mics = setup
    folder = tmp_path / "mics"
    shutil.copytree(mics, folder)
    data = (folder / "mic_3.mrc").read_bytes()
    (folder / "mic_3.mrc").write_bytes(data[: len(data) // 2])
    out = tmp_path / "p.tsv"
    code, _, err = _extract(cli_runner, model, folder, out)  # no scale option: in-process, no parts folder
    assert code == 2 and "Traceback" not in err
    assert "failed: mic_3.mrc:" in err and "1 of 5 micrographs failed" in err.strip().splitlines()[-1]
    assert sorted(read_picks(out)["image_name"].unique()) == ["mic_0", "mic_1", "mic_2", "mic_4"]
    for i in range(5):  # every one unreadable: an error and no output file
        (folder / f"mic_{i}.mrc").write_bytes(data[:100])
    code, _, err = _extract(cli_runner, model, folder, tmp_path / "q.tsv")
    assert code == 2 and "all 5 micrographs failed" in err.strip().splitlines()[-1]
    assert not (tmp_path / "q.tsv").exists()
