"""The scaled commands in one call each, so a CLI command wires in with a few lines.

Each function runs its per-item task (:mod:`fewlabel.scale.tasks`) as ``scale`` says, writes the
final output atomically from the merged parts, and returns the merged result (None for a
``--shard`` run, which only writes parts). Failed items raise
:class:`fewlabel.scale.runner.ItemsFailedError` (an InputError: one line, exit 2) after the rest
has been merged and written.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from fewlabel.errors import InputError
from fewlabel.scale.cache import content_key, file_key
from fewlabel.scale.cluster import ScaleSpec
from fewlabel.scale.merge import concat_stacks, concat_tables
from fewlabel.scale.parts import PickleCodec, TableCodec, parts_dir_for
from fewlabel.scale.runner import run_scaled
from fewlabel.scale.tasks import EmbedTask, ParticlesExtractTask, PickExtractTask, row_chunks, stack_rows


def pick_extract(paths: Sequence[Path], model_path: str | os.PathLike, output: str | os.PathLike,
                 scale: ScaleSpec, *, device: str = "auto", radius: float | None = None,
                 threshold: float | None = None, score_maps: str | os.PathLike | None = None,
                 box_size: int | None = None, tta: bool = True, log: Callable[[str], None] = print):
    """Picks of every micrograph in ``paths`` -> ``output`` (any picks format); returns the table."""
    from fewlabel.io.picks import write_picks

    def finish(parts):
        picks = concat_tables(parts)
        write_picks(picks, output, box_size=box_size)
        log(f"wrote {len(picks)} picks from {len(paths)} micrographs to {output}")
        return picks

    task = PickExtractTask(str(model_path), device=device, radius=radius, threshold=threshold,
                           score_maps=None if score_maps is None else str(score_maps), tta=tta)
    key = {"model": content_key(model_path), "radius": radius, "threshold": threshold, "tta": tta}
    return run_scaled([(Path(p).stem, Path(p)) for p in paths], task, codec=TableCodec(),
                      parts_dir=parts_dir_for(output), spec=scale, finish=finish, run_key=key, log=log).result


def particles_extract(paths: Mapping[str, Path], picks, output: str | os.PathLike, scale: ScaleSpec, *, box: int,
                      downsample: int = 1, edge: str = "skip", normalize: str = "background",
                      log: Callable[[str], None] = print):
    """Boxes around ``picks`` (micrographs by image name in ``paths``) -> ``output`` .mrcs + .star.

    Returns ``(images, metadata)`` in pick order grouped by micrograph, as
    :func:`fewlabel.particles.extract_particles` orders them.
    """
    from fewlabel.io.stacks import write_stack

    def finish(parts):
        images, meta, pixel_size = concat_stacks(parts)
        if images is None or len(images) == 0:
            raise InputError(output, f"no particle left to write: every one of the {len(picks)} boxes leaves "
                                     "its micrograph or failed; use a smaller --box or --edge flag")
        write_stack(output, images, meta, None if pixel_size is None else pixel_size * downsample)
        return images, meta

    groups = picks.groupby("image_name", sort=False)
    items = [(name, (paths[name], group)) for name, group in groups]
    task = ParticlesExtractTask(box=box, downsample=downsample, edge=edge, normalize=normalize)
    import hashlib

    import pandas as pd

    digest = hashlib.sha1(pd.util.hash_pandas_object(picks, index=False).to_numpy().tobytes()).hexdigest()
    key = {"picks": digest, "box": box, "downsample": downsample, "edge": edge, "normalize": normalize}
    return run_scaled(items, task, codec=PickleCodec(), parts_dir=parts_dir_for(output), spec=scale, finish=finish,
                      run_key=key, log=log).result


def classify2d_embed(model_path: str | os.PathLike, particles: str | os.PathLike, output: str | os.PathLike,
                     scale: ScaleSpec, *, batch_size: int = 256, device: str = "auto", chunk: int = 4096,
                     log: Callable[[str], None] = print):
    """Embeddings of every particle of ``particles`` in chunks of ``chunk`` rows -> ``output`` .npy."""
    import numpy as np

    from fewlabel.atomic import atomic_path

    def finish(parts):
        emb = np.concatenate(list(parts))
        with atomic_path(output) as tmp:
            np.save(tmp, emb)
        return emb

    n = stack_rows(particles)
    if n == 0:
        raise InputError(particles, "the particle stack is empty")
    task = EmbedTask(str(model_path), str(particles), batch_size=batch_size, device=device)
    key = {"model": content_key(model_path), "particles": file_key(particles), "chunk": chunk}
    return run_scaled(row_chunks(n, chunk), task, codec=PickleCodec(), parts_dir=parts_dir_for(output), spec=scale,
                      finish=finish, run_key=key, what="chunks", log=log).result
