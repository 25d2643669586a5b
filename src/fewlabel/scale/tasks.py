"""Per-item tasks for the scaled commands: small picklable objects, heavy state cached per worker.

Each task is called with one item's argument on whichever process runs it (in-process or a Dask
worker) and returns that item's result; the model is loaded once per worker process through
:func:`fewlabel.scale.cache.worker_cached`, keyed by the model file's path, mtime and size.
Device ``auto`` is resolved on the worker, so a CPU-only login node can drive GPU workers.
Each task first undoes Dask's worker malloc setting (:func:`fewlabel.scale.cache.restore_malloc_thresholds`),
which otherwise costs page faults on every large temporary.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from fewlabel.scale.cache import file_key, restore_malloc_thresholds, worker_cached


def _device(device: str) -> str:
    from fewlabel.runtime import resolve_device

    return resolve_device(device)


def cached_picker(model_path: str | os.PathLike, device: str = "cpu"):
    """``(model, config)`` of a trained picker, loaded once per worker process, ready to score
    (batch norms folded into the convolutions once, not per micrograph: ``extract.inference_model``)."""

    def load():
        from fewlabel.pick.extract import inference_model
        from fewlabel.pick.train import load_picker

        model, config = load_picker(model_path, device)
        return inference_model(model), config

    return worker_cached(("pick", file_key(model_path), device), load)


@dataclass(frozen=True)
class PickExtractTask:
    """Score one micrograph and return its picks table (original pixels, scored), as pick extract does."""

    model_path: str
    device: str = "auto"
    radius: float | None = None
    threshold: float | None = None
    score_maps: str | None = None
    tta: bool = True

    def __call__(self, path: str | os.PathLike):
        from fewlabel.pick.extract import iter_extract

        restore_malloc_thresholds()
        device = _device(self.device)
        model, config = cached_picker(self.model_path, device)
        return next(iter_extract(model, config, [Path(path)], self.radius, self.threshold, batch_size=1,
                                 device=device, score_maps=self.score_maps, tta=self.tta))


@dataclass(frozen=True)
class ParticlesExtractTask:
    """Cut, normalise and downsample the boxes of one micrograph's picks: ``(images, metadata, pixel size)``.

    The argument is ``(micrograph path, that micrograph's picks)``; normalisation is per particle,
    so concatenating the parts in input order equals extracting all picks at once.
    """

    box: int
    downsample: int = 1
    edge: str = "skip"
    normalize: str = "background"

    def __call__(self, arg):
        from fewlabel.io.micrographs import read_micrograph
        from fewlabel.particles import extract_particles

        restore_malloc_thresholds()
        path, picks = arg
        mic = read_micrograph(path)
        name = picks["image_name"].iloc[0] if len(picks) else mic.name
        images, meta = extract_particles({name: mic.image}, picks, self.box, self.downsample, self.edge,
                                         self.normalize, names=[name])
        return images, meta, mic.pixel_size


class _Stack:
    """Images of a particle stack: a read-only memory map for .mrcs/.mrc (pages read on demand)."""

    def __init__(self, path: str):
        import mrcfile

        from fewlabel.io.stacks import read_stack

        self._mrc = None
        if Path(path).suffix.lower() in (".mrcs", ".mrc"):
            self._mrc = mrcfile.mmap(path, mode="r", permissive=True)  # kept open: the map needs it
            data = self._mrc.data
            self.images = data if data.ndim == 3 else data[None]
        else:
            self.images = read_stack(path)[0]

    def __len__(self) -> int:
        return len(self.images)


def _stack(path: str) -> _Stack:
    return worker_cached(("stack", file_key(path)), lambda: _Stack(path))


@dataclass(frozen=True)
class EmbedTask:
    """Embed rows ``[start, stop)`` of a particle stack; the argument is ``(start, stop)``."""

    model_path: str
    particles: str
    batch_size: int = 256
    device: str = "auto"

    def __call__(self, rows: tuple[int, int]):
        import numpy as np

        from fewlabel.classify2d.embed import embed
        from fewlabel.classify2d.train import load_model

        restore_malloc_thresholds()
        device = _device(self.device)
        model, _ = worker_cached(("classify2d", file_key(self.model_path), device),
                                 lambda: load_model(self.model_path, device))
        start, stop = rows
        images = np.array(_stack(self.particles).images[start:stop], dtype=np.float32)  # a copy: maps are read-only
        return embed(model, images, self.batch_size, device)


def stack_rows(path: str | os.PathLike) -> int:
    """Number of particles in a stack (header only for .mrcs/.mrc)."""
    return len(_Stack(str(path)))


def row_chunks(n: int, chunk: int) -> list[tuple[str, tuple[int, int]]]:
    """Items ``(name, (start, stop))`` covering ``n`` rows in chunks of ``chunk`` (for EmbedTask)."""
    return [(f"rows_{a:09d}", (a, min(a + chunk, n))) for a in range(0, n, chunk)]
