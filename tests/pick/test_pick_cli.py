"""`fewlabel pick train|extract|evaluate` end to end on tiny blob micrographs, and bad input."""

import re

import numpy as np
import pytest

from fewlabel.io.micrographs import write_micrograph
from fewlabel.io.picks import read_picks, write_picks
from tests.pick.blobdata import blob_micrographs


@pytest.fixture(scope="module")
def blob_dir(tmp_path_factory):
    """5 training + 2 test micrographs (96 px blobs upsampled x2 -> 192 px, so --downsample 2 is exercised)."""
    root = tmp_path_factory.mktemp("pickcli")
    for sub, n, seed in (("train", 5, 0), ("test", 2, 1)):
        images, names, truth = blob_micrographs(n, size=96, per_image=12, seed=seed, prefix=sub)
        (root / sub).mkdir()
        for im, name in zip(images, names):
            write_micrograph(root / sub / f"{name}.mrc", np.kron(im, np.ones((2, 2), np.float32)))
        truth = truth.assign(x_coord=truth.x_coord * 2, y_coord=truth.y_coord * 2)
        write_picks(truth, root / f"{sub}_truth.tsv")
        labeled = truth.groupby("image_name").head(5)
        # names with an extension must match too
        write_picks(labeled.assign(image_name=labeled.image_name + ".mrc"), root / f"{sub}_labeled.csv")
    return root


@pytest.fixture(scope="module")
def trained(blob_dir, tmp_path_factory):
    from click.testing import CliRunner

    from fewlabel.cli.main import cli

    out = tmp_path_factory.mktemp("model") / "picker.pt"
    res = CliRunner().invoke(cli, ["pick", "train", "--micrographs", str(blob_dir / "train"),
                                   "--picks", str(blob_dir / "train_labeled.csv"), "--radius", "4",
                                   "--expected", "12", "--downsample", "2", "--model", "conv31",
                                   "--objective", "ge-kl", "--epochs", "2", "--steps-per-epoch", "25",
                                   "--particle-radius", "10", "--seed", "1", "--validation-fraction", "0.2",
                                   "-o", str(out)],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return out, res.stdout


def test_train_writes_model_curve_and_reports_epochs(trained):
    out, stdout = trained
    assert out.exists() and out.with_name("picker.last.pt").exists() and out.with_name("picker.training.png").exists()
    assert "pi = " in stdout and re.search(r"epoch 2/2 loss=\S+ val_auprc=", stdout)


def test_extract_and_evaluate(trained, blob_dir, tmp_path, cli_runner):
    model, _ = trained
    picks = tmp_path / "picks.star"
    code, out, err = cli_runner("pick", "extract", "--model", model, "--micrographs", blob_dir / "test",
                                "-o", picks, "--score-maps", tmp_path / "maps")
    assert code == 0, err
    table = read_picks(picks)
    assert set(table.image_name) == {"test0", "test1"} and "score" in table.columns
    # coordinates are in original pixels (192 px micrographs), scores sorted per micrograph
    assert table.x_coord.max() > 96 and table.x_coord.max() < 192
    assert (tmp_path / "maps" / "test0.mrc").exists() and (tmp_path / "maps" / "test0.png").exists()
    code, out, err = cli_runner("pick", "evaluate", "--picks", picks, "--truth", blob_dir / "test_truth.tsv",
                                "--radius", "6", "--plot", tmp_path / "pr.png", "--overlay", tmp_path / "ov",
                                "--micrographs", blob_dir / "test")
    assert code == 0, err
    last = out.strip().splitlines()[-1]
    assert last.startswith("auprc=")
    auprc = float(re.match(r"auprc=(\S+)", last).group(1))
    # random scores on the same picks: precision = fraction of picks that hit a particle
    n_true = 24
    assert auprc > 2 * n_true / len(table)
    assert (tmp_path / "pr.png").exists() and len(list((tmp_path / "ov").glob("*.png"))) == 2
    # threshold filters, tsv output, nothing for picks below it
    code, _, err = cli_runner("pick", "extract", "--model", model, "--micrographs", blob_dir / "test",
                              "-o", tmp_path / "p.tsv", "--threshold", "0", "--radius", "12")
    assert code == 0, err
    high = read_picks(tmp_path / "p.tsv")
    assert len(high) < len(table) and (high.score >= 0).all()


def test_evaluate_default_radius_and_unscored(blob_dir, cli_runner, tmp_path):
    truth = read_picks(blob_dir / "test_truth.tsv")
    write_picks(truth.iloc[::2], tmp_path / "half.tsv")
    code, out, err = cli_runner("pick", "evaluate", "--picks", tmp_path / "half.tsv", "--truth",
                                blob_dir / "test_truth.tsv")
    assert code == 0, err
    assert "matching radius" in out and "no scores" in out
    last = out.strip().splitlines()[-1]
    assert re.match(r"auprc=0\.5\d* precision=1\.0000 recall=0\.5\d*", last), last


def test_fractional_downsampling_round_trips_to_original_pixels(blob_dir, tmp_path, cli_runner):
    """--downsample 1.6 trains on 120-px images and extract maps picks back to the 192-px originals."""
    from fewlabel.pick.train import load_picker

    model = tmp_path / "frac.pt"
    code, out, err = cli_runner("pick", "train", "--micrographs", blob_dir / "train", "--picks",
                                blob_dir / "train_labeled.csv", "--radius", "4", "--expected", "12",
                                "--downsample", "1.6", "--model", "conv31", "--no-pretrained", "--epochs", "1",
                                "--steps-per-epoch", "15", "--particle-radius", "10", "-o", model)
    assert code == 0, err
    assert "downsampling by 1.6" in out and load_picker(model)[1]["downsample"] == 1.6
    picks = tmp_path / "frac.tsv"
    code, out, err = cli_runner("pick", "extract", "--model", model, "--micrographs", blob_dir / "test", "-o", picks)
    assert code == 0, err
    table = read_picks(picks)
    assert table.x_coord.max() > 150 and table.x_coord.max() < 192 and table.y_coord.min() >= 0


def test_bad_input_is_one_line_and_exit_2(blob_dir, trained, tmp_path, cli_runner):
    model, _ = trained
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "m.pt"
    base = ["pick", "train", "--picks", blob_dir / "train_labeled.csv", "--expected", "10", "-o", out]
    code, _, err = cli_runner(*base, "--micrographs", empty, "--radius", "4")
    assert code == 2 and "no micrographs" in err
    code, _, err = cli_runner(*base, "--micrographs", blob_dir / "test", "--radius", "4")
    assert code == 2 and "not there" in err  # labels name train micrographs only
    code, _, err = cli_runner(*base, "--micrographs", blob_dir / "train", "--radius", "400", "--downsample", "2")
    assert code == 2 and "larger than the downsampled" in err
    code, _, err = cli_runner(*base, "--micrographs", blob_dir / "train", "--radius", "4", "--downsample", "0.5")
    assert code == 2 and "--downsample must be at least 1" in err
    code, _, err = cli_runner("pick", "train", "--micrographs", blob_dir / "train", "--picks",
                              blob_dir / "train_labeled.csv", "--radius", "4", "-o", out)
    assert code == 2 and "--expected" in err
    code, _, err = cli_runner(*base, "--micrographs", blob_dir / "train", "--radius", "4", "--resume")
    assert code == 2 and "nothing to resume" in err
    assert not out.exists()
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a model" * 10)
    code, _, err = cli_runner("pick", "extract", "--model", corrupt, "--micrographs", blob_dir / "test",
                              "-o", tmp_path / "x.star")
    assert code == 2 and "model file" in err and not (tmp_path / "x.star").exists()
    code, _, err = cli_runner("pick", "extract", "--model", model, "--micrographs", empty, "-o", tmp_path / "x.star")
    assert code == 2 and not (tmp_path / "x.star").exists()
