"""Figures for 2D classification, one function per figure, each returning a matplotlib Figure.

- :func:`similarity_heatmap`: mean cosine similarity between classes (bright diagonal = separated).
- :func:`embedding_scatter`: the PCA -> t-SNE map coloured by a labelling (true class or cluster).
- :func:`elbow_plot`: k-means inertia against k, the suggested k marked.
- :func:`class_average_gallery`: aligned class averages, one panel per cluster with its size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure


def similarity_heatmap(matrix: np.ndarray, names: Sequence[str], title: str = "Cosine similarity between classes") -> Figure:
    """Heatmap of a class-by-class similarity matrix with the values written in the cells."""
    fig = Figure(figsize=(1.2 + 0.7 * len(names), 1.0 + 0.6 * len(names)))
    ax = fig.add_subplot()
    im = ax.imshow(matrix, cmap="viridis", vmin=min(-0.1, float(np.nanmin(matrix))), vmax=1.0)
    ax.set_xticks(range(len(names)), [str(n) for n in names], rotation=45, ha="right")
    ax.set_yticks(range(len(names)), [str(n) for n in names])
    if len(names) <= 15:
        for i in range(len(names)):
            for j in range(len(names)):
                ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if matrix[i, j] < 0.6 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_title(title)
    return fig


def embedding_scatter(xy: np.ndarray, labels: np.ndarray, names: Sequence[str] | None = None,
                      title: str = "t-SNE of embeddings") -> Figure:
    """Scatter of a 2D embedding map, one colour per label value."""
    fig = Figure(figsize=(5.5, 4.5))
    ax = fig.add_subplot()
    labels = np.asarray(labels)
    values = np.unique(labels)
    cmap = matplotlib_cmap(len(values))
    for i, v in enumerate(values):
        sel = labels == v
        name = names[int(v)] if names is not None and 0 <= int(v) < len(names) else str(v)
        ax.scatter(xy[sel, 0], xy[sel, 1], s=6, color=cmap(i), label=f"{name} ({sel.sum()})", alpha=0.8)
    ax.set_xticks([]), ax.set_yticks([])
    ax.set_title(title)
    if len(values) <= 20:
        ax.legend(fontsize=7, markerscale=2, loc="best", frameon=False)
    return fig


def matplotlib_cmap(n: int):
    """A qualitative colour map with at least ``n`` distinct colours."""
    import matplotlib

    return matplotlib.colormaps["tab10" if n <= 10 else "tab20"]


def elbow_plot(k_values: Sequence[int], inertias: Sequence[float], suggested: int | None = None,
               rule: str = "") -> Figure:
    """k-means inertia against k with the suggested k marked."""
    fig = Figure(figsize=(5, 3.6))
    ax = fig.add_subplot()
    ax.plot(list(k_values), list(inertias), "o-", color="C0")
    if suggested is not None:
        i = list(k_values).index(suggested)
        ax.plot([suggested], [inertias[i]], "o", ms=12, mfc="none", mec="C3", mew=2)
        ax.axvline(suggested, color="C3", ls="--", lw=1)
        ax.set_title(f"Elbow: suggested k = {suggested}")
    ax.set_xlabel("k (clusters)")
    ax.set_ylabel("k-means inertia")
    if rule:
        fig.text(0.01, -0.02, "rule: " + rule, fontsize=6, wrap=True, va="top")
    return fig


def class_average_gallery(averages: Mapping[int, np.ndarray], counts: Mapping[int, int] | None = None,
                          columns: int = 8, title: str = "Class averages (rotationally aligned)") -> Figure:
    """Grid of class-average images, each titled with its cluster and member count."""
    keys = list(averages)
    cols = min(columns, max(1, len(keys)))
    rows = int(np.ceil(len(keys) / cols))
    fig = Figure(figsize=(1.6 * cols, 1.75 * rows + 0.4))
    for i, k in enumerate(keys):
        ax = fig.add_subplot(rows, cols, i + 1)
        im = averages[k]
        lo, hi = np.percentile(im, [1, 99])
        ax.imshow(im, cmap="gray", vmin=lo, vmax=hi)
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_title(f"{k}" + (f" (n={counts[k]})" if counts else ""), fontsize=8)
    fig.suptitle(title, fontsize=10)
    return fig
