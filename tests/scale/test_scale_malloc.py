"""restore_malloc_thresholds: only in a process started with Dask's MALLOC_TRIM_THRESHOLD_, only once."""

import subprocess
import sys

import pytest

CODE = ("from fewlabel.scale.cache import restore_malloc_thresholds as r; "
        "print(r(), r())")


def _run(env):
    out = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True)
    return out.stdout.split()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_thresholds_restored_once_in_a_dask_like_worker():
    import os

    env = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    assert _run({**env, "MALLOC_TRIM_THRESHOLD_": "65536"}) == ["True", "False"]  # changed the first time only
    assert _run(env) == ["False", "False"]  # a process without Dask's setting is left alone
