"""The picks being labeled or reviewed, saved to the output file after every change.

A :class:`LabelStore` holds every pick in ORIGINAL micrograph pixels (the frame of the picks
table, see docs/design.md) and rewrites the output file atomically after each change, so
closing the browser or killing the server loses nothing.

Two modes share one store:

* label mode: every pick is a hand label; the output holds all of them.
* review mode (the starting picks carry scores): the output holds the picks scoring at or
  above the accepted threshold that the user did not remove, plus the picks the user added by
  hand. Hand-added picks are written with the highest score of the run so any later threshold
  keeps them.

Resuming needs no private state: the output file says which picks are kept, and comparing it
with the starting picks recovers what was removed and what was added. A small JSON sidecar
(``OUTPUT.session.json``) remembers the accepted threshold and the micrograph on screen.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fewlabel.atomic import atomic_path, write_text_atomic
from fewlabel.errors import InputError

#: Two picks closer than this (original pixels) are the same pick when resuming; covers the
#: rounding of coordinates by the file formats.
MATCH_TOLERANCE = 1.5


@dataclass
class Pick:
    """One pick: ``x`` is the column and ``y`` the row, in original micrograph pixels."""

    id: int
    image_name: str
    x: float
    y: float
    score: float | None = None  # None for picks added by hand
    removed: bool = False

    @property
    def manual(self) -> bool:
        return self.score is None


def session_path(output: str | Path) -> Path:
    """The sidecar that remembers threshold and current micrograph for ``output``."""
    output = Path(output)
    return output.with_name(output.name + ".session.json")


class LabelStore:
    """Picks of a list of micrographs, edited one at a time and saved after every change.

    ``names`` are the micrograph names (file stems) in display order; ``initial`` an optional
    picks table (columns ``image_name``, ``x_coord``, ``y_coord`` and optionally ``score``)
    whose names are already matched to ``names``. A ``score`` column with values makes this a
    review session. ``resume`` is the picks table read back from an existing output, if any.
    """

    def __init__(
        self,
        names: list[str],
        output: str | Path,
        initial: pd.DataFrame | None = None,
        resume: pd.DataFrame | None = None,
        threshold: float | None = None,
        box_size: int | None = None,
        fmt: str | None = None,
    ):
        if len(set(names)) != len(names):
            raise InputError(None, "two micrographs share a name; names must be unique")
        self.names = list(names)
        self._name_set = set(names)
        self.output = Path(output)
        self.box_size = box_size
        self.fmt = fmt
        self.current = 0
        self._lock = threading.RLock()
        self._picks: dict[int, Pick] = {}
        self._next_id = 0

        scored = initial is not None and "score" in initial and initial["score"].notna().any()
        self.review = bool(scored)
        for row in _rows(initial):
            score = row.score if self.review and not math.isnan(row.score) else None
            self._insert(row.image_name, row.x, row.y, score)

        scores = [p.score for p in self._picks.values() if p.score is not None]
        self.score_range = (min(scores), max(scores)) if scores else (0.0, 0.0)
        self.threshold = self.score_range[0] if threshold is None else float(threshold)

        state = self._read_session()
        if resume is not None:
            self._resume(resume, state)
        if state.get("current") in self.names:
            self.current = self.names.index(state["current"])

    # -- queries -----------------------------------------------------------------------

    @property
    def mode(self) -> str:
        return "review" if self.review else "label"

    def index_of(self, name: str) -> int | None:
        """Position of micrograph ``name`` in the listing, or None."""
        return self.names.index(name) if name in self._name_set else None

    def picks(self, name: str | None = None) -> list[Pick]:
        """Live picks (not removed) of micrograph ``name`` or of all, below threshold included."""
        with self._lock:
            return [p for p in self._picks.values()
                    if not p.removed and (name is None or p.image_name == name)]

    def kept(self, name: str | None = None) -> list[Pick]:
        """The picks the output holds: live, and hand-added or scoring at least the threshold."""
        return [p for p in self.picks(name) if self._is_kept(p)]

    def counts(self) -> dict[str, int]:
        """Number of kept picks per micrograph name."""
        counts = dict.fromkeys(self.names, 0)
        for p in self.kept():
            counts[p.image_name] += 1
        return counts

    def table(self) -> pd.DataFrame:
        """The kept picks as a picks table, in micrograph order, as written to the output."""
        kept = self.kept()
        order = {n: i for i, n in enumerate(self.names)}
        kept.sort(key=lambda p: (order[p.image_name], p.id))
        df = pd.DataFrame({
            "image_name": pd.Series([p.image_name for p in kept], dtype=object),
            "x_coord": pd.Series([p.x for p in kept], dtype=float),
            "y_coord": pd.Series([p.y for p in kept], dtype=float),
        })
        if self.review:
            top = self.score_range[1]
            df["score"] = pd.Series([top if p.manual else p.score for p in kept], dtype=float)
        return df

    # -- changes (each one saved at once) ------------------------------------------------

    def add(self, name: str, x: float, y: float) -> Pick:
        """Add a hand pick at (x, y) original pixels of micrograph ``name`` and save."""
        self._check_name(name)
        with self._lock:
            pick = self._insert(name, float(x), float(y), None)
            self.save()
            return pick

    def remove(self, pick_id: int) -> Pick:
        """Remove pick ``pick_id`` (KeyError when unknown or already removed) and save."""
        with self._lock:
            pick = self._picks.get(pick_id)
            if pick is None or pick.removed:
                raise KeyError(pick_id)
            if pick.manual:
                del self._picks[pick_id]
            pick.removed = True
            self.save()
            return pick

    def set_threshold(self, threshold: float) -> int:
        """Accept ``threshold`` (review mode), save, and return the number of picks kept."""
        if not self.review:
            raise ValueError("a threshold applies only to picks with scores")
        if not math.isfinite(threshold):
            raise ValueError("threshold must be a finite number")
        with self._lock:
            self.threshold = float(threshold)
            self.save()
            return len(self.kept())

    def set_current(self, name: str) -> None:
        """Remember the micrograph on screen so a restart opens it again."""
        self._check_name(name)
        with self._lock:
            self.current = self.names.index(name)
            self._write_session()

    def save(self) -> None:
        """Write the kept picks to the output file and the sidecar, both atomically."""
        from fewlabel.io.picks import write_picks

        with self._lock:
            table = self.table()
            with atomic_path(self.output) as tmp:
                write_picks(table, tmp, fmt=self.fmt, box_size=self.box_size)
            self._write_session()

    def check_writable(self) -> None:
        """Fail now, not at the first click, when the output format or folder is unusable."""
        import os
        import tempfile

        from fewlabel.io.picks import write_picks

        if (self.fmt or self.output.suffix.lstrip(".")).lower() == "box":
            raise InputError(self.output, "EMAN .box holds one micrograph per file; label into "
                                          ".star, .tsv or .csv and convert that with `fewlabel convert`")
        self.output.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.output.stem}.", suffix=f".check{self.output.suffix}",
                                   dir=self.output.parent)
        os.close(fd)
        try:
            write_picks(self.table().iloc[:0], tmp, fmt=self.fmt, box_size=self.box_size)
        except InputError as exc:  # name the user's file, not the probe
            raise InputError(self.output, exc.problem.replace(tmp, str(self.output))) from None
        finally:
            Path(tmp).unlink(missing_ok=True)

    # -- internals -------------------------------------------------------------------------

    def _is_kept(self, p: Pick) -> bool:
        return p.manual or p.score >= self.threshold

    def _check_name(self, name: str) -> None:
        if name not in self._name_set:
            raise KeyError(name)

    def _insert(self, name: str, x: float, y: float, score: float | None) -> Pick:
        pick = Pick(self._next_id, name, x, y, score)
        self._picks[pick.id] = pick
        self._next_id += 1
        return pick

    def _read_session(self) -> dict:
        path = session_path(self.output)
        if not (self.output.exists() and path.exists()):
            return {}
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}  # a damaged sidecar only loses the threshold and position
        return state if isinstance(state, dict) else {}

    def _write_session(self) -> None:
        state = {"current": self.names[self.current] if self.names else None,
                 "threshold": self.threshold if self.review else None}
        write_text_atomic(session_path(self.output), json.dumps(state) + "\n")

    def _resume(self, saved: pd.DataFrame, state: dict) -> None:
        """Make the live picks equal the saved ones: unmatched starting picks that should be
        kept were removed by the user, unmatched saved picks were added by hand."""
        rows = list(_rows(saved))
        matched: set[int] = set()
        for name in {r.image_name for r in rows}:
            mine = [r for r in rows if r.image_name == name]
            theirs = [p for p in self._picks.values() if p.image_name == name]
            pairs = _match(np.array([[r.x, r.y] for r in mine]),
                           np.array([[p.x, p.y] for p in theirs]).reshape(-1, 2))
            for i, r in enumerate(mine):
                j = pairs.get(i)
                if j is None:
                    self._insert(name, r.x, r.y, None)
                else:
                    matched.add(theirs[j].id)
        saved_threshold = state.get("threshold")
        if self.review:
            if isinstance(saved_threshold, (int, float)) and math.isfinite(saved_threshold):
                self.threshold = float(saved_threshold)
            else:
                kept_scores = [self._picks[i].score for i in matched]
                self.threshold = min(kept_scores) if kept_scores else self.score_range[1]
        for p in list(self._picks.values()):
            if p.manual or p.id in matched:
                continue
            if not self.review or self._is_kept(p):
                p.removed = True


@dataclass
class _Row:
    image_name: str
    x: float
    y: float
    score: float


def _rows(df: pd.DataFrame | None):
    """Rows of a picks table as plain Python values."""
    if df is None or len(df) == 0:
        return
    scores = df["score"] if "score" in df else pd.Series(np.nan, index=df.index)
    for name, x, y, s in zip(df["image_name"], df["x_coord"], df["y_coord"], scores):
        yield _Row(str(name), float(x), float(y), float(s))


def _match(a: np.ndarray, b: np.ndarray) -> dict[int, int]:
    """Greedy one-to-one matching of points ``a`` to ``b`` within MATCH_TOLERANCE, closest first."""
    if len(a) == 0 or len(b) == 0:
        return {}
    from scipy.spatial import cKDTree

    pairs = cKDTree(a).sparse_distance_matrix(cKDTree(b), MATCH_TOLERANCE, output_type="ndarray")
    out: dict[int, int] = {}
    used: set[int] = set()
    for i, j, _ in sorted(pairs.tolist(), key=lambda t: t[2]):
        if int(i) not in out and int(j) not in used:
            out[int(i)] = int(j)
            used.add(int(j))
    return out
