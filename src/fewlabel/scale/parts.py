"""The parts folder: one result file per item, written atomically; its presence means "done".

A part is written to a temporary file beside its final name and renamed into place
(:mod:`fewlabel.atomic`), so a part either exists complete or not at all. Running an item twice
(a Dask retry after a worker died) rewrites the same file: idempotent, never duplicated.
``_run.json`` records the run's key (model file, options); a rerun with a different key is
refused instead of silently mixing results of two different runs.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fewlabel.atomic import atomic_path, write_text_atomic
from fewlabel.errors import InputError

RUN_FILE = "_run.json"


class Codec(Protocol):
    """How one part is stored: a file suffix, ``save(obj, path)`` and ``load(path)``."""

    suffix: str

    def save(self, obj: Any, path: Path) -> None: ...

    def load(self, path: Path) -> Any: ...


@dataclass(frozen=True)
class TableCodec:
    """A picks table per item as Topaz-style .tsv (readable by ``fewlabel`` and Topaz); exact floats."""

    suffix: str = ".tsv"

    def save(self, obj, path: Path) -> None:
        obj.to_csv(path, sep="\t", index=False)

    def load(self, path: Path):
        import pandas as pd

        return pd.read_csv(path, sep="\t", dtype={"image_name": str}, keep_default_na=False, na_values=[""])


@dataclass(frozen=True)
class PickleCodec:
    """Any picklable result (arrays with metadata, tuples); internal intermediate files only."""

    suffix: str = ".pkl"

    def save(self, obj, path: Path) -> None:
        with open(path, "wb") as fh:
            pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)

    def load(self, path: Path):
        with open(path, "rb") as fh:
            return pickle.load(fh)


def parts_dir_for(output: str | os.PathLike) -> Path:
    """Default parts folder of an output file: ``OUTPUT.parts/`` beside it."""
    output = Path(output)
    return output.with_name(output.name + ".parts")


def _normalise_key(key: Any) -> Any:
    return json.loads(json.dumps(key, sort_keys=True, default=str))


@dataclass(frozen=True)
class PartStore:
    """Folder of per-item parts; small and picklable, so Dask workers write parts themselves."""

    folder: Path
    codec: Codec

    def path(self, name: str) -> Path:
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise InputError(None, f"item name {name!r} cannot name a part file")
        return self.folder / f"{name}{self.codec.suffix}"

    def open(self, run_key: Any = None) -> None:
        """Create the folder, or check that an existing one belongs to a run with ``run_key``."""
        run_file = self.folder / RUN_FILE
        key = _normalise_key(run_key)
        if self.folder.exists():
            if not self.folder.is_dir():
                raise InputError(self.folder, "exists and is not a folder; cannot hold per-item parts")
            if run_file.exists():
                old = json.loads(run_file.read_text()).get("key")
                if old != key:
                    raise InputError(self.folder, "holds parts of a different run (model or options changed); "
                                                  "delete this folder to start over, or rerun with the same options")
                return
            if any(not p.name.startswith(".") for p in self.folder.iterdir()):
                raise InputError(self.folder, "is not a fewlabel parts folder (no _run.json); move it away")
        self.folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(run_file, json.dumps({"key": key}, indent=2) + "\n")

    def done_names(self) -> set[str]:
        """Names of every finished part (one directory listing)."""
        n = len(self.codec.suffix)
        with os.scandir(self.folder) as it:
            return {e.name[:-n] for e in it if e.name.endswith(self.codec.suffix) and not e.name.startswith(".")}

    def has(self, name: str) -> bool:
        return self.path(name).exists()

    def write(self, name: str, obj: Any) -> Path:
        """Write one part atomically (idempotent: a rewrite replaces it whole)."""
        final = self.path(name)
        with atomic_path(final) as tmp:
            self.codec.save(obj, tmp)
        return final

    def read(self, name: str) -> Any:
        return self.codec.load(self.path(name))

    def remove_temporaries(self) -> int:
        """Delete half-written temporaries left by killed workers; return how many."""
        n = 0
        for p in self.folder.glob(".*.tmp*"):
            p.unlink(missing_ok=True)
            n += 1
        return n

    def remove(self) -> None:
        """Delete the whole parts folder (after a complete merge)."""
        shutil.rmtree(self.folder, ignore_errors=True)
