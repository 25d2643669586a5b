"""Non-maximum suppression: local maxima within a disk, plateaus resolved, threshold."""

import numpy as np

from fewlabel.pick.nms import disk, non_maximum_suppression


def test_two_separated_peaks_and_suppression():
    s = np.zeros((50, 60), np.float32)
    s[10, 12] = 5.0
    s[10, 15] = 4.0  # within radius 5 of the stronger peak: suppressed
    s[40, 50] = 3.0
    xy, vals = non_maximum_suppression(s, radius=5, threshold=1.0)
    assert xy.tolist() == [[12, 10], [50, 40]]
    assert vals.tolist() == [5.0, 3.0]
    xy, _ = non_maximum_suppression(s, radius=2, threshold=1.0)
    assert len(xy) == 3  # smaller radius keeps the close peak


def test_plateau_gives_one_pick_and_matches_bruteforce():
    s = np.zeros((20, 20), np.float32)
    s[5, 5] = s[5, 6] = 2.0
    xy, _ = non_maximum_suppression(s, radius=3, threshold=1.0)
    assert len(xy) == 1
    rng = np.random.default_rng(0)
    s = rng.normal(size=(40, 40)).astype(np.float32)
    xy, vals = non_maximum_suppression(s, radius=4)
    fp = disk(4)
    # brute force: a pixel is kept iff it is the max of its disk
    brute = []
    for r in range(40):
        for c in range(40):
            ok = True
            for dr in range(-4, 5):
                for dc in range(-4, 5):
                    rr, cc = r + dr, c + dc
                    if fp[dr + 4, dc + 4] and 0 <= rr < 40 and 0 <= cc < 40 and s[rr, cc] > s[r, c]:
                        ok = False
            if ok:
                brute.append((c, r))
    assert sorted(map(tuple, xy.astype(int).tolist())) == sorted(brute)
    assert np.all(np.diff(vals) <= 0)
