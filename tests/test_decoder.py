"""Tests of the best decoder (posekit.decode.decoder) on hand-made maps and limbs."""

from functools import partial

import numpy as np
import pytest

from estimation.config import BodyPart
from posekit.decode.decoder import (DecoderParams, assemble, decode, decode_lab, find_peaks,
                                score_limbs)
from tools.synthetic import render_maps

from conftest import SCENE_SHAPE, scene_people
from test_estimators import assert_same_people, decoded_people


def test_peaks_are_refined_below_the_cell_grid(cfg):
    truth = np.array([[5.3, 4.7], [12.8, 9.1]])
    people = np.full((2, 18, 2), np.nan)
    people[:, BodyPart.left_knee] = truth
    heatmaps, _ = render_maps(people, (16, 20), sigma=1.5)
    peaks = find_peaks(heatmaps, DecoderParams(), cfg)
    assert peaks.part.tolist() == [BodyPart.left_knee] * 2
    found = peaks.xy[np.argsort(peaks.xy[:, 0])]
    assert np.abs(found - truth).max() < 0.1          # whole-cell peaks would be 0.3 off
    unrefined = find_peaks(heatmaps, DecoderParams(refine_peaks=False), cfg)
    assert {tuple(p) for p in unrefined.xy.tolist()} == {(5.0, 5.0), (13.0, 9.0)}
    coords = peaks.to_coords(cfg)
    assert [p[3] for p in coords["left_knee"]] == [0, 1] and coords["nose"] == []


def test_long_limbs_are_penalised():
    pafs = np.zeros((20, 60, 38), np.float32)
    pafs[:, :, 0] = 1.0                                # a perfect rightward field
    params = DecoderParams()
    a = np.array([[2.0, 10.0]] * 3)
    b = np.array([[8.0, 10.0], [42.0, 10.0], [58.0, 10.0]])   # 6, 40 and 56 cells long
    dx, dy = np.zeros(3, int), np.ones(3, int)
    score, strong, _ = score_limbs(pafs, a, b, dx, dy, params)
    limit = params.max_limb_fraction * 20              # 10 cells
    np.testing.assert_allclose(score, [1.0, limit / 40, limit / 56], rtol=1e-5)
    assert strong.all()
    pafs[:, :, 0] = 0.2                                # a weak field: long limbs fall below 0
    score, strong, _ = score_limbs(pafs, a, b, dx, dy, params)
    assert strong.tolist() == [True, False, False]


def test_limb_samples_are_interpolated_between_cells():
    pafs = np.zeros((20, 10, 38), np.float32)          # tall enough for no length penalty
    pafs[4, :, 0] = 1.0                                # a one-cell-high band at y = 4
    a, b = np.array([[1.0, 4.5]]), np.array([[8.0, 4.5]])   # runs half-way between rows
    score, _, _ = score_limbs(pafs, a, b, np.zeros(1, int), np.ones(1, int), DecoderParams())
    np.testing.assert_allclose(score, [0.5], rtol=1e-5)


def limb_order_assembly(limbs, cfg):
    """CMU-style greedy: limb types in table order, each link joins or starts a person."""
    people = []
    for k, limb in enumerate(cfg.connection_types):
        sa, sb = int(limb.from_body_part), int(limb.to_body_part)
        mine = limbs[limbs[:, 0] == k]
        for _, a, b, _ in mine[np.argsort(-mine[:, 3])]:
            home = next((p for p in people if p[sa] == a or p[sb] == b), None)
            if home is None:
                if not limb.redundant:
                    person = -np.ones(18)
                    person[sa], person[sb] = a, b
                    people.append(person)
            elif home[sa] == a and home[sb] < 0:
                home[sb] = b
            elif home[sb] == b and home[sa] < 0:
                home[sa] = a
    return people


def limb_rows(cfg, table):
    """(K, 4) rows ``limb type, id_a, id_b, score`` from ``{limb name: [(a, b, score)]}``."""
    idx = {l.name: k for k, l in enumerate(cfg.connection_types)}
    return np.array([(idx[name], a, b, s) for name, rows in table.items()
                     for a, b, s in rows], float).reshape(-1, 4)


def test_global_limb_order_is_not_fooled_by_an_overlapping_face(cfg):
    """Person A's nose is hidden; a weak neck->nose link reaches B's face.

    Greedy limb order links A's neck to B's nose first (neck->nose comes before
    the face limbs), then drags B's whole face into A. Sorting all limbs by
    score builds B's face first; A and B then both have a right shoulder, so
    the weak link cannot merge them.
    """
    # ids: 0 neck A, 1 r-shoulder A, 6 r-elbow A, 7 r-wrist A,
    #      2 nose B, 3 r-eye B, 4 r-ear B, 5 r-shoulder B
    limbs = limb_rows(cfg, {
        "neck-right_shoulder": [(0, 1, 0.9)],
        "right_shoulder-right_elbow": [(1, 6, 0.9)],
        "right_elbow-right_wrist": [(6, 7, 0.9)],
        "neck-nose": [(0, 2, 0.3)],
        "nose-right_eye": [(2, 3, 0.95)],
        "right_eye-right_ear": [(3, 4, 0.9)],
        "right_shoulder-right_ear": [(5, 4, 0.8)]})
    greedy = limb_order_assembly(limbs, cfg)
    assert any(p[BodyPart.neck] == 0 and p[BodyPart.right_eye] == 3 for p in greedy)

    params = DecoderParams(min_parts=1, min_mean_score=0.0)
    people = assemble(limbs, np.full(8, 0.8), np.zeros((8, 2)), cfg, params)
    groups = sorted(sorted(int(i) for i in row[:18] if i >= 0) for row in people)
    assert groups == [[0, 1, 6, 7], [2, 3, 4, 5]]


def test_redundant_limbs_never_start_a_person(cfg):
    limbs = limb_rows(cfg, {"left_shoulder-left_ear": [(0, 1, 0.9)]})
    params = DecoderParams(min_parts=1, min_mean_score=0.0)
    assert assemble(limbs, np.ones(2), np.zeros((2, 2)), cfg, params).shape == (0, 20)


def test_weak_limbs_only_attach(cfg):
    strong = limb_rows(cfg, {"neck-right_shoulder": [(0, 1, 0.9)]})
    weak = limb_rows(cfg, {"right_shoulder-right_elbow": [(1, 2, 0.2)],   # attaches
                           "left_hip-left_knee": [(3, 4, 0.2)]})          # would start one
    params = DecoderParams(min_parts=1, min_mean_score=0.0)
    people = assemble(strong, np.ones(5), np.zeros((5, 2)), cfg, params, weak)
    assert people.shape[0] == 1
    assert people[0, :4].tolist() == [-1, 0, 1, 2]


#: The grouping alone: completion (tested in test_completion.py) fills the
#: slots the scene leaves empty on purpose.
GROUPING = DecoderParams(complete_people=False)


@pytest.mark.parametrize("decoder", [partial(decode, params=GROUPING), decode_lab])
def test_round_trip_recovers_the_known_people(cfg, decoder):
    people = scene_people()
    heatmaps, pafs = render_maps(people, SCENE_SHAPE)
    timings = {}
    coords, skeletons = decoder(heatmaps, pafs, timings=timings)
    assert set(timings) == {"peaks", "connections", "grouping"}
    assert_same_people(people, SCENE_SHAPE, decoded_people(coords, skeletons))


def test_best_decoder_positions_are_sub_cell(cfg):
    people = scene_people()
    heatmaps, pafs = render_maps(people, SCENE_SHAPE)
    coords, skeletons = decode(heatmaps, pafs, params=GROUPING)
    found = decoded_people(coords, skeletons)
    errors = []
    for person in people:
        k = np.nanargmin([np.nansum(np.abs(f[1] - person[1])) for f in found])
        both = np.isfinite(found[k, :, 0]) & np.isfinite(person[:, 0])
        errors.append(np.abs(found[k][both] - person[both]))
    assert np.concatenate(errors).mean() < 0.15


def test_decode_rejects_malformed_maps():
    good_h, good_p = np.zeros((8, 8, 19), np.float32), np.zeros((8, 8, 38), np.float32)
    with pytest.raises(ValueError, match="differ"):
        decode(good_h, np.zeros((9, 8, 38), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        decode(np.full((8, 8, 19), np.nan, np.float32), good_p)
    with pytest.raises(ValueError, match="channels"):
        decode(good_h, np.zeros((8, 8, 30), np.float32))
    assert decode(good_h, good_p)[1].shape == (0, 20)


# --- validation of DecoderParams and of the maps -------------------------------------------

@pytest.mark.parametrize("field, value", [
    ("smooth_sigma", 1e6), ("smooth_sigma", -1.0), ("peak_threshold", float("nan")),
    ("peak_threshold", 2.0), ("min_paf_score", float("nan")), ("limb_samples", 0),
    ("limb_samples", 10 ** 6), ("limb_samples", 2.5), ("min_parts", -1), ("min_parts", 0),
    ("min_parts", 19), ("min_support_ratio", 1.5), ("max_limb_fraction", 0.0),
    ("min_mean_score", float("inf")), ("refine_peaks", "yes"), ("peak_threshold", "0.1"),
    ("min_parts", True)])
def test_decoder_params_are_validated_at_construction(field, value):
    with pytest.raises(ValueError, match=f"DecoderParams.{field}"):
        DecoderParams(**{field: value})


def test_decoder_params_accept_numpy_numbers_and_the_range_ends():
    DecoderParams(peak_threshold=np.float32(0.0), min_parts=np.int64(18), limb_samples=2,
                  min_paf_score=-1.0, smooth_sigma=10.0)


def test_channels_first_maps_are_refused_with_a_hint():
    heatmaps = np.zeros((19, 40, 60), np.float32)
    pafs = np.zeros((38, 40, 60), np.float32)
    with pytest.raises(ValueError, match=r"channels-first.*transpose\(1, 2, 0\)"):
        decode(heatmaps, pafs)
    with pytest.raises(ValueError, match="channels-first"):
        decode(heatmaps.transpose(1, 2, 0), pafs)
    coords, skeletons = decode(heatmaps.transpose(1, 2, 0), pafs.transpose(1, 2, 0))
    assert len(skeletons) == 0


def test_maps_with_too_many_channels_are_refused():
    with pytest.raises(ValueError, match="C <= 57"):
        decode(np.zeros((8, 8, 64), np.float32), np.zeros((8, 8, 38), np.float32))


@pytest.mark.parametrize("field, value", [("refinement", "cubic"), ("person_score", "oracle"),
                                          ("min_person_score", -1.0), ("refine_sigma", 11.0),
                                          ("join_fragments", 1)])
def test_new_params_are_validated(field, value):
    with pytest.raises(ValueError, match=field):
        DecoderParams(**{field: value})



def test_min_person_score_ends_exactly_at_1e6():
    assert DecoderParams(min_person_score=1e6).min_person_score == 1e6
    with pytest.raises(ValueError, match=r"min_person_score must be a number in \[0.0, 1000000.0\]"):
        DecoderParams(min_person_score=float(np.nextafter(1e6, 2e6)))


def test_learned_person_score_ranks_by_predicted_oks(cfg):
    heatmaps, pafs = render_maps(scene_people(), SCENE_SHAPE)
    features = []
    _, heuristic = decode(heatmaps, pafs, params=GROUPING, features_out=features)
    _, learned = decode(heatmaps, pafs, params=DecoderParams(person_score="learned",
                                                             complete_people=False))
    assert len(learned) == len(heuristic) == len(features[0]) > 0
    scores = learned[:, -2]
    assert ((scores > 0) & (scores < 1)).all() and (np.diff(scores) <= 0).all()
    assert sorted(map(tuple, learned[:, :18])) == sorted(map(tuple, heuristic[:, :18]))
