"""Score micrographs with a trained picker and extract picks by non-maximum suppression.

Micrographs are streamed: read, prepared and scored ``batch_size`` at a time (same-shape
micrographs share one forward pass), and only their picks are kept, so memory does not grow
with the number of micrographs. Picks come back in ORIGINAL pixels via
``preprocess.scale_coordinates``; every pick carries its score (a logit: 0 = probability 0.5).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from fewlabel.pick import data, nms
from fewlabel.pick.models import score_map


def _batches(items: Iterator, batch_size: int) -> Iterator[list]:
    """Group consecutive same-shape items, at most ``batch_size``; never reads ahead of a full batch."""
    batch: list = []
    for item in items:
        if batch and item[2].shape != batch[0][2].shape:
            yield batch
            batch = []
        batch.append(item)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def picks_from_scores(scores: np.ndarray, name: str, radius_ds: float, factor: int,
                      threshold: float | None = None) -> pd.DataFrame:
    """NMS on one score map (prepared frame) -> picks table in original pixels, best first."""
    xy, vals = nms.non_maximum_suppression(scores, radius_ds, threshold)
    df = pd.DataFrame({"image_name": name, "x_coord": xy[:, 0], "y_coord": xy[:, 1],
                       "score": vals.astype(float)})
    return data.to_original(df, factor)


def iter_extract(model, config: dict, paths: Iterable[Path], radius: float | None = None,
                 threshold: float | None = None, batch_size: int = 1, device: str = "cpu",
                 score_maps: str | os.PathLike | None = None, views: int = 0) -> Iterator[pd.DataFrame]:
    """Yield one picks table (original pixels) per micrograph, in input order.

    ``radius`` is the NMS radius in original pixels (default: the model's); ``score_maps``, if
    given, receives each micrograph's score map (prepared frame, float32 MRC, logits) and, for the
    first ``views`` micrographs, a PNG of the prepared micrograph beside its score map, drawn from
    the arrays already in memory (each micrograph is read and prepared exactly once).
    """
    factor = int(config["downsample"])
    radius = float(radius if radius is not None else config.get("nms_radius_used") or 2 * config["radius"])
    prepared = data.iter_prepared(paths, factor, config.get("normalize", "robust"))
    done = 0
    for batch in _batches(prepared, batch_size):
        x = torch.from_numpy(np.stack([b[2] for b in batch])).to(device)
        with torch.inference_mode():
            s = score_map(model, x).float().cpu().numpy()
        del x
        for (name, _, image), smap in zip(batch, s):
            picks = picks_from_scores(smap, name, radius / factor, factor, threshold)
            if score_maps is not None:
                from fewlabel.io.micrographs import write_micrograph

                Path(score_maps).mkdir(parents=True, exist_ok=True)
                write_micrograph(Path(score_maps) / f"{name}.mrc", smap.astype(np.float32))
                if done < views:
                    _score_view(Path(score_maps) / f"{name}.png", name, image, smap, picks, factor)
            done += 1
            yield picks


def _score_view(path: Path, name: str, image: np.ndarray, scores: np.ndarray, picks: pd.DataFrame,
                factor: int) -> None:
    """PNG of one prepared micrograph beside its score map, picks with score >= 0 as dots."""
    from fewlabel.report.figures import save_figure
    from fewlabel.report.pick import score_map_figure

    top = data.to_downsampled(picks[picks["score"] >= 0], factor)
    save_figure(score_map_figure(image, scores, top, title=f"{name} score (dots: score >= 0)"), path)
