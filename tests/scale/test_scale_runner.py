"""The engine: same merged output in-process and on a local Dask cluster; resume; failures; shards."""

import cloudpickle
import numpy as np
import pandas as pd
import pytest

import tests.scale.toy_tasks as toy
from fewlabel.errors import InputError
from fewlabel.scale.cluster import ScaleSpec
from fewlabel.scale.merge import concat_tables
from fewlabel.scale.parts import PartStore, TableCodec, parts_dir_for
from fewlabel.scale.runner import ItemsFailedError, run_scaled
from fewlabel.scale.shards import Shard

cloudpickle.register_pickle_by_value(toy)


def assert_same(a, b):
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def run(items, task, parts, spec=ScaleSpec(), key="k"):
    return run_scaled(items, task, codec=TableCodec(), parts_dir=parts, spec=spec, run_key=key,
                      finish=concat_tables, progress=False, log=lambda m: None)


def expected(items):
    task = toy.ToyTask()
    return pd.concat([task(p) for _, p in items], ignore_index=True)


def test_in_process_and_local_cluster_merge_identically(tmp_path):
    items = toy.make_files(tmp_path / "in", 9)
    clean = run(items, toy.ToyTask(), tmp_path / "a.parts")
    dask = run(items, toy.ToyTask(sleep=0.01), tmp_path / "b.parts", ScaleSpec(workers=2))
    assert clean.computed == dask.computed == 9
    assert_same(clean.result, expected(items))  # input order, exact floats
    assert_same(dask.result, clean.result)
    assert not (tmp_path / "a.parts").exists() and not (tmp_path / "b.parts").exists()  # removed after merge


def test_rerun_skips_items_already_done(tmp_path):
    items = toy.make_files(tmp_path / "in", 6)
    parts = tmp_path / "p.parts"
    first = run(items[:4], toy.ToyTask(), parts, ScaleSpec(keep_parts=True))
    assert first.computed == 4 and (parts / "mic_000.tsv").exists()
    task = toy.ToyTask()
    again = run(items, task, parts, ScaleSpec(keep_parts=True))
    assert task.calls == ["mic_004", "mic_005"]  # only the two new ones computed
    assert (again.computed, again.skipped) == (2, 4)
    assert_same(again.result, expected(items))


def test_half_written_temporaries_are_ignored(tmp_path):
    items = toy.make_files(tmp_path / "in", 3)
    parts = tmp_path / "p.parts"
    PartStore(parts, TableCodec()).open("k")
    (parts / ".mic_001.abcd.tmp.tsv").write_text("image_name\tx_co")  # a worker killed mid-write
    task = toy.ToyTask()
    summary = run(items, task, parts)
    assert task.calls == ["mic_000", "mic_001", "mic_002"]
    assert_same(summary.result, expected(items))


def test_failed_item_reported_others_merged_then_error(tmp_path):
    items = toy.make_files(tmp_path / "in", 5)
    bad = items[2][1]
    bad.write_bytes(b"not a numpy file")
    out = {}

    def finish(parts):
        out["table"] = concat_tables(parts)

    task = toy.ToyTask()
    with pytest.raises(ItemsFailedError, match=r"1 of 5 micrographs failed \(mic_002: ") as err:
        run_scaled(items, task, codec=TableCodec(), parts_dir=tmp_path / "p.parts", spec=ScaleSpec(),
                   finish=finish, progress=False, log=lambda m: None)
    assert isinstance(err.value, InputError) and [n for n, _ in err.value.failures] == ["mic_002"]
    assert len(task.calls) == 5  # the items after the bad one still ran
    assert list(out["table"]["image_name"].unique()) == ["mic_000", "mic_001", "mic_003", "mic_004"]
    assert (tmp_path / "p.parts").is_dir()  # kept so the fixed rerun computes only the failed item
    np.save(bad, np.random.default_rng(2).random((4, 3)) * [4096, 4096, 1])
    task = toy.ToyTask()
    summary = run_scaled(items, task, codec=TableCodec(), parts_dir=tmp_path / "p.parts", spec=ScaleSpec(),
                         finish=concat_tables, progress=False, log=lambda m: None)
    assert task.calls == ["mic_002"]
    assert_same(summary.result, expected(items))


def test_shards_then_merge_equals_single_run(tmp_path):
    items = toy.make_files(tmp_path / "in", 7)
    parts = tmp_path / "p.parts"
    merged = []
    for i in (1, 2, 3):
        s = run_scaled(items, toy.ToyTask(), codec=TableCodec(), parts_dir=parts, spec=ScaleSpec(shard=Shard(i, 3)),
                       run_key="k", finish=merged.append, progress=False, log=lambda m: None)
        assert not s.merged and s.total == len(range(i - 1, 7, 3))
    assert merged == []  # shards never merge
    task = toy.ToyTask()
    final = run(items, task, parts)
    assert task.calls == [] and final.skipped == 7
    assert_same(final.result, expected(items))


def test_parts_of_a_different_run_are_refused(tmp_path):
    items = toy.make_files(tmp_path / "in", 2)
    run(items[:1], toy.ToyTask(), tmp_path / "p.parts", ScaleSpec(keep_parts=True), key={"model": "a"})
    with pytest.raises(InputError, match="different run"):
        run(items, toy.ToyTask(), tmp_path / "p.parts", key={"model": "b"})


def test_duplicate_names_refused(tmp_path):
    items = toy.make_files(tmp_path / "in", 2)
    with pytest.raises(InputError, match="both named"):
        run([items[0], items[1], items[0]], toy.ToyTask(), tmp_path / "p.parts")


def test_parts_dir_beside_output(tmp_path):
    assert parts_dir_for(tmp_path / "picks.star") == tmp_path / "picks.star.parts"
