"""Grid sets on disk: ``.npz`` with ``X`` (m, n, n, n) and, for labeled sets, ``y`` (m,).

Optional keys: ``names`` (m,) strings, ``classes`` (k,) class names, ``stage`` (m,) ints.
Also reads ModelNet-style files with ``X_train``/``y_train`` via ``split="train"|"test"``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from fewlabel.atomic import atomic_path
from fewlabel.errors import InputError


def check_grids(X: np.ndarray, path: str | os.PathLike | None = None, n: int | None = None) -> np.ndarray:
    """Validate a stack of cubic grids (m, n, n, n): finite, cubic, non-empty, optional size ``n``."""
    X = np.asarray(X)
    if X.ndim != 4 or not (X.shape[1] == X.shape[2] == X.shape[3]):
        raise InputError(path, f"grids must be an (m, n, n, n) array, got shape {X.shape}")
    if len(X) == 0:
        raise InputError(path, "no grids")
    if n is not None and X.shape[1] != n:
        raise InputError(path, f"grid size {X.shape[1]}^3 does not match the expected {n}^3")
    if X.dtype.kind == "f" and not np.all(np.isfinite(X)):
        raise InputError(path, "grids contain NaN or infinite values")
    return X


def check_labels(y: np.ndarray, m: int, path: str | os.PathLike | None = None,
                 min_classes: int = 2) -> np.ndarray:
    """Validate labels for ``m`` grids: integer-like, one per grid, at least ``min_classes`` classes."""
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != m:
        raise InputError(path, f"expected {m} labels, got shape {y.shape}")
    if y.dtype.kind not in "iub":
        if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
            y = y.astype(np.int64)
        else:
            raise InputError(path, "labels must be integers (class indices)")
    n_classes = len(np.unique(y))
    if n_classes < min_classes:
        raise InputError(path, f"labels have {n_classes} class(es); at least {min_classes} are needed to classify")
    return y.astype(np.int64)


def load_grids(path: str | os.PathLike, split: str | None = None,
               require_labels: bool = False) -> dict[str, np.ndarray | None]:
    """Read a grid set -> ``{"X", "y", "names", "classes"}`` (missing keys are None)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(path, f"not a readable .npz grid file ({exc})") from None
    with data:
        sfx = f"_{split}" if split else ""
        if f"X{sfx}" not in data.files:
            raise InputError(path, f"no 'X{sfx}' array (keys: {', '.join(data.files)})")
        X = check_grids(data[f"X{sfx}"], path)
        y = data[f"y{sfx}"] if f"y{sfx}" in data.files else None
        out = {"X": X, "y": None if y is None else check_labels(y, len(X), path, min_classes=1),
               "names": data["names"] if "names" in data.files else None,
               "classes": data["classes"] if "classes" in data.files else None}
    if require_labels and out["y"] is None:
        raise InputError(path, "this grid set has no labels 'y'")
    return out


def save_grids(path: str | os.PathLike, X: np.ndarray, y: np.ndarray | None = None, **extra) -> Path:
    """Write a compressed grid set atomically (binary grids are stored as uint8)."""
    X = check_grids(X)
    if X.dtype != np.uint8 and np.all((X == 0) | (X == 1)):
        X = X.astype(np.uint8)
    arrays = {"X": X}
    if y is not None:
        arrays["y"] = np.asarray(y, dtype=np.int64)
    arrays.update({k: np.asarray(v) for k, v in extra.items() if v is not None})
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
    return path
