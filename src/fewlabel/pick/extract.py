"""Score micrographs with a trained picker and extract picks by non-maximum suppression.

Micrographs are streamed: read, prepared and scored ``batch_size`` at a time (same-shape
micrographs share one forward pass), and only their picks are kept, so memory does not grow
with the number of micrographs. Picks come back in ORIGINAL pixels via
``preprocess.scale_coordinates``; every pick carries its score (a logit: 0 = probability 0.5).

Speed (a 4096x4096 micrograph is read, Fourier-cropped, scored and suppressed in about 0.3 s of
one CPU core at downsampling 8): scoring uses :func:`inference_model`, a copy of the picker with
each batch norm folded into its convolution and channels-last weights (same scores to float
rounding, ~1.5x faster on CPU), and the Fourier crop uses as many ``scipy.fft`` threads as torch
has (``torch.get_num_threads()``, 1 in a Dask worker).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from fewlabel.errors import InputError
from fewlabel.pick import data, nms
from fewlabel.pick.models import score_map


def inference_model(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``model`` for scoring only: Conv2d + BatchNorm2d pairs folded, channels-last weights.

    Each ``Conv2d`` registered right before a ``BatchNorm2d`` of its width (as in every picker of
    :mod:`fewlabel.pick.models`) is replaced by one convolution with the batch norm's running
    statistics folded in. The copy is checked against the original on a small random image and
    the original is returned if they differ beyond float rounding, so a model whose batch norm
    is not applied right after its convolution is never scored wrongly. Calling it again on its
    own result returns that result.
    """
    from torch import nn
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    if getattr(model, "_fewlabel_inference", False):
        return model
    fused = copy.deepcopy(model).eval()
    if getattr(fused, "decoder", None) is not None:
        fused.decoder = None  # the autoencoder half is not used to score
    for parent in list(fused.modules()):
        names = list(parent._modules)
        for a, b in zip(names, names[1:]):
            conv, bn = parent._modules[a], parent._modules[b]
            if (isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)
                    and conv.out_channels == bn.num_features):
                parent._modules[a] = fuse_conv_bn_eval(conv, bn)
                parent._modules[b] = nn.Identity()
    fused = fused.to(memory_format=torch.channels_last)
    rf = int(getattr(model, "receptive_field", 1))
    device = next(model.parameters()).device
    x = torch.randn(2, rf + 9, rf + 13, generator=torch.Generator().manual_seed(0)).to(device)
    with torch.inference_mode():
        want, got = score_map(model, x).float(), score_map(fused, x).float()
    if not torch.allclose(got, want, rtol=1e-4, atol=1e-4 * (1 + float(want.abs().max()))):
        return model
    fused._fewlabel_inference = True
    return fused


def _fft_threads(items: Iterator, workers: int) -> Iterator:
    """Iterate ``items`` with ``scipy.fft`` using ``workers`` threads, only while an item is made."""
    from scipy import fft

    items = iter(items)
    while True:
        with fft.set_workers(workers):
            item = next(items, None)
        if item is None:
            return
        yield item


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


def picks_from_scores(scores: np.ndarray, name: str, radius_ds: float, factor: float,
                      threshold: float | None = None) -> pd.DataFrame:
    """NMS on one score map (prepared frame) -> picks table in original pixels, best first."""
    xy, vals = nms.non_maximum_suppression(scores, radius_ds, threshold)
    df = pd.DataFrame({"image_name": name, "x_coord": xy[:, 0], "y_coord": xy[:, 1],
                       "score": vals.astype(float)})
    return data.to_original(df, factor)


def _prepared_or_skipped(paths: Iterable[Path], factor: float, normalize: str,
                         failures: list[tuple[str, str]] | None) -> Iterator[tuple[str, tuple[int, int], np.ndarray]]:
    """``data.iter_prepared``; with a ``failures`` list, a micrograph that cannot be read is recorded
    there as ``(file name, problem)`` and skipped instead of stopping the run."""
    if failures is None:
        yield from data.iter_prepared(paths, factor, normalize)
        return
    for path in paths:
        try:
            item = next(data.iter_prepared([path], factor, normalize))
        except InputError as exc:
            failures.append((Path(path).name, exc.problem))
            continue
        yield item


def iter_extract(model, config: dict, paths: Iterable[Path], radius: float | None = None,
                 threshold: float | None = None, batch_size: int = 1, device: str = "cpu",
                 score_maps: str | os.PathLike | None = None, views: int = 0,
                 failures: list[tuple[str, str]] | None = None, tta: bool = True) -> Iterator[pd.DataFrame]:
    """Yield one picks table (original pixels) per micrograph, in input order.

    ``radius`` is the NMS radius in original pixels (default: the model's); ``score_maps``, if
    given, receives each micrograph's score map (prepared frame, float32 MRC, logits) and, for the
    first ``views`` micrographs, a PNG of the prepared micrograph beside its score map, drawn from
    the arrays already in memory (each micrograph is read and prepared exactly once). With a
    ``failures`` list, unreadable micrographs are recorded there and skipped (see
    :func:`_prepared_or_skipped`); without one the first raises. ``tta``: score maps averaged over
    the 8 rotations/mirrors of the micrograph (:data:`fewlabel.pick.models.TTA_VIEWS`).
    """
    factor = float(config["downsample"])
    radius = float(radius if radius is not None else config.get("nms_radius_used") or 2 * config["radius"])
    model = inference_model(model)
    prepared = _fft_threads(_prepared_or_skipped(paths, factor, config.get("normalize", "robust"), failures),
                            max(1, torch.get_num_threads()))
    done = 0
    for batch in _batches(prepared, batch_size):
        x = torch.from_numpy(np.stack([b[2] for b in batch])).to(device)
        with torch.inference_mode():
            s = np.ascontiguousarray(score_map(model, x, tta=tta).float().cpu().numpy())
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
                factor: float) -> None:
    """PNG of one prepared micrograph beside its score map, picks with score >= 0 as dots."""
    from fewlabel.report.figures import save_figure
    from fewlabel.report.pick import score_map_figure

    top = data.to_downsampled(picks[picks["score"] >= 0], factor)
    save_figure(score_map_figure(image, scores, top, title=f"{name} score (dots: score >= 0)"), path)
