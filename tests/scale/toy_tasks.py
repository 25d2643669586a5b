"""Toy per-item work for the scale tests: read a small .npy file, return a picks-like table.

Kept in a module (not a test file) so Dask worker processes can unpickle the task; tests call
``cloudpickle.register_pickle_by_value`` on it so workers need not import it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd


def make_files(folder: Path, n: int, rows: int = 4) -> list[tuple[str, Path]]:
    """``n`` small .npy files of seeded random (x, y, score) rows; items ``(stem, path)``."""
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for i in range(n):
        p = folder / f"mic_{i:03d}.npy"
        np.save(p, np.random.default_rng(i).random((rows, 3)) * [4096, 4096, 1])
        items.append((p.stem, p))
    return items


class ToyTask:
    """Reads one file into a table; ``sleep`` seconds per item; counts its own in-process calls."""

    def __init__(self, sleep: float = 0.0):
        self.sleep = sleep
        self.calls: list[str] = []

    def __call__(self, path) -> pd.DataFrame:
        path = Path(path)
        self.calls.append(path.stem)
        if self.sleep:
            time.sleep(self.sleep)
        a = np.load(path)
        return pd.DataFrame({"image_name": path.stem, "x_coord": a[:, 0], "y_coord": a[:, 1], "score": a[:, 2]})


def worker_pid() -> int:
    return os.getpid()


def load_counts() -> dict:
    from fewlabel.scale import cache

    return {repr(k): v for k, v in cache.LOADS.items()}
