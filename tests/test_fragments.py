"""Joining fragments of one person (posekit.decode.fragments) on hand-made people."""

import numpy as np

from estimation.config import BodyPart as P, get_default_configuration
from posekit.decode.fragments import MAX_LOSER_RATIO, MIN_CROSS_LIMBS, join, join_fragments

CFG = get_default_configuration()
# Peaks: 0 neck (strong), 1 neck (weak), 2 nose, 3 left shoulder, 4 right shoulder.
XY = np.array([[5.0, 5.0], [4.5, 5.0], [5.5, 2.0], [7.0, 5.5], [3.0, 5.5]])


def scorer(passing):
    """A limb scorer where exactly the (id_a, id_b) pairs in ``passing`` are strong."""
    ids = {tuple(p): k for k, p in enumerate(XY.tolist())}

    def score(a_xy, b_xy, types):
        strong = np.array([(ids[tuple(a)], ids[tuple(b)]) in passing
                           for a, b in zip(a_xy.tolist(), b_xy.tolist())], bool)
        return strong.astype(float), strong
    return score


def fragments(weak_neck):
    scores = np.array([0.4, weak_neck, 0.8, 0.5, 0.5])
    torso = {int(P.neck): 0, int(P.right_shoulder): 4}
    head = {int(P.neck): 1, int(P.nose): 2, int(P.left_shoulder): 3}
    return [torso, head], scores


def test_join_keeps_the_stronger_peak_of_a_shared_slot():
    people, scores = fragments(0.1)
    assert join(*people, scores) == {int(P.neck): 0, int(P.right_shoulder): 4,
                                     int(P.nose): 2, int(P.left_shoulder): 3}


def test_two_strong_cross_limbs_join_the_fragments():
    people, scores = fragments(0.1)
    out = join_fragments(people, scores, XY, scorer({(0, 2), (0, 3)}), CFG)
    assert MIN_CROSS_LIMBS == 2
    assert [src for _, src in out] == [(0, 1)] and len(out[0][0]) == 4


def test_one_cross_limb_is_not_enough():
    people, scores = fragments(0.1)
    out = join_fragments(people, scores, XY, scorer({(0, 2)}), CFG)
    assert [src for _, src in out] == [(0,), (1,)]


def test_two_strong_necks_are_two_people():
    # The weaker neck exactly at the limit still joins; just above it does not.
    people, scores = fragments(0.4 * MAX_LOSER_RATIO)
    assert len(join_fragments(people, scores, XY, scorer({(0, 2), (0, 3)}), CFG)) == 1
    people, scores = fragments(0.4 * MAX_LOSER_RATIO + 1e-6)
    assert len(join_fragments(people, scores, XY, scorer({(0, 2), (0, 3)}), CFG)) == 2


def test_people_apart_or_without_a_shared_slot_are_left_alone():
    scores = np.array([0.4, 0.1, 0.8, 0.5, 0.5])
    apart = [{int(P.neck): 0, int(P.right_shoulder): 4}, {int(P.nose): 2, int(P.left_shoulder): 3}]
    out = join_fragments(apart, scores, XY, scorer({(0, 2), (0, 3)}), CFG)
    assert [src for _, src in out] == [(0,), (1,)]
    far = XY.copy()
    far[[1, 2, 3]] += 50.0
    people, _ = fragments(0.1)
    assert len(join_fragments(people, scores, far, lambda a, b, t: (np.ones(len(t)),
                                                                    np.ones(len(t), bool)),
                              CFG)) == 2
