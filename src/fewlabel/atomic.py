"""Write outputs atomically and never over a user's input.

Every file fewlabel writes goes to a temporary file in the destination folder first and is
renamed into place only when complete, so an interrupted run leaves either the old file or the
new one, never half of one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from fewlabel.errors import InputError


def _default_mode() -> int:
    """Permissions a plain ``open()`` would give a new file: 0o666 minus the process umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _default_mode()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    ``suffix`` defaults to the suffix of ``path`` so libraries that infer a format from the
    extension (mrcfile, tifffile, matplotlib) still work on the temporary name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix if suffix is None else suffix
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, _FILE_MODE)  # mkstemp makes 0600 files; outputs are meant to be shared
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def check_not_input(output: str | os.PathLike, inputs: Iterable[str | os.PathLike]) -> None:
    """Refuse to write ``output`` over any of ``inputs`` (files or folders of input files)."""
    out = Path(output).resolve()
    for item in inputs:
        p = Path(item).resolve()
        if out == p or (p.is_dir() and out.parent == p and out.exists()):
            raise InputError(output, f"refusing to overwrite the input {item}")
