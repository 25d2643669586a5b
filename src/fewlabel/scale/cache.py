"""Heavy state (a trained model) loaded once per worker process, not once per micrograph.

:func:`worker_cached` keeps loaded objects in a module-level dict of the process running the
task: a Dask worker process, or the main process when running in-process. Keys should include
:func:`file_key` of any file the object comes from, so an edited model file is reloaded.
"""

from __future__ import annotations

import os
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
