"""Scoring picks against true particles: greedy matching, precision/recall, average precision.

NumPy only. Predictions are matched in order of descending score, each to the nearest
still-unmatched true particle of the same micrograph within ``radius`` pixels. Recall is over
ALL true particles, so true particles that no pick reaches lower the curve and the AUPRC.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class PRCurve:
    """Precision/recall at every distinct score threshold, and the average precision."""

    threshold: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    auprc: float
    n_picks: int
    n_true: int

    def best_f1(self) -> dict[str, float]:
        """The threshold with the highest F1 and its precision, recall and F1."""
        if self.f1.size == 0:
            return {"threshold": float("nan"), "precision": 0.0, "recall": 0.0, "f1": 0.0}
        i = int(np.argmax(self.f1))
        return {"threshold": float(self.threshold[i]), "precision": float(self.precision[i]),
                "recall": float(self.recall[i]), "f1": float(self.f1[i])}


def match_micrograph(pred_xy: np.ndarray, scores: np.ndarray, true_xy: np.ndarray,
                     radius: float) -> np.ndarray:
    """Boolean per prediction: matched to a true particle (greedy by descending score)."""
    matched = np.zeros(len(pred_xy), dtype=bool)
    if len(pred_xy) == 0 or len(true_xy) == 0:
        return matched
    free = np.ones(len(true_xy), dtype=bool)
    r2 = float(radius) ** 2
    for i in np.argsort(-scores, kind="stable"):
        d2 = ((true_xy - pred_xy[i]) ** 2).sum(axis=1)
        d2[~free] = np.inf
        j = int(np.argmin(d2))
        if d2[j] <= r2:
            matched[i] = True
            free[j] = False
    return matched


def match_picks(picks: pd.DataFrame, truth: pd.DataFrame, radius: float) -> np.ndarray:
    """Boolean per row of ``picks`` (in its order): matched to a row of ``truth``."""
    scores = _scores(picks)
    matched = np.zeros(len(picks), dtype=bool)
    truth_groups = {name: g[["x_coord", "y_coord"]].to_numpy(float)
                    for name, g in truth.groupby("image_name", sort=False)}
    positions = np.arange(len(picks))
    for name, g in picks.groupby("image_name", sort=False):
        idx = positions[(picks["image_name"] == name).to_numpy()]
        true_xy = truth_groups.get(name)
        if true_xy is None:
            continue
        matched[idx] = match_micrograph(g[["x_coord", "y_coord"]].to_numpy(float), scores[idx], true_xy, radius)
    return matched


def _scores(picks: pd.DataFrame) -> np.ndarray:
    if "score" in picks.columns:
        return picks["score"].to_numpy(float)
    return np.zeros(len(picks))  # unscored picks: one threshold, a single PR point


def precision_recall(scores: np.ndarray, matched: np.ndarray, n_true: int) -> PRCurve:
    """PR curve from per-pick scores and match flags; ties in score form one threshold.

    Average precision is ``sum_k (R_k - R_{k-1}) P_k`` over distinct thresholds (descending),
    with ``R_0 = 0``: the area under the step-wise PR curve.
    """
    scores = np.asarray(scores, float)
    matched = np.asarray(matched, bool)
    order = np.argsort(-scores, kind="stable")
    s, m = scores[order], matched[order]
    tp = np.cumsum(m)
    k = np.arange(1, len(s) + 1)
    # last position of each group of equal scores
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1] if len(s) else np.array([], int)
    tp, k, thr = tp[last], k[last], s[last]
    precision = tp / k
    recall = tp / n_true if n_true > 0 else np.zeros_like(precision)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    auprc = float(np.sum(np.diff(np.r_[0.0, recall]) * precision)) if len(s) else 0.0
    return PRCurve(thr, precision, recall, f1, auprc, len(s), int(n_true))


def evaluate_picks(picks: pd.DataFrame, truth: pd.DataFrame, radius: float) -> PRCurve:
    """Match ``picks`` to ``truth`` within ``radius`` and return the PR curve (recall over all truth)."""
    matched = match_picks(picks, truth, radius)
    return precision_recall(_scores(picks), matched, len(truth))


def default_match_radius(truth: pd.DataFrame) -> float:
    """Half the median nearest-neighbour distance between true particles (a particle radius guess)."""
    nn = []
    for _, g in truth.groupby("image_name"):
        xy = g[["x_coord", "y_coord"]].to_numpy(float)
        if len(xy) < 2:
            continue
        for start in range(0, len(xy), 1024):
            d2 = ((xy[start:start + 1024, None] - xy[None]) ** 2).sum(-1)
            np.fill_diagonal(d2[:, start:start + 1024], np.inf)
            nn.append(np.sqrt(d2.min(axis=1)))
    if not nn:
        raise ValueError("cannot guess a matching radius from fewer than two true particles per micrograph")
    return float(np.median(np.concatenate(nn)) / 2)
