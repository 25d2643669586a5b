"""Run one task per item, exactly once, resumably, then merge the parts in input order.

``items`` are ``(name, argument)`` pairs, e.g. ``(micrograph stem, path)``; ``task(argument)``
computes one item's result (a picklable object with small state, loading heavy state through
:func:`fewlabel.scale.cache.worker_cached`), and the worker running it writes the result as the
part ``PARTS/<name><suffix>``. Items whose part exists are skipped, so a rerun after a crash
or a walltime limit continues where it stopped. With Dask, at most ``window_per_worker`` tasks
per worker thread are in flight, so the client's memory does not grow with the number of items.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fewlabel.errors import InputError
from fewlabel.scale.cluster import ScaleSpec, open_client
from fewlabel.scale.merge import iter_parts
from fewlabel.scale.parts import Codec, PartStore
from fewlabel.scale.shards import select_shard

Items = Iterable[tuple[str, Any]] | Callable[[], Iterable[tuple[str, Any]]]


class ItemsFailedError(InputError):
    """Some items failed (reported as they failed); the others were done and merged."""

    def __init__(self, path, failures: list[tuple[str, str]], total: int, what: str = "items"):
        self.failures = failures
        shown = "; ".join(f"{n}: {e}" for n, e in failures[:3]) + ("; ..." if len(failures) > 3 else "")
        super().__init__(path, f"{len(failures)} of {total} {what} failed ({shown}); the others are done; "
                               f"fix or remove the failed ones and rerun the same command (done {what} are skipped)")


@dataclass
class RunSummary:
    """What a run did: items computed now, skipped (done before), failed; the merged result."""

    computed: int = 0
    skipped: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    total: int = 0
    result: Any = None
    merged: bool = False


def _iterate(items: Items) -> Iterator[tuple[str, Any]]:
    return iter(items() if callable(items) else items)


def process_item(task: Callable[[Any], Any], store: PartStore, name: str, arg: Any) -> tuple[str, str | None]:
    """Compute one item and write its part; return ``(name, None)`` or ``(name, error text)``.

    Errors are caught here so one unreadable micrograph fails alone; they come back as text
    (always picklable) and the run goes on.
    """
    try:
        store.write(name, task(arg))
        return name, None
    except Exception as exc:  # noqa: BLE001 - reported per item, the run continues
        text = exc.message if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"
        return name, text.splitlines()[0] if text else type(exc).__name__


def _todo(items: Items, spec: ScaleSpec, done: set[str], summary: RunSummary,
          on_skip: Callable[[], None]) -> Iterator[tuple[str, Any]]:
    """Stream this shard's items that have no part yet; refuse duplicate names."""
    seen: set[str] = set()
    for name, arg in select_shard(_iterate(items), spec.shard):
        if name in seen:
            raise InputError(None, f"two inputs are both named {name!r}; each item needs a unique name")
        seen.add(name)
        summary.total += 1
        if name in done:
            summary.skipped += 1
            on_skip()
            continue
        yield name, arg


def _run_dask(client, todo: Iterator[tuple[str, Any]], task, store: PartStore, window: int,
              record: Callable[[str, str | None], None]) -> None:
    """Submit at most ``window`` tasks at a time; a new one as each finishes (as_completed)."""
    from distributed import as_completed

    run_id = uuid.uuid4().hex[:8]
    names: dict[str, str] = {}
    pending = as_completed(loop=client.loop)

    def submit_next() -> bool:
        for name, arg in todo:
            key = f"fewlabel-{name}-{run_id}"
            names[key] = name
            pending.add(client.submit(process_item, task, store, name, arg, key=key, pure=False))
            return True
        return False

    for _ in range(window):
        if not submit_next():
            break
    try:
        for future in pending:
            name = names.pop(future.key)
            try:
                _, error = future.result()
            except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: every retry's worker died
                error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            future.release()
            record(name, error)
            submit_next()
    except BaseException:  # Ctrl-C or a bug: stop what is still queued on a shared scheduler
        client.cancel(list(pending.futures))
        raise


def run_items(items: Items, task: Callable[[Any], Any], store: PartStore, spec: ScaleSpec, client=None, *,
              window_per_worker: int = 2, what: str = "items", progress: bool = True,
              log: Callable[[str], None] = print) -> RunSummary:
    """Compute every item of ``spec.shard`` that has no part yet (in-process when ``client`` is None)."""
    from tqdm import tqdm

    summary = RunSummary()
    done = store.done_names()
    total = None
    if hasattr(items, "__len__"):
        n = len(items)
        total = n if spec.shard is None else len(range(spec.shard.index - 1, n, spec.shard.count))
    bar = tqdm(total=total, desc=what, unit=what.rstrip("s") or "it", disable=not progress,
               file=sys.stderr)

    def record(name: str, error: str | None) -> None:
        bar.update(1)
        if error is None:
            summary.computed += 1
        else:
            summary.failures.append((name, error))
            bar.write(f"failed: {name}: {error} (the others continue)", file=sys.stderr)

    todo = _todo(items, spec, done, summary, on_skip=lambda: bar.update(1))
    try:
        if client is None:
            for name, arg in todo:
                record(*process_item(task, store, name, arg))
        else:
            threads = max(sum(client.nthreads().values()), spec.expected_workers, 1)
            _run_dask(client, todo, task, store, max(1, window_per_worker * threads), record)
    finally:
        bar.close()
    if summary.skipped:
        log(f"skipped {summary.skipped} {what} already done in {store.folder}")
    return summary


def run_scaled(items: Items, task: Callable[[Any], Any], *, codec: Codec, parts_dir: str | os.PathLike,
               spec: ScaleSpec, finish: Callable[[Iterator[Any]], Any], run_key: Any = None,
               what: str = "micrographs", window_per_worker: int = 2, progress: bool = True,
               log: Callable[[str], None] = print) -> RunSummary:
    """Run ``task`` over ``items`` as ``spec`` says, then ``finish(parts in input order)``.

    ``items`` must be re-iterable (a list, or a function returning a fresh iterator): it is read
    once to run and once to merge. ``finish`` writes the final output (atomically) from the
    iterator of parts; its return value is ``summary.result``. With ``spec.shard`` nothing is
    merged (other shards may still run): rerun without ``--shard`` to merge. Failed items are
    reported as they fail; after merging the rest, :class:`ItemsFailedError` is raised.
    """
    store = PartStore(Path(parts_dir), codec)
    store.open(run_key)
    with open_client(spec, log) as client:
        summary = run_items(items, task, store, spec, client, window_per_worker=window_per_worker, what=what,
                            progress=progress, log=log)
    log(f"{summary.computed} {what} computed, {summary.skipped} skipped (done before), "
        f"{len(summary.failures)} failed")
    if spec.shard is not None:
        log(f"shard {spec.shard}: parts in {store.folder}; once every shard has finished, run the same command "
            "without --shard to merge them (finished items are skipped)")
        if summary.failures:
            raise ItemsFailedError(store.folder, summary.failures, summary.total, what)
        return summary
    names = (name for name, _ in _iterate(items))
    summary.result = finish(iter_parts(store, names))
    summary.merged = True
    if summary.failures:
        raise ItemsFailedError(store.folder, summary.failures, summary.total, what)
    if not spec.keep_parts:
        store.remove()
    return summary
