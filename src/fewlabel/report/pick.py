"""Picking figures: precision-recall curve with AUPRC, training curve, score-map view.

Each function returns a matplotlib Figure; save it with :func:`fewlabel.report.figures.save_figure`.
Micrographs with picks circled come from :mod:`fewlabel.report.micrograph`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from fewlabel.report.figures import plt  # Agg backend already selected


def pr_curve_figure(curves: Mapping[str, object], title: str = "precision-recall"):
    """One PR curve per entry of ``curves`` (``label -> metrics.PRCurve``), AUPRC in the legend.

    Curves with a single threshold (picks without scores) are drawn as points.
    """
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for label, c in curves.items():
        if len(c.recall) <= 1:
            ax.plot(c.recall, c.precision, "o", label=f"{label} (P={c.precision[0] if len(c.precision) else 0:.2f})")
        else:
            ax.step(np.r_[0.0, c.recall], np.r_[c.precision[0], c.precision], where="post",
                    label=f"{label} (AUPRC={c.auprc:.3f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(f"recall (of {next(iter(curves.values())).n_true} true particles)" if curves else "recall")
    ax.set_ylabel("precision")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    return fig


def training_curve_figure(history: Sequence[Mapping[str, float]], title: str = "training"):
    """Training loss and validation AUPRC per epoch (two y axes)."""
    h = pd.DataFrame(list(history))
    fig, ax = plt.subplots(figsize=(6, 4))
    if len(h):
        ax.plot(h["epoch"], h["loss"], "o-", color="#1f77b4", label="training loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss", color="#1f77b4")
    if "val_auprc" in h.columns:
        ax2 = ax.twinx()
        ax2.plot(h["epoch"], h["val_auprc"], "s-", color="#d62728", label="labeled particles only")
        if "val_auprc_est" in h.columns:  # PU estimate over all particles (see pick.train.validation_auprc)
            ax2.plot(h["epoch"], h["val_auprc_est"], "^--", color="#ff9896", label="estimate, all particles")
        ax2.legend(loc="lower right", fontsize=8)
        ax2.set_ylabel("validation AUPRC", color="#d62728")
        ax2.set_ylim(0, 1)
        best = h["val_auprc"].idxmax()
        ax2.axvline(h.loc[best, "epoch"], color="#d62728", ls=":", lw=1)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig


def score_map_figure(image: np.ndarray, scores: np.ndarray, picks: pd.DataFrame | None = None,
                     title: str = "score map"):
    """Prepared micrograph beside its score map (probability), picks as dots on both.

    ``image`` and ``scores`` share one frame (the prepared, downsampled one); ``picks`` are in
    that frame too.
    """
    fig, axes = plt.subplots(1, 2, figsize=(10, 5 * image.shape[0] / image.shape[1] + 0.5))
    lo, hi = np.percentile(image, [1, 99])
    axes[0].imshow(image, cmap="gray", vmin=lo, vmax=hi)
    im = axes[1].imshow(1 / (1 + np.exp(-np.asarray(scores, float))), cmap="magma", vmin=0, vmax=1)
    fig.colorbar(im, ax=axes[1], fraction=0.046, label="P(particle)")
    for ax, t in zip(axes, ("micrograph", title)):
        if picks is not None and len(picks):
            ax.plot(picks["x_coord"], picks["y_coord"], ".", color="#00d0ff", ms=3)
        ax.set_title(t)
        ax.set_xticks([])
        ax.set_yticks([])
    return fig
