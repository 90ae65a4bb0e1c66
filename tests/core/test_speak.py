"""The speak score's pieces: decision points and their labels, the calibrated threshold, the AUC, the opener."""

import random

import pytest
from sklearn.metrics import roc_auc_score

from clonekit.chat import turn
from clonekit.errors import ClonekitError
from clonekit.speak import calibrate_threshold, decision_points, distinguishing_opener, mentions, roc_auc


def test_decision_points_follow_other_speakers_and_end_silent():
    turns = [turn("Sam", "hi maya"), turn("Maya", "hey", True), turn("Oliver", "food?"), turn("Priya", "yes")]
    points = decision_points(turns, "Maya", times=[0.0, 10.0, 40.0, 50.0])
    assert [(p.index, p.wrote_next, p.mentioned) for p in points] == [
        (0, True, True),
        (2, False, False),
        (3, False, False),
    ]
    assert [p.since_target_s for p in points] == [None, 30.0, 40.0]


def test_mentions_whole_words_and_first_names():
    assert mentions("MAYA u in?", "Maya")
    assert mentions("@maya", "Maya")
    assert mentions("deniz?", "Deniz K.")
    assert not mentions("a mayan temple", "Maya")


def test_threshold_makes_the_rate_with_mentions_first():
    scores = [-0.1, -0.5, -1.0, -2.0, -3.0, -0.05]
    mentioned = [False, False, False, False, False, True]
    t = calibrate_threshold(scores, mentioned, rate=0.5)  # 3 of 6: the mention plus the two best others
    assert sum(m or s >= t for s, m in zip(scores, mentioned, strict=False)) == 3
    assert calibrate_threshold(scores, [True] * 6, 0.2) == float("inf")
    with pytest.raises(ClonekitError):
        calibrate_threshold([], [], 0.5)


def test_auc_matches_scikit_learn_with_ties():
    rng = random.Random(0)
    scores = [round(rng.random(), 1) for _ in range(200)]
    labels = [rng.random() < s for s in scores]
    assert roc_auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores))
    assert roc_auc([1.0, 2.0], [True, True]) is None


def test_opener_stops_at_the_first_token_that_tells_the_target_apart():
    assert distinguishing_opener([1, 7, 9], [1, 5, 6, 9]) == [1, 7]
    with pytest.raises(ClonekitError):
        distinguishing_opener([1, 5], [1, 5, 6])
