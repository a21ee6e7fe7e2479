"""The best decoder's stages one at a time (posekit.decode.decoder), values pinned by hand.

Smoothing, the 8-neighbour peak rule and its sub-cell refinement at map edges,
bilinear sampling at map edges and on maps one cell wide or high, the exact
pre-filter of large pair blocks, and
assembly (merging partial people, weak limbs, loops, pruning). Written against
mutation-testing survivors (docs/records/mutation.md): each test pins a value a plausible
one-token bug changes.
"""

import math

import numpy as np
import pytest

from posekit.decode import decoder

from posekit.decode import limbs
from posekit.decode.decoder import (DecoderParams, assemble, decode, find_limbs, find_peaks,
                                score_limbs, smooth)

# Unnormalised Gaussian taps exp(-k^2 / 2) for k = 0..3 (sigma = 1, radius ceil(2.5) = 3).
G1 = [1.0, 0.6065306597126334, 0.1353352832366127, 0.011108996538242306]
G1_SUM = G1[0] + 2 * sum(G1[1:])                       # 2.5059...


def test_smooth_spreads_an_impulse_over_radius_ceil_2_5_sigma():
    maps = np.zeros((11, 11, 2), np.float32)
    maps[5, 5, 0] = 1.0
    maps[:, :, 1] = 0.3                                 # a constant channel stays constant
    out = smooth(maps, 1.0)
    assert out.shape == maps.shape and out.dtype == np.float32
    taps = np.array(G1[:0:-1] + G1) / G1_SUM            # k = -3..3
    expected = np.zeros((11, 11))
    expected[2:9, 2:9] = np.outer(taps, taps)
    np.testing.assert_allclose(out[:, :, 0], expected, atol=1e-7)
    assert out[5, 1, 0] == 0 and out[1, 5, 0] == 0     # radius 3: nothing 4 cells away
    assert out[5, 2, 0] > 0 and out[2, 5, 0] > 0
    np.testing.assert_allclose(out[:, :, 1], 0.3, rtol=1e-6)   # edges replicated, not zero
    assert smooth(maps, 0.0) is maps


def test_smooth_radius_and_width_follow_sigma():
    maps = np.zeros((15, 15, 1), np.float32)
    maps[7, 7, 0] = 1.0
    out = smooth(maps, 2.0)[:, :, 0]                    # radius ceil(5) = 5
    taps = np.exp(-0.5 * (np.arange(-5, 6) / 2.0) ** 2)
    taps /= taps.sum()
    np.testing.assert_allclose(out[7, 2:13], taps * taps[5], rtol=1e-5)
    assert out[7, 1] == 0 and out[1, 7] == 0
    tiny = smooth(maps, 0.2)[:, :, 0]                   # radius max(1, ceil(0.5)) = 1
    side = math.exp(-12.5) / (1 + 2 * math.exp(-12.5))
    assert tiny[7, 8] == pytest.approx(side * (1 - 2 * side), rel=1e-4)
    assert tiny[7, 9] == 0 and tiny[9, 7] == 0          # nothing two cells away


def test_smooth_replicates_the_edge_at_a_corner():
    maps = np.zeros((9, 9, 1), np.float32)
    maps[0, 0, 0] = 1.0
    out = smooth(maps, 1.0)[:, :, 0]
    # Rows and columns -3..-1 repeat the corner: its weight is taps k = -3..0.
    np.testing.assert_allclose(out[0, 0], (sum(G1) / G1_SUM) ** 2, rtol=1e-6)
    np.testing.assert_allclose(out[0, 3], sum(G1) / G1_SUM * G1[3] / G1_SUM, rtol=1e-5)


def one_part_heatmaps(rows):
    """(H, W, 19) heatmaps whose nose channel is ``rows``."""
    nose = np.asarray(rows, np.float32)
    heatmaps = np.zeros(nose.shape + (19,), np.float32)
    heatmaps[:, :, 0] = nose
    return heatmaps


def test_find_peaks_finds_on_the_smoothed_map_and_reports_the_raw_score(cfg):
    maps = np.zeros((11, 11), np.float32)
    maps[5, 5] = 0.5
    peaks = find_peaks(one_part_heatmaps(maps), DecoderParams(smooth_sigma=1.0), cfg)
    assert peaks.xy.tolist() == [[5.0, 5.0]] and peaks.score.tolist() == [0.5]
    # The smoothed peak is 0.5 * (1 / 2.506)^2 = 0.080: below a threshold of 0.1.
    assert len(find_peaks(one_part_heatmaps(maps),
                          DecoderParams(smooth_sigma=1.0, peak_threshold=0.1), cfg).xy) == 0


NEIGHBOURS = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]


@pytest.mark.parametrize("dy,dx", NEIGHBOURS)
def test_a_higher_neighbour_in_any_of_8_directions_takes_the_peak(cfg, dy, dx):
    maps = np.zeros((5, 5), np.float32)
    maps[2, 2] = 0.5
    maps[2 + dy, 2 + dx] = 0.6
    peaks = find_peaks(one_part_heatmaps(maps), DecoderParams(refine_peaks=False), cfg)
    assert peaks.xy.tolist() == [[2.0 + dx, 2.0 + dy]]


@pytest.mark.parametrize("dy,dx", NEIGHBOURS)
def test_an_equal_neighbour_gives_the_peak_to_the_later_cell_in_raster_order(cfg, dy, dx):
    maps = np.zeros((5, 5), np.float32)
    maps[2, 2] = maps[2 + dy, 2 + dx] = 0.5
    peaks = find_peaks(one_part_heatmaps(maps), DecoderParams(refine_peaks=False), cfg)
    later = (dy, dx) > (0, 0)
    assert peaks.xy.tolist() == [[2.0 + dx, 2.0 + dy] if later else [2.0, 2.0]]


def test_refinement_at_the_map_edge_replicates_the_border(cfg):
    # Peak at x = 0 with 0.25 to its right: with the edge replicated the parabola
    # through (0.5, 0.5, 0.25) has its vertex at -0.5 (a zero border would give +0.17).
    maps = np.zeros((3, 4), np.float32)
    maps[1, :2] = 0.5, 0.25
    peaks = find_peaks(one_part_heatmaps(maps), DecoderParams(), cfg)
    np.testing.assert_allclose(peaks.xy, [[-0.5, 1.0]])


def test_a_flat_top_at_the_map_edge_is_not_shifted_and_warns_nothing(cfg):
    # A plateau reaching the right edge: the parabola is flat (curvature 0), no shift.
    maps = np.zeros((3, 4), np.float32)
    maps[1] = 0.0, 0.2, 0.5, 0.5
    with np.errstate(all="raise"):
        peaks = find_peaks(one_part_heatmaps(maps), DecoderParams(), cfg)
    assert peaks.xy.tolist() == [[3.0, 1.0]]


# --- limb scoring -------------------------------------------------------------------------

def test_bilinear_samples_at_the_map_edges():
    """Refined peaks may sit half a cell outside the grid: samples are clamped to it."""
    h, w = 20, 8
    pafs = np.zeros((h, w, 38), np.float32)
    pafs[[0, h - 1], :, 1] = 1.0                        # y-channel 1: top and bottom rows
    pafs[:, [0, w - 1], 2] = 1.0                        # x-channel 2: left and right columns
    pafs[:, :, 4] = 1.0                                 # x-channel 4: a perfect field
    pafs[:, :, 6] = 0.01                                # x-channel 6: positive, below 0.02
    a = np.array([[2, -0.5], [2, h - 3], [-0.5, 5], [w - 3, 5], [1, 10], [1, 12], [3, 3]])
    b = np.array([[2, 2.0], [2, h - 0.5], [2, 5], [w - 0.5, 5], [6, 10], [6, 12], [3, 3]])
    dx, dy = np.array([0, 0, 2, 2, 4, 6, 4]), np.array([1, 1, 3, 3, 5, 7, 5])
    params = DecoderParams(limb_samples=6)
    score, strong, weak = score_limbs(pafs, a.astype(float), b.astype(float), dx, dy, params)
    # Six samples from the edge inwards read 1, 1, 0.5, 0, 0, 0 (the outer one clamped).
    edge = 2.5 / 6
    np.testing.assert_allclose(score[:6], [edge, edge, edge, edge, 1.0, 0.01], rtol=1e-6)
    assert score[6] == -np.inf                          # coincident ends: skipped
    assert strong.dtype == bool and weak.dtype == bool
    # Edge limbs: 3 of 6 supporting samples (> 0.05) is not more than 0.5 x 6.
    assert strong.tolist() == [False] * 4 + [True, False, False]
    assert weak.tolist() == [False] * 4 + [True, False, False]


@pytest.mark.parametrize("shape", [(1, 4), (4, 1), (1, 1), (2, 2)])
def test_bilinear_samples_on_maps_one_cell_wide_or_high(shape):
    """A map one cell high (or wide) has no lower (or right) neighbour: every corner of a
    sample reads the cells that exist. The x channel holds 10 * column + row, the y channel
    0.5; a segment from (0, 0) to (3, 0) along x samples x = 0, 1, 2, 3 clamped to the map."""
    from posekit.decode.limbs import project_samples

    h, w = shape
    pafs = np.zeros((h, w, 4), np.float32)
    rows, cols = np.mgrid[:h, :w]
    pafs[:, :, 2] = 10 * cols + rows
    pafs[:, :, 3] = 0.5
    a, b = np.array([[0.0, 0.0], [0.0, 0.0]]), np.array([[3.0, 0.0], [0.0, 3.0]])
    proj, length = project_samples(pafs, a, b, np.array([2, 2]), np.array([3, 3]), 4)
    xs = np.minimum(np.arange(4), w - 1)                # the sample columns, clamped
    np.testing.assert_allclose(proj[0], 10 * xs, atol=1e-6)     # along x: the x channel
    np.testing.assert_allclose(proj[1], 0.5, atol=1e-6)         # along y: the y channel
    assert length.tolist() == [3.0, 3.0]


def random_block(rng, n_pairs, h=24, w=24):
    """PAFs with a horizontal band (limb 0) and a vertical band (limb 1), and pairs on,
    across and off the bands, so support counts spread over every value."""
    pafs = rng.uniform(-0.009, 0.009, (h, w, 38)).astype(np.float32)
    pafs[8:12, 2:21, 12] = 1.0                          # limb 0: x channel 12
    pafs[h - 1, 2:21, 12] = 1.0                         # ... and along the bottom row
    pafs[3:20, 10:13, 15] = 1.0                         # limb 1: y channel 15
    k = rng.integers(0, 2, n_pairs)
    a = rng.uniform(-0.5, w - 0.5, (n_pairs, 2))
    b = rng.uniform(-0.5, w - 0.5, (n_pairs, 2))
    near = rng.random(n_pairs) < 0.6                    # most pairs along a band's edge
    horiz = near & (k == 0)
    a[horiz, 1] = np.where(rng.random(horiz.sum()) < 0.7, rng.uniform(6.5, 13.0, horiz.sum()),
                           rng.uniform(h - 2.5, h - 0.5, horiz.sum()))
    b[horiz, 1] = np.minimum(a[horiz, 1] + rng.uniform(-1, 1, horiz.sum()), h - 0.5)
    b[horiz, 0] = a[horiz, 0] + rng.uniform(2, 12, horiz.sum())
    vert = near & (k == 1)
    a[vert, 0] = rng.uniform(8.5, 14.0, vert.sum())
    b[vert, 0] = a[vert, 0] + rng.uniform(-1, 1, vert.sum())
    b[vert, 1] = a[vert, 1] + rng.uniform(2, 12, vert.sum())
    b[:20] = a[:20] = [[11.0, 10.0]] * 20               # coincident ends inside the band
    return pafs, a, b, np.array([12, 14])[k], np.array([13, 15])[k]


@pytest.mark.parametrize("params", [DecoderParams(), DecoderParams(min_paf_score=-0.5),
                                    DecoderParams(attach_min_support_ratio=0.8,
                                                  min_support_ratio=0.3)])
def test_the_pre_filter_of_large_blocks_changes_no_decision(params):
    """Above 20,000 samples pairs that cannot pass are skipped before sampling: the
    strong / weak decisions (and the scores of pairs that pass) equal those of
    small blocks, which are sampled in full."""
    pafs, a, b, dx, dy = random_block(np.random.default_rng(5), 2100)
    score, strong, weak = limbs._score_block(pafs, a, b, dx, dy, params)
    parts = [limbs._score_block(pafs, a[s], b[s], dx[s], dy[s], params)
             for s in (slice(0, 700), slice(700, 1400), slice(1400, 2100))]
    full_score, full_strong, full_weak = (np.concatenate(x) for x in zip(*parts))
    np.testing.assert_array_equal(strong, full_strong)
    np.testing.assert_array_equal(weak, full_weak)
    passed = strong | weak
    np.testing.assert_array_equal(score[passed], full_score[passed])
    assert strong.sum() > 100 and weak.sum() > 100 and (weak != strong).sum() > 10
    assert (score[:20] == -np.inf).all() and not passed[:20].any()
    if min(params.min_paf_score, params.attach_min_paf_score) >= 0:
        skipped = np.isinf(score[20:]) & np.isfinite(full_score[20:])
        assert skipped.sum() > 500                      # the filter did skip work


def test_more_pairs_than_one_block_are_all_scored():
    pafs = np.zeros((20, 20, 38), np.float32)
    pafs[:, :, 0] = 1.0
    n = limbs.PAIR_BLOCK + 100
    a, b = np.tile([[2.0, 5.0]], (n, 1)), np.tile([[9.0, 5.0]], (n, 1))
    score, strong, weak = score_limbs(pafs, a, b, np.zeros(n, int), np.ones(n, int),
                                      DecoderParams(limb_samples=2))
    assert strong.all() and weak.all() and (score == 1.0).all()


def test_find_limbs_with_one_candidate_pair_and_with_none(cfg):
    heatmaps = np.zeros((12, 12, 19), np.float32)
    heatmaps[5, 2, 1] = heatmaps[5, 8, 2] = 0.9         # one neck, one right shoulder
    pafs = np.zeros((12, 12, 38), np.float32)
    pafs[:, :, 12] = 1.0                                # neck -> right shoulder points right
    peaks = find_peaks(heatmaps, DecoderParams(), cfg)
    strong, weak = find_limbs(pafs, peaks, DecoderParams(), cfg)
    np.testing.assert_allclose(strong, [[0, 0, 1, 1.0]])
    np.testing.assert_allclose(weak, [[0, 0, 1, 1.0]])
    pafs[:, :, 12] = 0.3
    pafs[5, 3:8, 12] = 0.03         # 6 of 10 samples read 0.03: > 0.02 (strong), < 0.05 (weak)
    strong, weak = find_limbs(pafs, peaks, DecoderParams(), cfg)
    assert strong.shape == (1, 4) and weak.shape == (0, 4)
    none = find_peaks(np.zeros((12, 12, 19), np.float32), DecoderParams(), cfg)
    strong, weak = find_limbs(pafs, none, DecoderParams(), cfg)
    assert strong.shape == (0, 4) and weak.shape == (0, 4)


# --- assembly -----------------------------------------------------------------------------

def limb(cfg, name, a, b, score):
    k = [l.name for l in cfg.connection_types].index(name)
    return [k, a, b, score]


LOOSE = DecoderParams(min_parts=2, min_mean_score=0.0, min_person_score=0.0,
                      person_score="heuristic")  # the hand-made formula, no pruning by score


def test_a_strong_limb_merges_two_partial_people_and_adds_its_score(cfg):
    strong = np.array([limb(cfg, "neck-right_shoulder", 0, 1, 0.9),
                       limb(cfg, "right_elbow-right_wrist", 2, 3, 0.8),
                       limb(cfg, "right_shoulder-right_elbow", 1, 2, 0.3)])
    xy = np.array([[1.0, 1], [1, 2], [1, 3], [1, 5]])   # bounding box 0 x 4: diagonal 4
    people = assemble(strong, np.full(4, 0.5), xy, cfg, LOOSE)
    assert len(people) == 1 and people[0, [1, 2, 3, 4]].tolist() == [0, 1, 2, 3]
    # (parts 4 x 0.5 + limbs 0.9 + 0.8 + 0.3) x mean part 0.5 x sqrt(4)
    assert people[0, 18:].tolist() == [pytest.approx(4.0), 4]
    # The same joining limb only passing the relaxed thresholds merges nothing.
    people = assemble(strong[:2], np.full(4, 0.5), xy, cfg, LOOSE, weak_limbs=strong[2:])
    assert sorted(people[:, 19].tolist()) == [2, 2]


def test_a_limb_closing_a_loop_adds_its_score(cfg):
    strong = np.array([limb(cfg, "neck-right_shoulder", 0, 1, 0.9),
                       limb(cfg, "neck-nose", 0, 2, 0.8),
                       limb(cfg, "nose-right_eye", 2, 3, 0.7),
                       limb(cfg, "right_eye-right_ear", 3, 4, 0.6),
                       limb(cfg, "right_shoulder-right_ear", 1, 4, 0.5)])   # redundant
    xy = np.array([[2.0, 5], [1, 6], [2, 3], [3, 2], [4, 3]])   # box 3 x 4 at (1, 2)
    people = assemble(strong, np.full(5, 0.5), xy, cfg, LOOSE)
    # (5 x 0.5 + 3.5) x 0.5 x sqrt(5): the diagonal of a 3 x 4 box, wherever it sits.
    assert people[0, 18] == pytest.approx(3 * math.sqrt(5))


def test_weak_limbs_come_after_all_strong_ones_strongest_first(cfg):
    strong = np.array([limb(cfg, "neck-right_shoulder", 0, 1, 0.5),
                       limb(cfg, "right_shoulder-right_elbow", 1, 3, 0.3)])
    weak = np.array([limb(cfg, "right_shoulder-right_elbow", 1, 2, 0.4)])
    people = assemble(strong, np.ones(6), np.zeros((6, 2)), cfg, LOOSE, weak)
    assert people[0, 3] == 3                            # the strong elbow, not the weak one
    weak = np.array([limb(cfg, "right_shoulder-right_elbow", 1, 5, 0.2),
                     limb(cfg, "right_shoulder-right_elbow", 1, 2, 0.4)])
    people = assemble(strong[:1], np.ones(6), np.zeros((6, 2)), cfg, LOOSE, weak)
    assert people[0, 3] == 2                            # the stronger weak limb first


def test_pruning_a_weak_person_keeps_looking_at_the_others(cfg):
    strong = np.array([limb(cfg, "neck-right_shoulder", 0, 1, 0.9),      # started first
                       limb(cfg, "right_elbow-right_wrist", 2, 3, 0.8)])
    scores = np.array([0.05, 0.05, 0.5, 0.5])           # the first person's mean is 0.05
    people = assemble(strong, scores, np.zeros((4, 2)), cfg,
                      DecoderParams(min_parts=2, min_mean_score=0.1, min_person_score=0.0,
                                    person_score="heuristic"))
    assert len(people) == 1 and people[0, [3, 4]].tolist() == [2, 3]


# --- messages and records -----------------------------------------------------------------

def test_decode_messages_name_the_bad_argument():
    good_h, good_p = np.zeros((8, 8, 19), np.float32), np.zeros((8, 8, 38), np.float32)
    with pytest.raises(ValueError, match=r"^heatmaps must have at least 18 channels"):
        decode(good_h[:, :, :17], good_p)
    with pytest.raises(ValueError, match=r"^pafs must have at least 38 channels"):
        decode(good_h, good_p[:, :, :37])


def test_decode_records_the_seconds_of_each_stage():
    timings = {}
    decode(np.zeros((8, 8, 19), np.float32), np.zeros((8, 8, 38), np.float32),
           timings=timings)
    assert sorted(timings) == ["connections", "grouping", "peaks"]
    assert all(isinstance(t, float) and 0 <= t < 10 for t in timings.values())


@pytest.mark.parametrize("field,ok,bad", [
    ("min_paf_score", (-1.0, 1.0), (-1.01, 1.01)),
    ("attach_min_paf_score", (-1.0, 1.0), (-1.01, 1.01)),
    ("attach_min_support_ratio", (0.0, 1.0), (-0.01, 1.01)),
    ("max_limb_fraction", (1e-3, 1e3), (9e-4, 1000.5)),
    ("min_mean_score", (0.0, 1e3), (-0.01, 1000.5)),
])
def test_decoder_params_ranges_end_exactly_where_stated(field, ok, bad):
    for value in ok:
        DecoderParams(**{field: value})
    for value in bad:
        with pytest.raises(ValueError, match=rf"^DecoderParams\.{field} must be a number"):
            DecoderParams(**{field: value})


def test_people_of_equal_score_keep_the_order_they_were_started_in(cfg):
    # 45 two-part people started in id order; 25 score 2.5, 20 score 0.75
    # (ties that numpy's default, unstable sort reorders).
    group = np.r_[np.zeros(20), np.ones(20), np.zeros(5)].astype(bool)
    strong = np.array([limb(cfg, "neck-right_shoulder", 2 * i, 2 * i + 1, 0.5)
                       for i in range(45)])
    scores = np.repeat(np.where(group, 0.5, 1.0), 2)
    people = assemble(strong, scores, np.zeros((90, 2)), cfg, LOOSE)
    first = np.r_[np.arange(20), np.arange(40, 45), np.arange(20, 40)]
    assert people[:, 1].tolist() == (2 * first).tolist()
    assert people[:, 18].tolist() == [2.5] * 25 + [0.75] * 20


def test_decode_attaches_parts_through_limbs_that_pass_only_relaxed_thresholds(cfg):
    from tools.synthetic import make_person, render_maps
    person = make_person(30, 12, 60, missing=(4,))     # no right wrist: the elbow hangs
    heatmaps, pafs = render_maps(person[None], (70, 60))
    shoulder, elbow = person[2], person[3]              # right shoulder -> right elbow
    yy, xx = np.mgrid[:70, :60]
    near_elbow = np.hypot(xx - elbow[0], yy - elbow[1]) < 0.4 * np.hypot(*(elbow - shoulder))
    pafs[near_elbow, 14:16] = 0                         # 4 of 10 samples lose their support
    _, skeletons = decode(heatmaps, pafs, params=DecoderParams(complete_people=False))
    strong, weak = find_limbs(pafs, find_peaks(heatmaps, DecoderParams(), cfg),
                              DecoderParams(), cfg)
    assert 2 not in strong[:, 0] and 2 in weak[:, 0]    # the upper arm is weak only
    assert len(skeletons) == 1 and (skeletons[0, :18] >= 0).sum() == 17
    assert skeletons[0, 3] >= 0                         # the elbow, through the weak limb


def test_kit_connections_scores_pairs_beyond_the_first_block(cfg):
    # 128 necks and 128 of each of three partners: 3 x 16,384 pairs, more than one block.
    coords = {meta.body_part.name: [] for meta in cfg.body_parts.values()}
    ids = iter(range(10_000))
    for name, x in (("neck", 2), ("right_shoulder", 20), ("left_shoulder", 20),
                    ("right_hip", 20)):
        coords[name] = [(x, y, 0.5, next(ids)) for y in range(128)]
    pafs = np.zeros((128, 24, 38), np.float32)
    pafs[:, :, [12, 20, 0]] = 1.0       # x channels of neck-shoulder (both) and neck-right hip
    out = decoder.kit_connections(cfg, coords, pafs)
    assert [len(out[k]) for k in (0, 1, 6)] == [128, 128, 128]
    assert (out[6][:, 4] == 1.0).sum() == 128           # the 128 horizontal pairs come first


def test_decode_handout_messages_and_defaults():
    h, p = np.zeros((8, 8, 19), np.float32), np.zeros((8, 8, 38), np.float32)
    with pytest.raises(ValueError, match=r"^heatmaps must have at least 18 channels"):
        decoder.decode_handout(h[:, :, :17], p)
    with pytest.raises(ValueError, match=r"^pafs must have at least 38 channels"):
        decoder.decode_handout(h, p[:, :, :37])
    with pytest.raises(ValueError, match=r"^row_score must be one of printed, cmu, got 'x'"):
        decoder.decode_handout(h, p, row_score="x")


@pytest.mark.parametrize("decode_fn", [decoder.decode_lab, decoder.decode_handout])
def test_lab_and_kit_decoders_default_to_the_lab_thresholds(decode_fn):
    """A 4-part person at 0.3 confidence: peaks > 0.1, PAF samples > 0.05, and about
    0.6 per part (3 rows of about 0.9 over 4 parts) >= 0.4, with 4 parts >= 4."""
    from tools.synthetic import make_person, render_maps
    person = make_person(20, 10, 30, missing=tuple(s for s in range(18) if s > 4 or s == 0))
    heatmaps, pafs = render_maps(person[None], (40, 40))
    _, skeletons = decode_fn(heatmaps * np.float32(0.3), pafs * np.float32(0.3))
    assert skeletons.shape == (1, 20) and skeletons[0, 19] == 4
    assert 0.5 < skeletons[0, 18] / 4 < 0.7


def parabola_x(taps, row=(0.1, 0.5, 0.3)):
    """x of the parabola's top through a row smoothed by unnormalised taps t0, t1, t2
    (the normalisation and the y pass scale all three values alike)."""
    t0, t1, t2 = taps
    lo = row[0] * t0 + row[1] * t1 + row[2] * t2
    c = row[0] * t1 + row[1] * t0 + row[2] * t1
    hi = row[0] * t2 + row[1] * t1 + row[2] * t0
    return 5 + 0.5 * (lo - hi) / (lo - 2 * c + hi)


@pytest.mark.parametrize("smooth_sigma, refine_sigma, taps", [
    (0.0, 0.0, (1, 0, 0)),                                         # the raw map: 5 + 1/6
    (0.0, 0.5, (1, math.exp(-2), math.exp(-8))),                   # its own smoothing
    (1.0, 0.0, (1, math.exp(-0.5), math.exp(-2))),                 # the detection map's
    (1.0, 1.0, (1, math.exp(-0.5), math.exp(-2)))])
def test_refinement_fits_on_the_map_smoothed_by_refine_sigma(cfg, smooth_sigma, refine_sigma,
                                                               taps):
    maps = np.zeros((11, 11), np.float32)
    maps[5, 4:7] = 0.1, 0.5, 0.3
    peaks = find_peaks(one_part_heatmaps(maps),
                       DecoderParams(smooth_sigma=smooth_sigma, refine_sigma=refine_sigma,
                                     peak_threshold=0.01, refinement="parabola"), cfg)
    assert peaks.xy.tolist() == [[pytest.approx(parabola_x(taps), abs=1e-6), 5.0]]
    assert parabola_x((1, 0, 0)) == pytest.approx(5 + 1 / 6)
