"""Row labels of benchmarks/bench_pick_pretrained.py: a label must mean the same settings in every session."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_pick_pretrained.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_pick_pretrained", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_labels_name_distillation_targets_only_when_something_is_distilled():
    bench = _bench()
    scratch = bench.planned_settings("scratch", {}, 100)
    assert scratch["distill"] == 0 and scratch["distill_targets"] == "tta"  # PLAIN's value, moot without distill
    assert bench.method_label("scratch", scratch, tta=True) == "scratch tta"  # as before session 12
    few = bench.planned_settings("pretrained", {}, 10)
    assert bench.method_label("pretrained", few, tta=True) == (
        "pretrained mix=0.5 swa=5 lt=0.5 kd=1 kdt=tta tta")
    tile = bench.planned_settings("pretrained", {"distill_targets": "tile"}, 10)
    assert "kdt" not in bench.method_label("pretrained", tile)  # the legacy value is never named
