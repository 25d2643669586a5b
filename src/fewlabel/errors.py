"""Errors that reach the user as one clear line: which file, what is wrong.

Raise :class:`InputError` for anything the user can fix (a missing file, a malformed table,
inconsistent options). The CLI prints ``error: <path>: <problem>`` and exits with status 2;
any other exception is a bug in fewlabel and keeps its traceback.
"""

from __future__ import annotations

from os import PathLike


class InputError(Exception):
    """Bad user input. ``path`` is the offending file (or None), ``problem`` says what is wrong."""

    def __init__(self, path: str | PathLike | None, problem: str):
        self.path = None if path is None else str(path)
        self.problem = problem.rstrip(".")
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"{self.path}: {self.problem}" if self.path else self.problem
