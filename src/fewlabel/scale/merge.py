"""Merge per-item parts into the final output, in input order, streaming one part at a time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from fewlabel.scale.parts import PartStore


def iter_parts(store: PartStore, names: Iterable[str]) -> Iterator[Any]:
    """Yield the part of each name in ``names`` order, skipping names with no part (failed items)."""
    for name in names:
        if store.has(name):
            yield store.read(name)


def concat_tables(parts: Iterable, empty=None):
    """Concatenate picks tables in order (empty ones dropped); ``empty`` when there are none."""
    import pandas as pd

    tables = [t for t in parts if len(t)]
    if not tables:
        if empty is None:
            from fewlabel.io.picks import empty_picks

            empty = empty_picks(score=True)
        return empty
    return pd.concat(tables, ignore_index=True)


def concat_stacks(parts: Iterable[tuple]):
    """Concatenate ``(images, metadata, pixel size)`` parts in order -> ``(images, metadata, pixel size)``.

    ``pixel size`` is the first one known (None if none); an empty input gives ``(None, None, None)``.
    """
    import numpy as np
    import pandas as pd

    images, metas, pixel_size = [], [], None
    for im, meta, ps in parts:
        images.append(im)
        metas.append(meta)
        pixel_size = pixel_size or ps
    if not images:
        return None, None, None
    return np.concatenate(images), pd.concat(metas, ignore_index=True), pixel_size
