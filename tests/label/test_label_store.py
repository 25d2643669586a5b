"""LabelStore: every change saved at once in original pixels, and a restart resumes."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from fewlabel.label.store import LabelStore, session_path

NAMES = ["m1", "m2"]


def read(path):
    from fewlabel.io.picks import read_picks

    return read_picks(path)


def scored():
    return pd.DataFrame({
        "image_name": ["m1", "m1", "m1", "m2", "m2"],
        "x_coord": [10.0, 50.0, 90.0, 20.0, 60.0],
        "y_coord": [15.0, 55.0, 95.0, 25.0, 65.0],
        "score": [0.2, 0.5, 0.9, 0.4, 0.7],
    })


@pytest.mark.parametrize("suffix", [".star", ".tsv", ".csv", ".txt"])
def test_label_mode_saves_every_change(tmp_path, suffix):
    out = tmp_path / f"labels{suffix}"
    store = LabelStore(NAMES, out, box_size=20)
    store.check_writable()
    assert store.mode == "label" and not out.exists()
    a = store.add("m1", 100, 40)
    store.add("m2", 30, 70)
    saved = read(out)
    assert len(saved) == 2
    assert set(saved["image_name"]) == {"m1", "m2"}
    row = saved[saved["image_name"] == "m1"].iloc[0]
    assert row["x_coord"] == pytest.approx(100, abs=0.5)
    assert row["y_coord"] == pytest.approx(40, abs=0.5)
    store.remove(a.id)
    assert list(read(out)["image_name"]) == ["m2"]
    assert store.counts() == {"m1": 0, "m2": 1}


def test_box_output_is_refused_up_front(tmp_path):
    from fewlabel.errors import InputError

    with pytest.raises(InputError, match="one micrograph per file"):
        LabelStore(NAMES, tmp_path / "labels.box", box_size=20).check_writable()
    assert not list(tmp_path.iterdir())


def test_remove_unknown_or_twice_raises(tmp_path):
    store = LabelStore(NAMES, tmp_path / "l.star")
    p = store.add("m1", 1, 1)
    store.remove(p.id)
    with pytest.raises(KeyError):
        store.remove(p.id)
    with pytest.raises(KeyError):
        store.remove(999)
    with pytest.raises(KeyError):
        store.add("not_there", 1, 1)


def test_label_mode_resumes_from_output(tmp_path):
    out = tmp_path / "labels.star"
    first = LabelStore(NAMES, out)
    first.add("m1", 11, 12)
    first.add("m2", 21, 22)
    first.set_current("m2")
    again = LabelStore(NAMES, out, resume=read(out))
    assert again.current == 1
    assert sorted((p.image_name, round(p.x), round(p.y)) for p in again.kept()) == [
        ("m1", 11, 12), ("m2", 21, 22)]


def test_starting_labels_without_scores_are_labels(tmp_path):
    start = scored().drop(columns="score")
    store = LabelStore(NAMES, tmp_path / "l.tsv", initial=start)
    assert store.mode == "label"
    assert len(store.kept()) == 5 and all(p.manual for p in store.kept())


def test_review_threshold_keeps_picks_above_and_hand_picks(tmp_path):
    out = tmp_path / "reviewed.star"
    store = LabelStore(NAMES, out, initial=scored())
    assert store.mode == "review" and store.score_range == (0.2, 0.9)
    assert len(store.kept()) == 5  # default threshold keeps everything
    store.add("m1", 70, 70)
    assert store.set_threshold(0.5) == 4  # 0.5, 0.9, 0.7 and the hand pick
    saved = read(out)
    assert len(saved) == 4
    assert saved["score"].min() >= 0.5
    hand = saved[(saved["x_coord"] - 70).abs() < 0.5]
    assert len(hand) == 1 and hand["score"].iloc[0] == pytest.approx(0.9)  # top score of run
    assert json.loads(session_path(out).read_text())["threshold"] == 0.5
    with pytest.raises(ValueError):
        store.set_threshold(float("nan"))


def test_threshold_is_refused_in_label_mode(tmp_path):
    store = LabelStore(NAMES, tmp_path / "l.star")
    with pytest.raises(ValueError):
        store.set_threshold(0.5)


def test_review_resume_recovers_removed_added_and_threshold(tmp_path):
    out = tmp_path / "reviewed.tsv"
    store = LabelStore(NAMES, out, initial=scored())
    store.set_threshold(0.45)
    gone = next(p for p in store.picks("m2") if p.score == 0.7)
    store.remove(gone.id)
    store.add("m2", 33, 44)
    before = sorted((p.image_name, round(p.x), round(p.y)) for p in store.kept())

    again = LabelStore(NAMES, out, initial=scored(), resume=read(out))
    assert again.threshold == 0.45
    assert sorted((p.image_name, round(p.x), round(p.y)) for p in again.kept()) == before
    # lowering the threshold brings back hidden picks but never the removed one
    again.set_threshold(0.0)
    live = {(p.image_name, round(p.x)) for p in again.kept()}
    assert ("m1", 10) in live and ("m2", 20) in live
    assert ("m2", 60) not in live
    assert len(again.kept()) == 5


def test_review_resume_without_sidecar_uses_lowest_kept_score(tmp_path):
    out = tmp_path / "reviewed.star"
    store = LabelStore(NAMES, out, initial=scored())
    store.set_threshold(0.5)
    session_path(out).write_text("{not json")
    again = LabelStore(NAMES, out, initial=scored(), resume=read(out))
    assert again.threshold == pytest.approx(0.5)
    assert len(again.kept()) == 3


def test_empty_output_is_written_when_last_pick_removed(tmp_path):
    out = tmp_path / "labels.star"
    store = LabelStore(NAMES, out)
    p = store.add("m1", 5, 5)
    store.remove(p.id)
    assert out.exists()
    assert len(read(out)) == 0
    assert not [f for f in tmp_path.iterdir() if ".tmp" in f.name]  # no temp files left


def test_duplicate_names_rejected(tmp_path):
    from fewlabel.errors import InputError

    with pytest.raises(InputError):
        LabelStore(["a", "a"], tmp_path / "l.star")
