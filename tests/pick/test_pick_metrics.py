"""Matching and average precision on hand-worked examples."""

import numpy as np
import pandas as pd
import pytest

from fewlabel.pick.metrics import (default_match_radius, evaluate_picks, match_micrograph, precision_recall)


def df(rows, scored=True):
    cols = ["image_name", "x_coord", "y_coord"] + (["score"] if scored else [])
    return pd.DataFrame(rows, columns=cols)


def test_greedy_matching_by_score():
    # two predictions compete for one true particle: the higher score wins even though farther
    truth = np.array([[10.0, 10.0]])
    pred = np.array([[11.0, 10.0], [14.0, 10.0]])
    assert match_micrograph(pred, np.array([0.1, 0.9]), truth, 5).tolist() == [False, True]
    # outside the radius: no match; exactly at the radius: match
    assert match_micrograph(np.array([[15.0, 10.0]]), np.array([1.0]), truth, 4.9).tolist() == [False]
    assert match_micrograph(np.array([[15.0, 10.0]]), np.array([1.0]), truth, 5.0).tolist() == [True]


def test_hand_worked_average_precision():
    # truth: 4 particles (3 on a, 1 on b); picks by score: TP, FP, TP, TP(on b) ; one truth never found
    truth = df([("a", 0, 0), ("a", 100, 0), ("a", 200, 0), ("b", 50, 50)], scored=False)
    picks = df([("a", 1, 1, 0.9), ("a", 500, 500, 0.8), ("a", 101, 0, 0.7), ("b", 52, 50, 0.6)])
    curve = evaluate_picks(picks, truth, radius=5)
    np.testing.assert_allclose(curve.precision, [1, 1 / 2, 2 / 3, 3 / 4])
    np.testing.assert_allclose(curve.recall, [1 / 4, 1 / 4, 2 / 4, 3 / 4])
    # AP = 1/4*1 + 0*1/2 + 1/4*2/3 + 1/4*3/4
    assert curve.auprc == pytest.approx(0.25 + 0.25 * 2 / 3 + 0.25 * 0.75)
    best = curve.best_f1()
    assert best["f1"] == pytest.approx(2 * 0.75 * 0.75 / 1.5)


def test_picks_on_wrong_micrograph_do_not_match():
    truth = df([("a", 0, 0)], scored=False)
    picks = df([("b", 0, 0, 1.0)])
    assert evaluate_picks(picks, truth, 5).auprc == 0.0


def test_ties_form_one_threshold_and_unscored_picks_give_one_point():
    p = precision_recall(np.array([1.0, 1.0, 0.5]), np.array([False, True, True]), n_true=4)
    np.testing.assert_allclose(p.precision, [1 / 2, 2 / 3])
    assert p.auprc == pytest.approx(0.25 * 0.5 + 0.25 * 2 / 3)
    truth = df([("a", 0, 0), ("a", 50, 0)], scored=False)
    picks = df([("a", 0, 1), ("a", 90, 90), ("a", 300, 0)], scored=False)
    c = evaluate_picks(picks, truth, 5)
    assert len(c.precision) == 1 and c.precision[0] == pytest.approx(1 / 3) and c.recall[0] == pytest.approx(0.5)
    assert c.auprc == pytest.approx(1 / 6)


def test_perfect_and_empty():
    truth = df([("a", 0, 0), ("a", 30, 0)], scored=False)
    assert evaluate_picks(df([("a", 0, 0, 2.0), ("a", 30, 0, 1.0)]), truth, 3).auprc == pytest.approx(1.0)
    assert evaluate_picks(df([]), truth, 3).auprc == 0.0


def test_default_match_radius_is_half_nn_distance():
    truth = df([("a", 0, 0), ("a", 40, 0), ("a", 80, 0), ("b", 0, 0), ("b", 0, 40)], scored=False)
    assert default_match_radius(truth) == pytest.approx(20.0)
