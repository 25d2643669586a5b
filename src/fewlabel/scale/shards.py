"""``--shard I/N``: split the input list among independent jobs (``sbatch --array``).

Shards are 1-based (``1/4`` ... ``4/4``, as ``sbatch --array=1-4`` numbers its tasks) and
round-robin over the input order: item ``k`` (0-based position) belongs to shard
``k % N + 1``. Round-robin needs no item count up front (it streams) and balances the shards.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from fewlabel.errors import InputError

T = TypeVar("T")

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1:
            raise InputError(None, f"--shard {self}: the number of shards must be at least 1")
        if not 1 <= self.index <= self.count:
            raise InputError(None, f"--shard {self}: the shard number must be between 1 and {self.count} "
                                   "(shards are 1-based, like sbatch --array=1-N)")

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, position: int) -> bool:
        """Whether the item at 0-based ``position`` in the input order belongs to this shard."""
        return position % self.count == self.index - 1


def parse_shard(spec: str | None) -> Shard | None:
    """Parse ``"I/N"`` (1-based); None stays None; anything malformed raises InputError."""
    if spec is None:
        return None
    m = _SPEC.match(str(spec))
    if not m:
        raise InputError(None, f"--shard {spec!r} is not of the form I/N (e.g. 1/4; "
                               "with sbatch --array=1-4 use --shard $SLURM_ARRAY_TASK_ID/4)")
    return Shard(int(m.group(1)), int(m.group(2)))


def select_shard(items: Iterable[T], shard: Shard | None) -> Iterator[T]:
    """Stream the items of ``shard`` (all items when ``shard`` is None), keeping input order."""
    for position, item in enumerate(items):
        if shard is None or shard.owns(position):
            yield item
