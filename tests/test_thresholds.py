"""Boundary tests: hand-made maps sitting exactly on every threshold rule of estimation/.

Each rule is tested on both sides of its boundary: the value exactly on it
and the next representable value (or the next whole sample) past it. The
thresholds used are exact in binary (0.25, 0.5, ...) so "exactly on" holds
in float32 and float64 alike.
"""

import numpy as np
import pytest

from estimation.config import BodyPart
from estimation.connections import get_connections
from estimation.coordinates import find_peak_mask, get_coordinates
from posekit.decode.decoder import DecoderParams, find_peaks, kit_connections, score_limbs
from estimation.estimators import estimate
from estimation.merge import merge

# A neck -> right shoulder limb along row y = 4 from x = 0 to x = 9: its 10
# samples fall exactly on the cells x = 0..9 (no rounding, no interpolation).
A_XY, B_XY = (0, 4), (9, 4)


def above(value):
    """The next float32 above ``value``."""
    return float(np.nextafter(np.float32(value), np.float32(2)))


def limb_index(cfg, a, b):
    return next(k for k, l in enumerate(cfg.connection_types)
                if (l.from_body_part, l.to_body_part) == (a, b))


def one_limb(cfg, samples, height=10, width=12):
    """PAFs whose neck->right shoulder x channel holds ``samples`` at x = 0..9, y = 4,
    and the coords of that limb's two ends; returns (pafs, coords, limb index)."""
    k = limb_index(cfg, BodyPart.neck, BodyPart.right_shoulder)
    pafs = np.zeros((height, width, 38), np.float32)
    pafs[4, :10, cfg.connection_types[k].paf_dx_idx] = samples
    coords = {meta.body_part.name: [] for meta in cfg.body_parts.values()}
    coords["neck"] = [(*A_XY, 0.9, 0)]
    coords["right_shoulder"] = [(*B_XY, 0.7, 1)]
    return pafs, coords, k


def supported(n, value=1.0, rest=0.0):
    """10 samples: the first ``n`` at ``value``, the others at ``rest``."""
    return [value] * n + [rest] * (10 - n)


# --- get_coordinates: 4-neighbour peaks, plateaus, the peak threshold ----------------------

@pytest.mark.parametrize("cells, peak", [
    ([(2, 3), (2, 4)], (4, 2)),                  # horizontal plateau -> its right cell
    ([(2, 3), (3, 3)], (3, 3)),                  # vertical plateau -> its lower cell
    ([(1, 1), (1, 2), (2, 1), (2, 2)], (2, 2)),  # 2x2 plateau -> bottom-right cell
    ([(1, 3), (2, 3), (3, 3)], (3, 3)),          # 3-cell vertical plateau
])
def test_lab_plateau_gives_one_peak_at_its_last_cell(cfg, cells, peak):
    hm = np.zeros((6, 7, 19), np.float32)
    for y, x in cells:
        hm[y, x, 0] = 0.5
    assert [p[:2] for p in get_coordinates(cfg, hm)["nose"]] == [peak]


def test_lab_peak_exactly_at_the_threshold_is_not_a_peak(cfg):
    hm = np.zeros((5, 5, 19), np.float32)
    hm[2, 2, 0] = 0.25
    assert get_coordinates(cfg, hm, threshold=0.25)["nose"] == []
    hm[2, 2, 0] = above(0.25)
    assert [p[:2] for p in get_coordinates(cfg, hm, threshold=0.25)["nose"]] == [(2, 2)]
    # The default 0.1 as the maps store it (float32) is not above the default threshold.
    hm[2, 2, 0] = 0.1
    assert get_coordinates(cfg, hm)["nose"] == []


def test_lab_peaks_use_four_neighbours_only():
    # A diagonal neighbour that is higher does not suppress a 4-neighbour maximum.
    hm = np.zeros((4, 4, 1), np.float32)
    hm[1, 1, 0], hm[2, 2, 0] = 0.5, 0.9
    assert np.argwhere(find_peak_mask(hm, 0.1)[..., 0]).tolist() == [[1, 1], [2, 2]]


# --- get_connections: support ratio, PAF threshold, mean > 0, coincident ends --------------

@pytest.mark.parametrize("n, found", [(8, False), (9, True)])
def test_lab_limb_needs_more_than_8_of_10_supporting_samples(cfg, n, found):
    pafs, coords, k = one_limb(cfg, supported(n))
    assert len(get_connections(cfg, coords, pafs)[k]) == int(found)


@pytest.mark.parametrize("n, found", [(7, False), (8, True)])
def test_lab_limb_support_ratio_is_strict_at_other_ratios(cfg, n, found):
    pafs, coords, k = one_limb(cfg, supported(n))
    assert len(get_connections(cfg, coords, pafs, min_support_ratio=0.7)[k]) == int(found)


def test_lab_paf_sample_exactly_at_the_threshold_does_not_support(cfg):
    # 8 strong samples, one exactly at the threshold, one at 0: 8 of 10 -> rejected.
    samples = supported(8)[:8] + [0.25, 0.0]
    pafs, coords, k = one_limb(cfg, samples)
    assert len(get_connections(cfg, coords, pafs, threshold=0.25)[k]) == 0
    samples[8] = above(0.25)                      # now 9 of 10 support
    pafs, coords, k = one_limb(cfg, samples)
    assert len(get_connections(cfg, coords, pafs, threshold=0.25)[k]) == 1


def test_lab_limb_score_of_exactly_zero_is_rejected(cfg):
    # Every sample is above the (negative) threshold; the mean is exactly 0.
    samples = [0.25] * 5 + [-0.25] * 5
    pafs, coords, k = one_limb(cfg, samples)
    assert len(get_connections(cfg, coords, pafs, threshold=-0.5)[k]) == 0
    samples[9] = -0.125                           # mean 0.0125 > 0
    pafs, coords, k = one_limb(cfg, samples)
    rows = get_connections(cfg, coords, pafs, threshold=-0.5)[k]
    np.testing.assert_array_equal(rows, [[0, 1, 0.9, 0.7, 0.0125]])


def test_lab_limb_between_coincident_candidates_is_rejected(cfg):
    pafs, coords, k = one_limb(cfg, supported(10))
    pafs[:, :, cfg.connection_types[k].paf_dx_idx] = 1.0
    coords["right_shoulder"] = [(*A_XY, 0.7, 1)]   # same cell as the neck
    assert len(get_connections(cfg, coords, pafs, threshold=-1.0)[k]) == 0


# --- kit_connections (the handout's rule in numpy): > 8 samples, > threshold, mean > 0 ----

@pytest.mark.parametrize("n, found", [(8, False), (9, True)])
def test_kit_limb_needs_more_than_8_supporting_samples(cfg, n, found):
    pafs, coords, k = one_limb(cfg, supported(n))
    assert len(kit_connections(cfg, coords, pafs)[k]) == int(found)


def test_kit_paf_sample_exactly_at_the_threshold_and_zero_mean(cfg):
    samples = supported(8)[:8] + [0.25, 0.0]
    pafs, coords, k = one_limb(cfg, samples)
    assert len(kit_connections(cfg, coords, pafs, threshold=0.25)[k]) == 0
    samples[8] = above(0.25)
    pafs, coords, k = one_limb(cfg, samples)
    assert len(kit_connections(cfg, coords, pafs, threshold=0.25)[k]) == 1
    pafs, coords, k = one_limb(cfg, [0.25] * 5 + [-0.25] * 5)
    assert len(kit_connections(cfg, coords, pafs, threshold=-0.5)[k]) == 0


# --- best decoder: 8-neighbour peaks with raster-order ties, peak threshold ----------------

@pytest.mark.parametrize("cells, peak", [
    ([(2, 3), (2, 4)], (4, 2)),                  # horizontal plateau -> right cell
    ([(2, 3), (3, 3)], (3, 3)),                  # vertical plateau -> lower cell
    ([(2, 2), (3, 3)], (3, 3)),                  # diagonal "\" -> lower-right cell
    ([(2, 3), (3, 2)], (2, 3)),                  # diagonal "/" -> lower-left cell
    ([(1, 1), (1, 2), (2, 1), (2, 2)], (2, 2)),  # 2x2 plateau -> bottom-right cell
])
def test_best_plateau_gives_one_peak_at_its_last_cell_in_raster_order(cfg, cells, peak):
    hm = np.zeros((6, 7, 19), np.float32)
    for y, x in cells:
        hm[y, x, 0] = 0.5
    peaks = find_peaks(hm, DecoderParams(refine_peaks=False), cfg)
    assert peaks.xy.tolist() == [list(map(float, peak))]


def test_best_peaks_use_all_eight_neighbours(cfg):
    hm = np.zeros((5, 5, 19), np.float32)
    hm[1, 1, 0], hm[2, 2, 0] = 0.5, 0.9          # the weaker one is a diagonal neighbour
    peaks = find_peaks(hm, DecoderParams(refine_peaks=False), cfg)
    assert peaks.xy.tolist() == [[2.0, 2.0]]


def test_best_peak_exactly_at_the_threshold_is_not_a_peak(cfg):
    hm = np.zeros((5, 5, 19), np.float32)
    hm[2, 2, 0] = 0.25
    params = DecoderParams(peak_threshold=0.25)
    assert len(find_peaks(hm, params, cfg).xy) == 0
    hm[2, 2, 0] = above(0.25)
    assert find_peaks(hm, params, cfg).xy.tolist() == [[2.0, 2.0]]


# --- best decoder: strong and weak support, PAF threshold, score exactly 0 ---------------

def best_limb(samples, params=None, height=20):
    """score, strong, weak of the one limb (0, 4) -> (9, 4) over ``samples`` (no penalty)."""
    pafs = np.zeros((height, 12, 38), np.float32)
    pafs[4, :10, 0] = samples
    score, strong, weak = score_limbs(pafs, np.array([A_XY], float), np.array([B_XY], float),
                                      np.zeros(1, int), np.ones(1, int),
                                      params or DecoderParams())
    return float(score[0]), bool(strong[0]), bool(weak[0])


@pytest.mark.parametrize("n, strong", [(7, False), (8, True)])
def test_best_strong_limb_needs_more_than_7_of_10_samples(n, strong):
    score, is_strong, weak = best_limb(supported(n))
    assert score == pytest.approx(n / 10, rel=1e-6)
    assert is_strong == strong and weak                # 7 of 10 passes the relaxed 5 of 10


@pytest.mark.parametrize("n, weak", [(5, False), (6, True)])
def test_best_weak_limb_needs_more_than_5_of_10_samples(n, weak):
    assert best_limb(supported(n))[1:] == (False, weak)


def test_best_paf_sample_exactly_at_min_paf_score_does_not_support():
    params = DecoderParams(min_paf_score=0.25)
    samples = supported(7)[:7] + [0.25, 0.0, 0.0]     # 7 of 10 above 0.25
    assert best_limb(samples, params)[1] is False
    samples[7] = above(0.25)                           # 8 of 10
    assert best_limb(samples, params)[1] is True


def test_best_attach_sample_exactly_at_attach_min_paf_score_does_not_support():
    params = DecoderParams(attach_min_paf_score=0.25)
    samples = supported(5)[:5] + [0.25, 0, 0, 0, 0]   # 5 of 10 above 0.25
    assert best_limb(samples, params)[1:] == (False, False)
    samples[5] = above(0.25)                           # 6 of 10
    assert best_limb(samples, params)[1:] == (False, True)


def test_best_limb_score_of_exactly_zero_is_neither_strong_nor_weak():
    # A 16-cell limb in a 16-cell-high map: limit 8 cells, penalty 8 / 16 - 1 = -0.5;
    # the field is 0.5 on every sample, so the score is exactly 0.5 - 0.5 = 0.
    params = DecoderParams(limb_samples=9)             # samples at x = 0, 2, ..., 16
    pafs = np.zeros((16, 20, 38), np.float32)
    args = (np.array([[0.0, 5.0]]), np.array([[16.0, 5.0]]), np.zeros(1, int),
            np.ones(1, int), params)
    pafs[:, :, 0] = 0.5
    score, strong, weak = score_limbs(pafs, *args)
    assert score.tolist() == [0.0] and not strong[0] and not weak[0]
    pafs[:, :, 0] = above(0.5)
    score, strong, weak = score_limbs(pafs, *args)
    assert 0 < score[0] < 1e-6 and strong[0] and weak[0]


def test_best_limb_exactly_at_the_length_limit_is_not_penalised():
    # limit = 0.5 * 18 = 9 cells, the limb is 9 cells long: penalty min(9/9 - 1, 0) = 0.
    assert best_limb([0.75] * 10, height=18)[0] == 0.75
    # One cell shorter map: limit 8.5, penalty 8.5 / 9 - 1.
    assert best_limb([0.75] * 10, height=17)[0] == pytest.approx(0.75 + 8.5 / 9 - 1, rel=1e-6)


# --- pruning thresholds of merge, estimate and the best decoder ----------------------------

def chain(first_id, scores):
    """Rows of a chain of ``len(scores) + 1`` parts (slots 0, 1, ...) with these scores."""
    rows = []
    for k, s in enumerate(scores):
        r = -np.ones(20)
        r[k], r[k + 1], r[18] = first_id + k, first_id + k + 1, s
        rows.append(r)
    return rows


def test_merge_keeps_a_person_with_exactly_min_num_body_parts():
    rows = np.array(chain(0, [1.0, 1.0, 1.0]))         # 4 parts
    assert merge(rows, min_num_body_parts=4).shape == (1, 20)
    assert merge(rows, min_num_body_parts=5).shape == (0, 20)


def test_merge_keeps_a_person_whose_mean_is_exactly_min_score():
    rows = np.array(chain(0, [0.5, 0.5, 0.5]))         # 1.5 / 4 parts = 0.375
    assert merge(rows, min_score=0.375).shape == (1, 20)
    assert merge(rows, min_score=above(0.375)).shape == (0, 20)
    # The default 0.4: 1.6 / 4 is exactly 0.4 in float64.
    assert merge(np.array(chain(0, [0.5, 0.5, 0.6])), min_score=0.4).shape == (1, 20)


def test_merge_with_no_minimum_keeps_zero_and_negative_scores_but_not_empty_rows():
    rows = np.array(chain(0, [0.0, 0.0]) + chain(10, [-1.0]))
    kept = merge(rows, min_num_body_parts=0, min_score=-1.0)
    assert kept[:, 18].tolist() == [0.0, -1.0] and kept[:, 19].tolist() == [3, 2]
    assert merge(-np.ones((1, 20)), min_num_body_parts=0, min_score=-1.0).shape == (0, 20)


def test_estimate_passes_its_thresholds_to_merge(cfg):
    # neck-right_shoulder, right_shoulder-right_elbow, right_elbow-right_wrist:
    # 4 parts, row scores 0.25 + 0.25 + limb each.
    conns = [np.zeros((0, 5))] * 19
    conns[0] = np.array([[0, 1, 0.25, 0.25, 0.0]])
    conns[2] = np.array([[1, 2, 0.25, 0.25, 0.0]])
    conns[3] = np.array([[2, 3, 0.25, 0.25, 0.0]])
    people = estimate(cfg, conns, min_num_body_parts=4, min_score=0.375)  # 1.5 / 4
    assert people.shape == (1, 20) and people[0, 18] == 1.5 and people[0, 19] == 4
    assert estimate(cfg, conns, min_num_body_parts=5, min_score=0.0).shape == (0, 20)
    assert estimate(cfg, conns, min_num_body_parts=4,
                    min_score=above(0.375)).shape == (0, 20)


# --- channel counts exactly one short: a ValueError naming the argument -------------------

def test_one_channel_short_is_refused_naming_the_argument(cfg):
    coords = {meta.body_part.name: [] for meta in cfg.body_parts.values()}
    get_coordinates(cfg, np.zeros((4, 4, 18), np.float32))              # 18 is enough
    with pytest.raises(ValueError, match="heatmaps.*channels|channels.*heatmaps"):
        get_coordinates(cfg, np.zeros((4, 4, 17), np.float32))
    get_connections(cfg, coords, np.zeros((4, 4, 38), np.float32))     # 38 is enough
    with pytest.raises(ValueError, match="pafs.*channels|channels.*pafs"):
        get_connections(cfg, coords, np.zeros((4, 4, 37), np.float32))
