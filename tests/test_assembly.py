"""Assembly joining fragments of one person (posekit.decode.assembly), values pinned by hand.

``assemble`` given the PAFs joins two people that greedy assembly left apart
(two neck peaks, one weak) and scores the joined person's limbs again on the
PAFs. The maps are rendered from one known person (``tools.synthetic``);
every limb is axis-aligned and short, so each rescored limb is exactly 1.0.
"""

import dataclasses
import math

import numpy as np
import pytest

from posekit.decode.assembly import assemble
from estimation.config import NUM_PARTS, BodyPart as P
from posekit.decode.params import DecoderParams
from posekit.decode.rescore import FEATURE_NAMES, NUM_FEATURES
from posekit.decode.decoder import decode
from tools.synthetic import make_person, render_maps

# Peak ids: 0 neck (strong), 1 right shoulder, 2 right elbow, 3 second neck
# (weak), 4 nose, 5 left shoulder, 6 left elbow, 7 right hip, 8 right knee
# (a lone person far away, no PAF under it).
XY = np.array([[20.0, 12], [16, 12], [16, 18], [21, 13], [20, 7], [24, 12], [24, 18],
               [5, 30], [5, 36]])
SLOT = [P.neck, P.right_shoulder, P.right_elbow, P.neck, P.nose, P.left_shoulder,
        P.left_elbow, P.right_hip, P.right_knee]
HEURISTIC = DecoderParams(min_parts=2, min_mean_score=0.0, min_person_score=0.0,
                          person_score="heuristic")   # the hand-made formula, no pruning


def scores(second_neck):
    return np.array([0.9, 0.8, 0.7, second_neck, 0.8, 0.8, 0.7, 0.6, 0.6])


def one_person_pafs():
    """(40, 40, 38) PAFs of the person whose neck is peak 0 (the second neck is no keypoint)."""
    person = np.full((NUM_PARTS, 2), np.nan)
    for k in (0, 1, 2, 4, 5, 6):
        person[SLOT[k]] = XY[k]
    _, pafs = render_maps(person[None], (40, 40))
    return pafs


def limbs(cfg):
    """Greedy assembly makes three people: the neck-0 fragment {neck, right arm},
    the neck-3 fragment {neck, nose, left arm} and the lone {right hip, knee}."""
    names = [l.name for l in cfg.connection_types]
    table = [("neck-right_shoulder", 0, 1, 0.6), ("right_shoulder-right_elbow", 1, 2, 0.5),
             ("neck-nose", 3, 4, 0.4), ("neck-left_shoulder", 3, 5, 0.3),
             ("left_shoulder-left_elbow", 5, 6, 0.2), ("right_hip-right_knee", 7, 8, 0.45)]
    return np.array([[names.index(n), a, b, s] for n, a, b, s in table], float)


def heuristic(ids, part_scores, limb_sum):
    xy = XY[ids]
    diag = math.hypot(*(xy.max(0) - xy.min(0)))
    mean = part_scores[ids].mean()
    return (part_scores[ids].sum() + limb_sum) * mean * math.sqrt(max(diag, 1.0))


def row(ids, score):
    out = np.full(20, -1.0)
    for k in ids:
        out[SLOT[k]] = k
    out[18:] = score, len(ids)
    return out


def test_two_fragments_of_one_person_are_joined_and_their_limbs_scored_again(cfg):
    part_scores = scores(0.3)          # 0.3 / 0.9 <= 0.5: the second neck is a fragment's
    features = []
    people = assemble(limbs(cfg), part_scores, XY, cfg, HEURISTIC, features_out=features,
                      pafs=one_person_pafs())
    # Joined: the stronger neck 0 kept; cross limbs neck-nose and neck-left_shoulder
    # pass on the PAFs. Its five limbs (neck-right_shoulder, neck-left_shoulder, both
    # upper arms, neck-nose) rescored at 1.0 each, not the greedy 0.6 + 0.5 + ...
    joined = [0, 1, 2, 4, 5, 6]
    # parts 4.7 + limbs 5.0, mean part 4.7 / 6, box 8 x 11 (diagonal sqrt(185)).
    assert heuristic(joined, part_scores, 5.0) == pytest.approx(9.7 * 4.7 / 6 * 185 ** 0.25)
    expected = np.array([row(joined, heuristic(joined, part_scores, 5.0)),
                         row([7, 8], heuristic([7, 8], part_scores, 0.45))])
    np.testing.assert_allclose(people, expected, rtol=1e-6)
    limb_scores = features[0][:, NUM_PARTS:NUM_PARTS + 19]
    names = [l.name for l in cfg.connection_types]
    rescored = np.zeros(19)
    rescored[[names.index(n) for n in ("neck-right_shoulder", "neck-left_shoulder",
                                       "right_shoulder-right_elbow", "left_shoulder-left_elbow",
                                       "neck-nose")]] = 1.0
    lone = np.zeros(19)
    lone[names.index("right_hip-right_knee")] = 0.45    # one fragment: its own limbs kept
    np.testing.assert_allclose(limb_scores, [rescored, lone], rtol=1e-6)


def test_two_real_necks_stay_two_people_with_their_greedy_scores(cfg):
    part_scores = scores(0.5)          # 0.5 / 0.9 > 0.5: two real necks
    people = assemble(limbs(cfg), part_scores, XY, cfg, HEURISTIC, pafs=one_person_pafs())
    first, second = [0, 1, 2], [3, 4, 5, 6]
    expected = [row(first, heuristic(first, part_scores, 0.6 + 0.5)),
                row(second, heuristic(second, part_scores, 0.4 + 0.3 + 0.2)),
                row([7, 8], heuristic([7, 8], part_scores, 0.45))]
    expected.sort(key=lambda r: -r[18])
    np.testing.assert_allclose(people, expected, rtol=1e-6)


@pytest.mark.parametrize("how", ["no pafs", "join off", "one cross limb"])
def test_fragments_stay_apart_without_pafs_when_off_or_with_one_cross_limb(cfg, how):
    part_scores = scores(0.3)
    pafs = one_person_pafs()
    params = HEURISTIC
    if how == "no pafs":
        pafs = None
    elif how == "join off":
        params = dataclasses.replace(HEURISTIC, join_fragments=False)
    else:
        neck_nose = [l for l in cfg.connection_types if l.name == "neck-nose"][0]
        pafs[:, :, [neck_nose.paf_dx_idx, neck_nose.paf_dy_idx]] = 0.0   # only neck-left_shoulder
    people = assemble(limbs(cfg), part_scores, XY, cfg, params, pafs=pafs)
    assert sorted(people[:, 19].tolist()) == [2, 3, 4]
    fragment = [3, 4, 5, 6]
    assert any(np.allclose(r, row(fragment, heuristic(fragment, part_scores, 0.9)))
               for r in people)


# --- greedy assembly: what the features see, and pruning ----------------------------------

def named(cfg, table):
    names = [l.name for l in cfg.connection_types]
    return np.array([[names.index(n), a, b, s] for n, a, b, s in table], float)


def test_the_features_hold_the_score_of_each_limb_however_it_joined_the_person(cfg):
    # Start (0.9), a second start (0.8), attaches (0.7, 0.6, 0.5), a redundant limb
    # closing a loop (0.4), then a merge of the two people (0.3).
    strong = named(cfg, [("neck-right_shoulder", 0, 1, 0.9), ("right_elbow-right_wrist", 2, 3, 0.8),
                         ("neck-nose", 0, 4, 0.7), ("nose-right_eye", 4, 5, 0.6),
                         ("right_eye-right_ear", 5, 6, 0.5),
                         ("right_shoulder-right_ear", 1, 6, 0.4),
                         ("right_shoulder-right_elbow", 1, 2, 0.3)])
    features = []
    people = assemble(strong, np.full(7, 0.5), np.arange(14.0).reshape(7, 2), cfg, HEURISTIC,
                      features_out=features)
    assert len(people) == 1 and people[0, 19] == 7
    expected = np.zeros(19)
    expected[strong[:, 0].astype(int)] = strong[:, 3]
    np.testing.assert_allclose(features[0][0, NUM_PARTS:NUM_PARTS + 19], expected)


def test_a_weak_limb_between_two_unowned_parts_is_skipped_and_the_next_one_attaches(cfg):
    strong = named(cfg, [("neck-right_shoulder", 0, 1, 0.9)])
    weak = named(cfg, [("left_shoulder-left_elbow", 2, 3, 0.5),      # starts nobody
                       ("neck-left_shoulder", 0, 2, 0.4)])           # attaches part 2
    people = assemble(strong, np.ones(4), np.zeros((4, 2)), cfg, HEURISTIC, weak)
    assert len(people) == 1 and people[0, [1, 2, 5, 6]].tolist() == [0, 1, 2, -1]


def test_pruning_by_parts_and_by_score_keeps_looking_past_a_pruned_person(cfg):
    # Person 1 (started first): parts 0, 1, both at (0, 0); person 2: parts 2, 3, 4
    # on a vertical line 4 cells long.
    strong = named(cfg, [("neck-right_shoulder", 0, 1, 0.9),
                         ("left_shoulder-left_elbow", 2, 3, 0.5),
                         ("left_elbow-left_wrist", 3, 4, 0.25)])
    xy = np.array([[0.0, 0], [0, 0], [9, 0], [9, 2], [9, 4]])
    scores = np.full(5, 0.5)
    # Person 2: (3 x 0.5 + 0.75) x 0.5 x sqrt(4) = 2.25, exact in binary;
    # person 1: (2 x 0.5 + 0.9) x 0.5 x sqrt(max(0, 1)) = 0.95.
    by_parts = assemble(strong, scores, xy, cfg, DecoderParams(
        min_parts=3, min_mean_score=0.0, min_person_score=0.0, person_score="heuristic"))
    assert by_parts[:, [5, 6, 7, 18]].tolist() == [[2, 3, 4, 2.25]]
    at_score = DecoderParams(min_parts=2, min_mean_score=0.0, min_person_score=2.25,
                             person_score="heuristic")
    assert assemble(strong, scores, xy, cfg, at_score)[:, 18].tolist() == [2.25]   # kept at it
    above = DecoderParams(min_parts=2, min_mean_score=0.0, min_person_score=2.25 + 1e-9,
                          person_score="heuristic")
    assert len(assemble(strong, scores, xy, cfg, above)) == 0


def test_no_people_give_empty_rows_and_empty_features(cfg):
    features = []
    people = assemble(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 2)), cfg, HEURISTIC,
                      features_out=features)
    assert people.shape == (0, 20) and people.dtype == np.float64
    assert len(features) == 1 and features[0].shape == (0, NUM_FEATURES)


def test_a_joined_person_leaves_out_a_limb_that_scores_exactly_0(cfg):
    # The left upper arm's PAF turned across the limb (1, 0) on a vertical limb:
    # every projection is 0, the score exactly 0 (not skipped: the PAF is strong).
    arm = [l for l in cfg.connection_types if l.name == "left_shoulder-left_elbow"][0]
    pafs = one_person_pafs()
    pafs[:, :, arm.paf_dx_idx] = pafs[:, :, arm.paf_dy_idx]
    pafs[:, :, arm.paf_dy_idx] = 0.0
    part_scores = scores(0.3)
    features = []
    people = assemble(limbs(cfg), part_scores, XY, cfg, HEURISTIC, features_out=features,
                      pafs=pafs)
    joined = [0, 1, 2, 4, 5, 6]
    np.testing.assert_allclose(people[0], row(joined, heuristic(joined, part_scores, 4.0)),
                               rtol=1e-6)
    # Four limbs at 1.0: the mean limb score is 1, not 4 / 5 (a 0 counted as a limb).
    assert features[0][0, FEATURE_NAMES.index("mean_limb")] == pytest.approx(1.0)
    assert features[0][0, NUM_PARTS + list(cfg.connection_types).index(arm)] == 0.0


def test_decode_joins_the_fragments_a_second_weak_neck_makes(cfg):
    # One rendered person, plus a weak second neck peak (0.3) 3 cells above the
    # neck: greedy assembly gives the second neck a fragment of 4 parts (it and
    # the head); decode passes the PAFs on, so the fragments are joined into one
    # person of 18 parts that keeps the strong neck.
    person = make_person(30, 15, 50)
    heatmaps, pafs = render_maps(person[None], (70, 60))
    gy, gx = np.mgrid[0:70, 0:60]
    second = 0.3 * np.exp(-((gx - person[P.neck, 0]) ** 2 + (gy - person[P.neck, 1] + 3) ** 2))
    heatmaps[:, :, P.neck] = np.maximum(heatmaps[:, :, P.neck], second)
    coords, joined = decode(heatmaps, pafs, HEURISTIC)
    necks = sorted(coords["neck"], key=lambda p: -p[2])
    assert len(necks) == 2 and necks[1][2] == pytest.approx(0.3, abs=1e-3)
    assert len(joined) == 1 and joined[0, 19] == 18 and joined[0, P.neck] == necks[0][3]
    _, apart = decode(heatmaps, pafs, dataclasses.replace(HEURISTIC, join_fragments=False))
    assert apart[:, 19].tolist() == [15, 4]
    assert sorted(apart[:, P.neck].tolist()) == sorted([necks[0][3], necks[1][3]])
