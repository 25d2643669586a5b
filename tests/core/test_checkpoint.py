"""Model files: round trip with config, and clear errors for corrupt, foreign or other-kind files."""

import json

import pytest
import torch

from fewlabel.checkpoint import load_checkpoint, save_checkpoint
from fewlabel.errors import InputError


def test_round_trip_and_json_sidecar(tmp_path):
    model = torch.nn.Linear(3, 2)
    path = save_checkpoint(tmp_path / "m.pt", "pick", {"radius": 7, "model": "resnet8"},
                           model.state_dict(), {"epoch": 3})
    payload = load_checkpoint(path, "pick")
    assert payload["config"] == {"radius": 7, "model": "resnet8"}
    assert payload["training_state"]["epoch"] == 3
    assert torch.equal(payload["state_dict"]["weight"], model.weight)
    assert json.loads((tmp_path / "m.pt.json").read_text())["config"]["radius"] == 7


def test_bad_model_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt", "pick")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x00garbage")
    with pytest.raises(InputError, match="not a readable"):
        load_checkpoint(corrupt, "pick")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(InputError, match="not a fewlabel model"):
        load_checkpoint(foreign, "pick")
    path = save_checkpoint(tmp_path / "c.pt", "classify2d", {}, {})
    with pytest.raises(InputError, match="expected a 'pick' model"):
        load_checkpoint(path, "pick")
    payload = torch.load(path, weights_only=True)
    payload["format_version"] = 999
    torch.save(payload, path)
    with pytest.raises(InputError, match="format version 999"):
        load_checkpoint(path, "classify2d")


def test_same_weights_same_bytes_whatever_the_file_name(tmp_path):
    """A checkpoint's bytes depend on its content only (run keys of scaled jobs hash the model file)."""
    state = {"w": torch.arange(6.0).reshape(2, 3)}
    a = save_checkpoint(tmp_path / "a.pt", "pick", {"radius": 3}, state)
    b = save_checkpoint(tmp_path / "other_name.pt", "pick", {"radius": 3}, state)
    c = save_checkpoint(tmp_path / "c.pt", "pick", {"radius": 4}, state)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]  # no temp file left behind
