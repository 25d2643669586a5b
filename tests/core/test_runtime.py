"""Seeds and run records."""

import json

import numpy as np
import torch

from fewlabel.runtime import resolve_device, save_run_config, seed_everything


def test_same_seed_same_numbers():
    a = seed_everything(5).normal(size=4), torch.rand(3)
    b = seed_everything(5).normal(size=4), torch.rand(3)
    assert np.array_equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not np.array_equal(a[0], seed_everything(6).normal(size=4))


def test_device_auto_is_valid():
    assert resolve_device("auto") in ("cpu", "cuda")
    assert resolve_device("cpu") == "cpu"


def test_run_record(tmp_path):
    path = save_run_config(tmp_path / "run.json", "pick train", {"seed": 1})
    record = json.loads(path.read_text())
    assert record["command"] == "pick train" and record["config"] == {"seed": 1}
    assert record["fewlabel_version"] and record["time"]
