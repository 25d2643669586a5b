"""On a real local Dask cluster: a killed worker loses and duplicates nothing; bounded submission."""

import logging
import os
import signal
import threading
import time

import cloudpickle
import pandas as pd
import pytest

import tests.scale.toy_tasks as toy
from fewlabel.scale.cluster import ScaleSpec
from fewlabel.scale.merge import concat_tables, iter_parts
from fewlabel.scale.parts import PartStore, TableCodec
from fewlabel.scale.runner import run_items

cloudpickle.register_pickle_by_value(toy)
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=":0", silence_logs=logging.CRITICAL)  # random port
    c = distributed.Client(cluster, set_as_default=False)
    yield c
    c.close()
    cluster.close()


def _merged(store, items):
    return concat_tables(iter_parts(store, [n for n, _ in items]))


def test_killed_worker_loses_nothing_and_duplicates_nothing(client, tmp_path):
    items = toy.make_files(tmp_path / "in", 16)
    clean_store = PartStore(tmp_path / "clean.parts", TableCodec())
    clean_store.open()
    run_items(items, toy.ToyTask(), clean_store, ScaleSpec(), progress=False, log=lambda m: None)

    store = PartStore(tmp_path / "dask.parts", TableCodec())
    store.open()
    pids = client.run(toy.worker_pid)  # {worker address: worker process id}
    victim_addr, victim_pid = sorted(pids.items())[0]
    killed = {}

    def kill_when_busy():
        deadline = time.time() + 60
        while time.time() < deadline:
            busy = client.processing(workers=[victim_addr]).get(victim_addr, ())
            if len(store.done_names()) >= 2 and busy:
                killed["busy"] = list(busy)
                os.kill(victim_pid, signal.SIGKILL)  # a worker process this test's cluster started
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_when_busy)
    killer.start()
    summary = run_items(items, toy.ToyTask(sleep=0.25), store, ScaleSpec(workers=2), client, progress=False,
                        log=lambda m: None)
    killer.join()
    assert killed["busy"], "the worker was killed while it held tasks"
    assert summary.failures == [] and summary.computed == 16
    assert victim_pid not in client.run(toy.worker_pid).values()  # the nanny started a fresh process
    merged = _merged(store, items)
    pd.testing.assert_frame_equal(merged, _merged(clean_store, items), check_exact=True)
    per_name = merged.groupby("image_name").size()
    assert len(per_name) == 16 and (per_name == 4).all()  # every micrograph once, none duplicated


def test_submission_window_is_bounded(client, tmp_path):
    items = toy.make_files(tmp_path / "in", 20)
    store = PartStore(tmp_path / "p.parts", TableCodec())
    store.open()
    ahead = []

    def stream():
        for k, item in enumerate(items):
            ahead.append(k - len(store.done_names()))  # items handed out but not finished
            yield item

    summary = run_items(stream, toy.ToyTask(sleep=0.05), store, ScaleSpec(workers=2), client,
                        window_per_worker=2, progress=False, log=lambda m: None)
    assert summary.computed == 20
    assert max(ahead) <= 2 * 2  # never more than window_per_worker x threads in flight


def test_model_state_loaded_once_per_worker(client, tmp_path):
    from fewlabel.scale.cache import worker_cached

    items = toy.make_files(tmp_path / "in", 8)
    store = PartStore(tmp_path / "p.parts", TableCodec())
    store.open()

    class CachedTask(toy.ToyTask):
        def __call__(self, path):
            worker_cached(("toy-model", "v1"), lambda: object())
            return super().__call__(path)

    run_items(items, CachedTask(), store, ScaleSpec(workers=2), client, progress=False, log=lambda m: None)
    loads = client.run(toy.load_counts)
    assert sum(sum(v.values()) for v in loads.values()) <= 2  # 8 items, at most one load per worker
    assert all(v.get(repr(("toy-model", "v1")), 0) <= 1 for v in loads.values())
