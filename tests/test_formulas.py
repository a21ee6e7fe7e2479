"""Score formulas pinned by values computed by hand on small cases.

Each expected number below is worked out in the comment next to it, not by
calling the code under test. If a formula is changed on purpose (for example
the best decoder's person score replaced by a learned one), update the test
named after it, with the new hand-computed values.
"""

import numpy as np
import pytest

from estimation.config import BodyPart
from posekit.decode.decoder import DecoderParams, assemble, score_limbs
from estimation.estimators import connections_to_subset
from estimation.merge import merge

NO_PRUNING = DecoderParams(min_parts=1, min_mean_score=0.0, min_person_score=0.0,
                            person_score="heuristic")  # the hand-made formula pinned below


def limb_rows(cfg, table):
    """(K, 4) rows ``limb type, id_a, id_b, score`` from ``{limb name: [(a, b, score)]}``."""
    idx = {l.name: k for k, l in enumerate(cfg.connection_types)}
    return np.array([(idx[name], a, b, s) for name, rows in table.items()
                     for a, b, s in rows], float).reshape(-1, 4)


def right_arm(cfg, first, limb_score):
    """Limbs neck -> right shoulder -> right elbow -> right wrist on ids first..first+3."""
    return limb_rows(cfg, {"neck-right_shoulder": [(first, first + 1, limb_score)],
                           "right_shoulder-right_elbow": [(first + 1, first + 2, limb_score)],
                           "right_elbow-right_wrist": [(first + 2, first + 3, limb_score)]})


# --- best decoder: limb score ---------------------------------------------------------------

def test_best_limb_score_formula_mean_interpolated_projection_plus_length_penalty():
    """Limb (0, 2) -> (6, 2) in a 10-cell-high map, x field 1 on columns x >= 3.

    Samples at x = 2i/3 (i = 0..9): 0, .67, 1.33, 2, 2.67, 3.33, 4, 4.67, 5.33, 6;
    bilinear values 0, 0, 0, 0, 2/3, 1, 1, 1, 1, 1 -> mean 17/30.
    Limit 0.5 * 10 = 5 cells, length 6: penalty 5/6 - 1 = -5/30. Score 12/30 = 0.4.
    Support: 6 samples above 0.02 (not > 7: not strong), 6 above 0.05 (> 5: weak).
    """
    pafs = np.zeros((10, 8, 38), np.float32)
    pafs[:, 3:, 0] = 1.0
    score, strong, weak = score_limbs(pafs, np.array([[0.0, 2.0]]), np.array([[6.0, 2.0]]),
                                      np.zeros(1, int), np.ones(1, int), DecoderParams())
    assert score[0] == pytest.approx(0.4, abs=1e-6)
    assert not strong[0] and weak[0]


def test_best_limb_score_projects_both_field_components_on_the_limb_direction():
    """Limb (1, 1) -> (4, 5): length 5, unit (0.6, 0.8); field (0.5, 0.25) everywhere:
    projection 0.6 * 0.5 + 0.8 * 0.25 = 0.5 on every sample; no penalty (limit 10)."""
    pafs = np.zeros((20, 8, 38), np.float32)
    pafs[:, :, 12], pafs[:, :, 13] = 0.5, 0.25
    score, strong, _ = score_limbs(pafs, np.array([[1.0, 1.0]]), np.array([[4.0, 5.0]]),
                                   np.array([12]), np.array([13]), DecoderParams())
    assert score[0] == pytest.approx(0.5, abs=1e-6) and strong[0]


# --- best decoder: person score (today's formula) -------------------------------------------

def test_best_person_score_formula_today(cfg):
    """Today's person score: (sum of part scores + sum of limb scores) x mean part score
    x sqrt(bounding-box diagonal in cells, at least 1).

    Parts neck, r-shoulder, r-elbow, r-wrist with scores 0.5, 0.5, 1, 1 at
    (0, 0), (7, 8), (3, 16), (1, 24); three limbs of 0.5. Bounding box 7 x 24 cells,
    diagonal 25: (3 + 1.5) x 0.75 x sqrt(25) = 4.5 x 0.75 x 5 = 16.875.
    """
    xy = np.array([[0.0, 0.0], [7.0, 8.0], [3.0, 16.0], [1.0, 24.0]])
    people = assemble(right_arm(cfg, 0, 0.5), np.array([0.5, 0.5, 1.0, 1.0]), xy, cfg,
                      NO_PRUNING)
    assert people.shape == (1, 20)
    assert people[0, :5].tolist() == [-1, 0, 1, 2, 3]
    assert people[0, 18] == pytest.approx(16.875, rel=1e-12) and people[0, 19] == 4
    # All parts on one point: the diagonal factor is sqrt(max(0, 1)) = 1 -> 3.375.
    point = assemble(right_arm(cfg, 0, 0.5), np.array([0.5, 0.5, 1.0, 1.0]),
                     np.zeros((4, 2)), cfg, NO_PRUNING)
    assert point[0, 18] == pytest.approx(3.375, rel=1e-12)


def test_best_person_ranking_needs_the_mean_part_factor(cfg):
    """Two people of the same size (diagonal 9 -> factor 3):

    A: 4 parts of 1.0, 3 limbs of 0.5: (4 + 1.5) x 1.0 x 3 = 16.5.
    B: 7 parts of 0.5 (neck, both arms), 6 limbs of 0.5: (3.5 + 3) x 0.5 x 3 = 9.75.
    Without the mean-part factor B (19.5) would rank above A (16.5).
    """
    limbs_a = right_arm(cfg, 0, 0.5)
    limbs_b = np.concatenate([right_arm(cfg, 4, 0.5), limb_rows(cfg, {
        "neck-left_shoulder": [(4, 8, 0.5)], "left_shoulder-left_elbow": [(8, 9, 0.5)],
        "left_elbow-left_wrist": [(9, 10, 0.5)]})])
    scores = np.array([1.0] * 4 + [0.5] * 7)
    xy = np.zeros((11, 2))
    xy[[3, 7], 1] = 9.0                              # each person 9 cells tall
    people = assemble(np.concatenate([limbs_b, limbs_a]), scores, xy, cfg, NO_PRUNING)
    assert people[:, 18].tolist() == pytest.approx([16.5, 9.75], rel=1e-12)
    assert people[0, BodyPart.neck] == 0 and people[1, BodyPart.neck] == 4


def test_best_person_ranking_needs_the_size_factor(cfg):
    """Same parts and limbs (4 parts of 0.5, 3 limbs of 0.5: (2 + 1.5) x 0.5 = 1.75),
    A 1 cell tall (factor 1), B 16 cells tall (factor 4): B 7.0 ranks above A 1.75."""
    scores = np.full(8, 0.5)
    xy = np.zeros((8, 2))
    xy[3, 1], xy[7, 1] = 1.0, 16.0
    limbs = np.concatenate([right_arm(cfg, 0, 0.5), right_arm(cfg, 4, 0.5)])
    people = assemble(limbs, scores, xy, cfg, NO_PRUNING)
    assert people[:, 18].tolist() == pytest.approx([7.0, 1.75], rel=1e-12)
    assert people[0, BodyPart.neck] == 4


def test_best_person_pruning_by_parts_and_mean_part_score(cfg):
    """min_parts 4 keeps 4 parts, drops 3; min_mean_score is kept when equal (0.75)."""
    xy = np.zeros((4, 2))
    scores = np.array([0.5, 0.5, 1.0, 1.0])                       # mean 0.75
    arm = right_arm(cfg, 0, 0.5)
    assert len(assemble(arm, scores, xy, cfg, DecoderParams(min_parts=4,
                                                            min_mean_score=0.75))) == 1
    assert len(assemble(arm, scores, xy, cfg, DecoderParams(min_parts=5,
                                                            min_mean_score=0.0))) == 0
    nudged = float(np.nextafter(0.75, 1.0))
    assert len(assemble(arm, scores, xy, cfg, DecoderParams(min_parts=4,
                                                            min_mean_score=nudged))) == 0


# --- the lab estimator's row score and merge's score and pruning ---------------------------

def test_lab_row_score_is_both_part_scores_plus_the_limb_score(cfg):
    conns = [np.zeros((0, 5))] * 19
    conns[2] = np.array([[4, 9, 0.5, 0.25, 0.125]])        # r-shoulder 4 - r-elbow 9
    subset = connections_to_subset(cfg, conns)
    assert subset.tolist() == [[-1, -1, 4, 9] + [-1] * 14 + [0.875, 2]]


def row(slots, score):
    r = -np.ones(20)
    for slot, part_id in slots.items():
        r[slot] = part_id
    r[18] = score
    return r


def test_merge_score_is_the_sum_of_member_rows_and_ranks_by_it():
    """A: 4 parts from 3 rows of 1.0 -> 3.0 (mean per part 0.75);
    B: 3 parts from 2 rows of 1.25 -> 2.5 (mean 0.833). The sum ranks A first
    (a mean-per-part score would rank B first). Pruning uses score / parts:
    min_score 0.8 drops A (0.75) and keeps B (0.833)."""
    rows = np.array([row({0: 0, 1: 1}, 1.0), row({1: 1, 2: 2}, 1.0), row({2: 2, 3: 3}, 1.0),
                     row({8: 10, 9: 11}, 1.25), row({9: 11, 10: 12}, 1.25)])
    people = merge(rows, min_num_body_parts=3, min_score=0.0)
    assert people[:, 18:].tolist() == [[3.0, 4], [2.5, 3]]
    assert people[0, :4].tolist() == [0, 1, 2, 3] and people[1, 8:11].tolist() == [10, 11, 12]
    kept = merge(rows, min_num_body_parts=3, min_score=0.8)
    assert kept[:, 18:].tolist() == [[2.5, 3]]
    assert merge(rows, min_num_body_parts=4, min_score=0.0)[:, 18:].tolist() == [[3.0, 4]]
