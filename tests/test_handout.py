"""Tests of estimation.handout (the kit's stages as printed) and the ``handout`` decoder."""

import numpy as np
import pytest

from posekit.decode.decoder import decode_handout
from posekit.lab.lab_decoders import HandoutParams, handout_registered
from posekit.decode.registry import DECODERS
from estimation.handout import (
    ROW_SCORES, estimate_rows_reference, get_connections_reference, get_coordinates_reference,
    merge_greedy_reference, merge_reference)
from estimation.merge import merge
from tools.synthetic import make_person, render_maps

import handout_kit
from conftest import SCENE_SHAPE, scene_people
from test_estimators import assert_same_people, decoded_people


@pytest.fixture
def scene():
    people = scene_people()
    heatmaps, pafs = render_maps(people, SCENE_SHAPE)
    return people, heatmaps, pafs


def test_handout_decoder_is_offered_by_the_tools():
    entry = DECODERS["handout"]
    assert entry.decode is handout_registered and entry.params is HandoutParams


def test_handout_decoder_round_trip(scene):
    people, heatmaps, pafs = scene
    timings = {}
    coords, skeletons = decode_handout(heatmaps, pafs, timings=timings)
    assert_same_people(people, SCENE_SHAPE, decoded_people(coords, skeletons))
    assert set(timings) == {"peaks", "connections", "grouping"}


def test_handout_decoder_is_the_printed_kit_then_merge(cfg, scene):
    """decode_handout equals the handout's loops transcribed as printed, then merge."""
    _, heatmaps, pafs = scene
    coords, skeletons = decode_handout(heatmaps, pafs)
    printed_coords = handout_kit.get_coordinates(cfg, heatmaps)
    assert coords == printed_coords
    rows = handout_kit.estimate(cfg, handout_kit.get_connections(cfg, printed_coords, pafs))
    np.testing.assert_array_equal(skeletons, merge(rows))


def test_reference_stages_equal_the_printed_loops(cfg, scene):
    _, heatmaps, pafs = scene
    coords = handout_kit.get_coordinates(cfg, heatmaps)
    assert get_coordinates_reference(cfg, heatmaps) == coords
    printed = handout_kit.get_connections(cfg, coords, pafs)
    ours = get_connections_reference(cfg, coords, pafs)
    for a, b in zip(ours, printed):
        b = np.asarray(b).reshape(-1, 5)
        np.testing.assert_array_equal(a[:, :4], b[:, :4])
        np.testing.assert_allclose(a[:, 4], b[:, 4], rtol=1e-12)   # summed in another order
    np.testing.assert_array_equal(estimate_rows_reference(cfg, printed),
                                  handout_kit.estimate(cfg, printed))


# The handout's sample subset (Lab Task): nine rows of one person, each
# [slot a, id a, slot b, id b, printed row score], in the kit's limb order.
SAMPLE_ROWS = [(1, 1, 2, 2, 1.9540779), (1, 1, 5, 5, 1.76488239), (2, 2, 3, 3, 1.69892728),
               (1, 1, 0, 0, 1.89980185), (0, 0, 14, 6, 1.78199434), (14, 6, 16, 8, 1.73637748),
               (0, 0, 15, 7, 1.82718945), (15, 7, 17, 9, 1.86717367),
               (5, 5, 17, 9, 1.6537441)]
# Heatmap scores of the sample's parts by id, solved by hand from the nine
# printed scores with the printed rule (nine equations 2 s_a + s_b = score,
# nine unknowns, full rank thanks to the neck-shoulder-ear-eye-nose cycle).
SAMPLE_PART_SCORES = {0: 0.6184647083, 1: 0.6406685708, 2: 0.6727407583, 3: 0.3534457633,
                      5: 0.4835452483, 6: 0.5450649233, 7: 0.5902600333, 8: 0.6462476333,
                      9: 0.6866536033}


def sample_connections(cfg, limb_score=0.25):
    """The kit's connections behind the handout's sample: one [id_a, id_b, s_a, s_b, limb] each."""
    by_slots = {(cfg.body_parts[c.from_body_part].slot_idx,
                 cfg.body_parts[c.to_body_part].slot_idx): k
                for k, c in enumerate(cfg.connection_types)}
    connections = [np.zeros((0, 5)) for _ in cfg.connection_types]
    for slot_a, id_a, slot_b, id_b, _ in SAMPLE_ROWS:
        k = by_slots[slot_a, slot_b]
        connections[k] = np.vstack([connections[k], [id_a, id_b, SAMPLE_PART_SCORES[id_a],
                                                     SAMPLE_PART_SCORES[id_b], limb_score]])
    return connections


def test_printed_row_score_reproduces_the_handouts_sample(cfg, sample_subset):
    """``part_a[i, 1] + part_b[i, 1] + connections[k][i][2]`` = 2 s_a + s_b, the limb unused."""
    rows = estimate_rows_reference(cfg, sample_connections(cfg, limb_score=0.25))
    np.testing.assert_array_equal(rows[:, :18], sample_subset[:, :18])
    np.testing.assert_array_equal(rows[:, 19], 2)
    np.testing.assert_allclose(rows[:, 18], [r[4] for r in SAMPLE_ROWS], atol=1e-9)
    np.testing.assert_allclose(rows[:, 18], sample_subset[:, 18], atol=1e-9)
    # Row 0 by hand: neck (id 1) to right shoulder (id 2).
    assert rows[0, 18] == pytest.approx(0.6406685708 + 0.6727407583 + 0.6406685708)
    other_limb = estimate_rows_reference(cfg, sample_connections(cfg, limb_score=0.9))
    np.testing.assert_array_equal(other_limb, rows)          # the limb score never counts
    transcribed = handout_kit.estimate(cfg, sample_connections(cfg))
    np.testing.assert_array_equal(rows, transcribed)
    merged = merge(rows)
    assert merged.shape == (1, 20) and merged[0, 19] == 9


def test_cmu_row_score_is_part_scores_plus_limb_score(cfg):
    """The named variant: what the original code computed, s_a + s_b + limb."""
    rows = estimate_rows_reference(cfg, sample_connections(cfg, limb_score=0.25), row_score="cmu")
    assert rows[0, 18] == pytest.approx(0.6406685708 + 0.6727407583 + 0.25)
    assert rows[3, 18] == pytest.approx(0.6406685708 + 0.6184647083 + 0.25)   # neck -> nose
    assert set(ROW_SCORES) == {"printed", "cmu"}


def test_row_score_is_checked(cfg, scene):
    _, heatmaps, pafs = scene
    with pytest.raises(ValueError, match="row_score"):
        estimate_rows_reference(cfg, sample_connections(cfg), row_score="limb")
    with pytest.raises(ValueError, match="row_score"):
        decode_handout(heatmaps, pafs, row_score="CMU")


def test_handout_decoder_cmu_variant_scores_rows_with_the_limb(cfg, scene):
    _, heatmaps, pafs = scene
    seen = {}

    def spy(rows, min_num_body_parts, min_score):
        seen["rows"] = rows
        return merge(rows, min_num_body_parts, min_score)

    coords, _ = decode_handout(heatmaps, pafs, row_score="cmu", merge_fn=spy)
    connections = handout_kit.get_connections(cfg, handout_kit.get_coordinates(cfg, heatmaps),
                                              pafs)
    expected = [row[2] + row[3] + row[4] for conn in connections for row in conn]
    printed = handout_kit.estimate(cfg, connections)
    np.testing.assert_array_equal(seen["rows"][:, :18], printed[:, :18])
    np.testing.assert_allclose(np.sort(seen["rows"][:, 18]), np.sort(expected))


def test_handout_decoder_passes_thresholds_and_merge(scene):
    _, heatmaps, pafs = scene
    seen = {}

    def spy(rows, min_num_body_parts, min_score):
        seen.update(rows=len(rows), parts=min_num_body_parts, score=min_score)
        return merge(rows, min_num_body_parts, min_score)

    _, skeletons = decode_handout(heatmaps, pafs, min_num_body_parts=17, min_score=0.1,
                                  merge_fn=spy)
    assert seen["parts"] == 17 and seen["score"] == 0.1 and seen["rows"] > 0
    assert (skeletons[:, 19] >= 17).all()
    coords, _ = decode_handout(heatmaps, pafs, peak_threshold=0.99)
    assert sum(map(len, coords.values())) == 0


@pytest.mark.parametrize("bad, message", [
    (np.zeros((10, 10, 5)), "channels"),
    (np.full((10, 10, 19), np.nan), "NaN"),
])
def test_handout_decoder_rejects_bad_maps(bad, message):
    with pytest.raises(ValueError, match=message):
        decode_handout(bad, np.zeros((10, 10, 38)))


def test_handout_decoder_rejects_maps_of_different_sizes():
    with pytest.raises(ValueError, match="differ"):
        decode_handout(np.zeros((10, 10, 19)), np.zeros((12, 10, 38)))


def test_greedy_reference_skips_conflicting_rows(sample_subset, expected_skeleton):
    result = merge_greedy_reference(sample_subset)
    assert result.shape == (1, 20)
    np.testing.assert_array_equal(result[0, :18], expected_skeleton[:18])
    assert result[0, 18] == pytest.approx(expected_skeleton[18])
    second_nose = -np.ones(20)
    second_nose[[0, 1, 18]] = 99, 1, 0.5          # another nose on the sample's neck (id 1)
    again = merge_greedy_reference(np.vstack([sample_subset, second_nose]))
    np.testing.assert_array_equal(again, result)


def test_our_merge_fuses_what_greedy_leaves_in_fragments(cfg):
    """Small people: the kit's ``>=`` gives twin peaks on plateaus, so rows conflict.

    Greedy skips every conflicting row and leaves fragments; our fusion pass
    joins people that conflict in one slot (a twin peak) and keeps them apart
    otherwise.
    """
    people = np.array([make_person(12.3, 8.2, 30), make_person(40.6, 8.4, 30)])
    heatmaps, pafs = render_maps(people, (40, 56))
    coords = get_coordinates_reference(cfg, heatmaps)
    assert sum(map(len, coords.values())) > 2 * 18           # twin peaks exist
    rows = estimate_rows_reference(cfg, get_connections_reference(cfg, coords, pafs))
    ours, greedy = merge(rows), merge_greedy_reference(rows)
    assert len(ours) < len(greedy)
    biggest = np.sort(ours[:, 19])[::-1][:2]
    assert (biggest >= np.sort(greedy[:, 19])[::-1][:2]).all() and biggest.min() >= 13
    decoded = decoded_people(coords, ours[:2])
    for person in decoded:             # each of the two big skeletons is one true person
        necks = np.abs(people[:, 1, 0] - person[1, 0])
        owner = int(np.argmin(necks))
        seen = np.isfinite(person[:, 0])
        assert np.abs(person[seen] - people[owner][seen]).max() <= 1.5


# --- the yardsticks and the printed stages on hand-made cases (mutation survivors) --------

def subset_rows(*rows):
    """(N, 20) rows from ``(slot_a, id_a, slot_b, id_b, score)``."""
    out = -np.ones((len(rows), 20))
    for r, (sa, ia, sb, ib, score) in enumerate(rows):
        out[r, [sa, sb, 18, 19]] = ia, ib, score, 2
    return out


def test_merge_reference_fuses_into_the_first_person_highest_score_first():
    rows = subset_rows((1, 5, 5, 6, 0.125),    # another neck and left shoulder: 2 parts
                       (1, 9, 2, 1, 0.5),      # right shoulder 1 with another neck (9)
                       (1, 0, 2, 1, 1.0),      # neck 0 - right shoulder 1
                       (5, 7, 17, 8, 0.25),    # left shoulder - left ear, joins nobody
                       (2, 1, 3, 2, 0.75),     # right shoulder - elbow
                       (1, 0, 5, 7, 0.25))     # neck 0 - left shoulder 7: not yet met
    before = rows.copy()
    out = merge_reference(rows)
    np.testing.assert_array_equal(rows, before)
    assert out.shape == (1, 20)
    assert out[0, [1, 2, 3]].tolist() == [0, 1, 2]     # neck 0 kept, not 9
    assert out[0, 5] == 7 and (out[0, [0, 4, 17]] == -1).all()
    assert out[0, 18] == 2.5 and out[0, 19] == 4     # every joined row's score added
    assert len(merge_reference(rows, 4, 0.625)) == 1            # mean 2.5 / 4 kept
    assert len(merge_reference(rows, 4, 0.626)) == 0
    assert len(merge_reference(rows, 5, 0.0)) == 0
    assert merge_reference(rows[:1]).shape == (0, 20)
    ear = merge_reference(rows[3:4], 2, 0.0)           # the left ear is slot 17
    assert ear[0, [5, 17, 19]].tolist() == [7, 8, 2]
    late_zero = subset_rows((2, 1, 3, 2, 1.0), (3, 2, 4, 3, 1.0), (1, 0, 2, 1, 0.5))
    assert merge_reference(late_zero, 3, 0.0)[0, [1, 2, 3, 4]].tolist() == [0, 1, 2, 3]


def test_merge_greedy_reference_orders_by_score_and_prunes_with_the_lab_defaults():
    rows = subset_rows((1, 0, 2, 2, 0.3),      # a weaker right shoulder for neck 0: skipped
                       (1, 0, 2, 1, 0.5),
                       (2, 1, 3, 7, 0.5),
                       (3, 7, 4, 8, 0.6))      # 4 parts, 1.6 / 4 = 0.4: kept by default
    out = merge_greedy_reference(rows)
    assert out.shape == (1, 20) and out[0, [1, 2, 3, 4]].tolist() == [0, 1, 7, 8]
    assert out[0, 18] == pytest.approx(1.6)
    assert len(merge_greedy_reference(rows, 4, 0.41)) == 0    # mean, not total
    assert len(merge_greedy_reference(rows[1:3])) == 0        # 3 parts < 4


def test_get_coordinates_reference_peak_strictly_above_the_threshold(cfg):
    heatmaps = np.zeros((5, 5, 19), np.float32)
    heatmaps[1, 1, 0], heatmaps[3, 3, 0] = 0.25, 0.5
    peaks = get_coordinates_reference(cfg, heatmaps, threshold=0.25)
    assert peaks["nose"] == [(3, 3, 0.5, 0)]


def test_get_connections_reference_boundaries(cfg):
    coords = {meta.body_part.name: [] for meta in cfg.body_parts.values()}
    coords["neck"] = [(1, 1, 0.9, 0)]
    coords["right_shoulder"] = [(10, 1, 0.9, 1)]
    pafs = np.zeros((4, 12, 38), np.float32)
    pafs[1, :, 12] = 0.25                       # every sample exactly at the threshold
    pafs[1, 10, 12] = 1.0                       # but the last one
    out = get_connections_reference(cfg, coords, pafs, threshold=0.25)
    assert len(out) == 19 and all(c.shape == (0, 5) for c in out)   # 1 of 10 above
    pafs[1, :, 12] = 0.25
    pafs[1, 10, 12] = -2.25                     # 9 of 10 above 0.05, mean exactly 0
    out = get_connections_reference(cfg, coords, pafs)
    assert all(c.shape == (0, 5) for c in out)
    pafs[1, 10, 12] = 0.25
    out = get_connections_reference(cfg, coords, pafs)
    np.testing.assert_allclose(out[0], [[0, 1, 0.9, 0.9, 0.25]])
    assert [len(c) for c in out[1:]] == [0] * 18


def test_estimate_rows_reference_adds_a_pair_once_and_names_a_bad_row_score(cfg):
    conns = [np.zeros((0, 5)) for _ in range(19)]
    conns[0] = np.array([[0, 1, 0.5, 0.4, 0.3], [0, 1, 0.5, 0.4, 0.3], [0, 2, 0.5, 0.2, 0.3]])
    rows = estimate_rows_reference(cfg, conns)
    assert rows[:, [1, 2]].tolist() == [[0, 1], [0, 2]]
    with pytest.raises(ValueError, match=r"^row_score must be one of printed, cmu, got 'x'"):
        estimate_rows_reference(cfg, conns, "x")


def test_merge_reference_keeps_the_input_order_of_equal_scores():
    # 40 one-part people, scores 1, 2, 1, 2, ...: enough equal keys that an
    # unstable sort reorders them.
    subset = np.full((40, 20), -1.0)
    subset[:, 0] = np.arange(40)
    subset[:, 18] = [1.0, 2.0] * 20
    out = merge_reference(subset, min_num_body_parts=1, min_score=0.0)
    assert out[:, 0].tolist() == list(range(1, 40, 2)) + list(range(0, 40, 2))
