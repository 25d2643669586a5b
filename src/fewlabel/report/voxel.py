"""Figures for voxel classification: accuracy vs unlabeled data, confusion matrix, grid views.

One function per figure; each returns a matplotlib Figure (save with ``report.figures.save_figure``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def accuracy_curve_figure(results: pd.DataFrame, title: str = "") -> Figure:
    """Accuracy (mean ± sd over seeds) against the number of unlabeled grids used, one line per method.

    ``results`` has columns method, n_unlabeled, accuracy (and optionally dataset: one panel each).
    """
    datasets = list(results["dataset"].unique()) if "dataset" in results else [None]
    fig = Figure(figsize=(4.5 * len(datasets), 3.6))
    axes = fig.subplots(1, len(datasets), squeeze=False)[0]
    for ax, ds in zip(axes, datasets):
        sub = results if ds is None else results[results["dataset"] == ds]
        for method, g in sub.groupby("method", sort=False):
            s = g.groupby("n_unlabeled")["accuracy"].agg(["mean", "std"]).fillna(0.0)
            ax.errorbar(s.index, 100 * s["mean"], yerr=100 * s["std"], marker="o", capsize=3, label=method)
        ax.set_xlabel("unlabeled grids used")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(title or (ds or ""))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def confusion_matrix_figure(y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str] | None = None,
                            title: str = "") -> Figure:
    """Row-normalised confusion matrix with counts in the cells."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    labels = np.unique(np.concatenate([y_true, y_pred]))
    k = len(labels)
    pos = {c: i for i, c in enumerate(labels)}
    cm = np.zeros((k, k), dtype=int)
    for t, p in zip(y_true, y_pred):
        cm[pos[t], pos[p]] += 1
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    names = [str(class_names[c]) if class_names is not None and 0 <= c < len(class_names) else str(c)
             for c in labels]
    fig = Figure(figsize=(1.0 + 0.55 * k, 0.8 + 0.5 * k))
    ax = fig.subplots()
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            ax.text(j, i, cm[i, j], ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xticks(range(k), names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(k), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or f"accuracy {100 * np.mean(y_true == y_pred):.1f}%")
    fig.tight_layout()
    return fig


def grid_views_figure(grids: np.ndarray, labels: Sequence | None = None, class_names: Sequence[str] | None = None,
                      per_row: int = 6) -> Figure:
    """Each grid as three rows: sum projection along z, along x, and the central z slice."""
    grids = np.asarray(grids, dtype=np.float32)[:per_row]
    m = len(grids)
    fig = Figure(figsize=(1.6 * m, 5.0))
    axes = fig.subplots(3, m, squeeze=False)
    for j, g in enumerate(grids):
        views = (g.sum(axis=2), g.sum(axis=0), g[:, :, g.shape[2] // 2])
        for i, (v, name) in enumerate(zip(views, ("xy projection", "yz projection", "central z slice"))):
            ax = axes[i, j]
            ax.imshow(v.T, origin="lower", cmap="magma")
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(name, fontsize=7)
        if labels is not None:
            lab = labels[j]
            name = class_names[int(lab)] if class_names is not None else str(lab)
            axes[0, j].set_title(str(name), fontsize=8)
    fig.tight_layout()
    return fig
