"""Reading and writing per-particle label tables (true classes in, clusters out) as CSV.

Label CSV (``fewlabel simulate particles`` writes one): a ``label`` column and optionally ``index``
(the particle's position in the stack). With ``index``, rows may cover a subset of the stack and the
rest count as unlabeled; without it there must be one row per particle. Empty cells and ``-1``
mean unlabeled. Labels may be numbers or names; names are numbered in sorted order.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from fewlabel.atomic import atomic_path
from fewlabel.errors import InputError


def read_labels(path: str | os.PathLike, n: int, complete: bool = False) -> tuple[np.ndarray, list[str]]:
    """Labels for a stack of ``n`` particles: ``(codes int64 [n] with -1 = unlabeled, class names)``.

    ``complete=True`` (scoring) requires every particle to have a label.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "label file not found")
    try:
        with open(path) as fh:
            sep = "\t" if "\t" in fh.readline() else ","
        df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    except Exception as exc:  # pandas raises several types for malformed text
        raise InputError(path, f"not a readable CSV table ({exc})") from None
    if "label" not in df.columns:
        raise InputError(path, f"needs a 'label' column (has: {', '.join(df.columns)})")
    raw = df["label"].str.strip()
    if "index" in df.columns:
        try:
            idx = df["index"].astype(int).to_numpy()
        except ValueError:
            raise InputError(path, "the 'index' column must hold integers") from None
        if len(idx) and (idx.min() < 0 or idx.max() >= n):
            raise InputError(path, f"index values must lie in 0..{n - 1} for a stack of {n} particles, "
                                   f"found {idx.min()}..{idx.max()}")
        if len(np.unique(idx)) != len(idx):
            raise InputError(path, "the 'index' column has duplicates")
    else:
        if len(df) != n:
            raise InputError(path, f"{len(df)} label rows for a stack of {n} particles (add an 'index' "
                                   "column to label a subset)")
        idx = np.arange(n)
    unlabeled = raw.isin(["", "-1", "nan", "NaN", "None"]).to_numpy()
    values = raw[~unlabeled]
    numeric = pd.to_numeric(values, errors="coerce")
    if len(values) and numeric.notna().all() and (numeric % 1 == 0).all():
        names = [str(v) for v in sorted(numeric.astype(int).unique())]
        keys = numeric.astype(int).astype(str)
    else:
        names = sorted(values.unique())
        keys = values
    code = {name: i for i, name in enumerate(names)}
    out = np.full(n, -1, dtype=np.int64)
    out[idx[~unlabeled]] = keys.map(code).to_numpy()
    if complete and (out < 0).any():
        raise InputError(path, f"{int((out < 0).sum())} of {n} particles have no label")
    return out, names


def subsample_labels(labels: np.ndarray, fraction: float, seed: int = 0) -> np.ndarray:
    """Keep a random ``fraction`` of each class's labels (the rest become -1), at least 2 per class."""
    if not 0 < fraction <= 1:
        raise InputError(None, f"label fraction must be in (0, 1], got {fraction}")
    rng = np.random.default_rng(seed)
    out = np.full_like(labels, -1)
    for c in np.unique(labels[labels >= 0]):
        idx = np.flatnonzero(labels == c)
        keep = rng.choice(idx, size=min(len(idx), max(2, int(round(fraction * len(idx))))), replace=False)
        out[keep] = c
    return out


def write_clusters(path: str | os.PathLike, labels: np.ndarray) -> Path:
    """Write ``CLUSTERS.csv`` with columns ``index,label`` in stack order (atomically)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        pd.DataFrame({"index": np.arange(len(labels)), "label": np.asarray(labels, int)}).to_csv(tmp, index=False)
    return path
