"""Heavy state (a trained model) loaded once per worker process, not once per micrograph.

:func:`worker_cached` keeps loaded objects in a module-level dict of the process running the
task: a Dask worker process, or the main process when running in-process. Keys should include
:func:`file_key` of any file the object comes from, so an edited model file is reloaded.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

_CACHE: dict[Hashable, Any] = {}
_LOCK = threading.Lock()
LOADS: dict[Hashable, int] = {}  # how many times each key was loaded in this process (tests, logs)


def file_key(path: str | os.PathLike) -> tuple[str, int, int]:
    """``(resolved path, mtime_ns, size)``: changes whenever the file is replaced or edited."""
    p = Path(path).resolve()
    st = p.stat()
    return str(p), st.st_mtime_ns, st.st_size


def content_key(path: str | os.PathLike) -> tuple[str, str]:
    """``(resolved path, sha256 of the bytes)``: for run keys of small files (models), so a file
    rewritten with the same bytes (every ``--shard`` of a zero-label run saves the general picker
    anew) still matches the parts already written, while any real change does not."""
    import hashlib

    p = Path(path).resolve()
    with open(p, "rb") as f:
        return str(p), hashlib.file_digest(f, "sha256").hexdigest()


def worker_cached(key: Hashable, load: Callable[[], Any], max_items: int = 4) -> Any:
    """Return the object cached under ``key`` in this process, calling ``load()`` the first time.

    Thread-safe (a Dask worker may run several tasks at once); at most ``max_items`` objects are
    kept (oldest dropped) so a long-lived worker serving many models stays bounded.
    """
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        value = load()
        LOADS[key] = LOADS.get(key, 0) + 1
        while len(_CACHE) >= max_items:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = value
        return value


def clear() -> None:
    """Forget every cached object in this process."""
    with _LOCK:
        _CACHE.clear()
        LOADS.clear()


_MALLOC_DONE: list[bool] = []  # set once per process by restore_malloc_thresholds
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters (malloc.h)


def restore_malloc_thresholds(mmap_threshold: int = 32 * 2**20, trim_threshold: int = 128 * 2**20) -> bool:
    """Once per process: let glibc reuse large temporaries again in a Dask worker.

    Dask's nanny starts its workers with ``MALLOC_TRIM_THRESHOLD_=65536`` (to hand freed memory
    back to the OS). Setting it also turns off glibc's adaptive mmap threshold, so every array
    over 128 KiB (the 4096x4096 image, FFT blocks, network feature maps) becomes a fresh mmap,
    page-faulted and zeroed anew for every micrograph: measured here, 0.25 -> 0.42 CPU s per
    4096x4096 micrograph. When that variable is set, this sets the mmap threshold to glibc's
    adaptive maximum (32 MiB) and keeps up to 128 MiB of freed heap for reuse; memory stays
    bounded by one micrograph's working set. Returns whether the thresholds were changed (only
    on glibc, only when the variable is set, only the first time).
    """
    if _MALLOC_DONE:
        return False
    _MALLOC_DONE.append(True)
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to restore
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, int(mmap_threshold))) and bool(mallopt(M_TRIM_THRESHOLD, int(trim_threshold)))
