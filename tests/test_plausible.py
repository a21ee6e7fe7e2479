"""Implausible limbs (posekit.decode.plausible): features on hand-made maps, each threshold's edge, the cut."""

import numpy as np
import pytest

from posekit.decode.assembly import assemble
from posekit.decode.completion import LIMB_LENGTHS
from posekit.decode.params import DecoderParams
from posekit.decode.plausible import (MIRROR, components_without, cut_limbs, implausible,
                                      limb_features)
from posekit.lab.config import NUM_PARTS, ROW_WIDTH, BodyPart, get_default_configuration

CONFIG = get_default_configuration()
P = BodyPart
OFF = {"max_length_ratio": np.inf, "min_length_ratio": 0.0, "min_paf": -np.inf, "near": 0.0}
SCALE = 2.0        # the person's size: every limb but the upper arm is SCALE x typical
RATIO = 2.6        # the right upper arm is RATIO x what the others predict


def limb_index(a, b):
    return next(k for k, limb in enumerate(CONFIG.connection_types)
                if (limb.from_body_part, limb.to_body_part) == (a, b))


UPPER_ARM = limb_index(P.right_shoulder, P.right_elbow)


def person_xy(origin=(20.0, 10.0)):
    """Slot -> (x, y): neck, both shoulders, nose at SCALE x their typical lengths, a right
    elbow straight below the right shoulder at RATIO x SCALE x the upper arm's."""
    neck = np.array(origin)
    rs = neck - (SCALE * LIMB_LENGTHS[limb_index(P.neck, P.right_shoulder)], 0.0)
    ls = neck + (SCALE * LIMB_LENGTHS[limb_index(P.neck, P.left_shoulder)], 0.0)
    nose = neck - (0.0, SCALE * LIMB_LENGTHS[limb_index(P.neck, P.nose)])
    elbow = rs + (0.0, RATIO * SCALE * LIMB_LENGTHS[UPPER_ARM])
    return {P.neck: neck, P.right_shoulder: rs, P.left_shoulder: ls, P.nose: nose,
            P.right_elbow: elbow}


def as_arrays(people):
    """(K, 18) slots and (N, 2) positions of people given as {slot: (x, y)}."""
    slots = np.full((len(people), NUM_PARTS), -1)
    xy = []
    for k, person in enumerate(people):
        for slot, point in person.items():
            slots[k, int(slot)] = len(xy)
            xy.append(point)
    return slots, np.array(xy, np.float64)


#: Each limb type's direction in person_xy (and the neighbour's arm, pointing right).
DIRECTIONS = {(P.neck, P.right_shoulder): (-1, 0), (P.neck, P.left_shoulder): (1, 0),
              (P.neck, P.nose): (0, -1), (P.right_shoulder, P.right_elbow): (0, 1),
              (P.right_elbow, P.right_wrist): (0, 1), (P.left_shoulder, P.left_elbow): (1, 0)}


def field(value=1.0, h=48, w=48):
    """PAFs: ``value`` times each limb type's direction in ``person_xy``, everywhere."""
    pafs = np.zeros((h, w, 38), np.float32)
    for (a, b), (ux, uy) in DIRECTIONS.items():
        limb = CONFIG.connection_types[limb_index(a, b)]
        pafs[:, :, limb.paf_dx_idx] = value * ux
        pafs[:, :, limb.paf_dy_idx] = value * uy
    return pafs


def test_the_length_ratio_is_the_length_over_what_the_other_limbs_predict():
    slots, xy = as_arrays([person_xy()])
    f = limb_features(slots, xy, field(), CONFIG)
    assert f["length_ratio"][0, UPPER_ARM] == pytest.approx(RATIO, rel=1e-12)
    # the shoulders' limbs are judged against the others (one of them the long arm)
    assert np.isfinite(f["length_ratio"][0, limb_index(P.neck, P.right_shoulder)])
    # a limb type the person lacks has no features
    assert np.isnan(f["length_ratio"][0, limb_index(P.right_elbow, P.right_wrist)])
    assert np.isnan(f["paf_min"][0, limb_index(P.right_elbow, P.right_wrist)])


def test_a_person_with_too_few_other_limbs_is_not_judged_on_length():
    person = person_xy()
    del person[P.left_shoulder], person[P.nose]        # the arm has one other limb
    slots, xy = as_arrays([person])
    assert np.isnan(limb_features(slots, xy, field(), CONFIG)["length_ratio"][0, UPPER_ARM])


@pytest.mark.parametrize("name,feature,direction", [
    ("max_length_ratio", "length_ratio", -np.inf),   # rejected above: accepted at, not below
    ("min_length_ratio", "length_ratio", np.inf),    # rejected below
    ("min_paf", "paf_min", np.inf)])
def test_each_shape_threshold_accepts_at_its_value_and_rejects_beyond(name, feature, direction):
    slots, xy = as_arrays([person_xy()])
    f = limb_features(slots, xy, field(0.3), CONFIG)
    value = f[feature][0, UPPER_ARM]
    at = implausible(f, **{**OFF, name: value})[0]
    beyond = implausible(f, **{**OFF, name: np.nextafter(value, direction)})[0]
    assert not at[0, UPPER_ARM]
    assert beyond[0, UPPER_ARM]


def test_the_lowest_paf_sample_is_reported_not_the_mean():
    slots, xy = as_arrays([person_xy()])
    pafs = field(0.5)
    elbow = xy[slots[0, P.right_elbow]]
    limb = CONFIG.connection_types[UPPER_ARM]
    pafs[int(elbow[1]) - 3:, :, limb.paf_dy_idx] = -0.25     # the last part of the arm disagrees
    f = limb_features(slots, xy, pafs, CONFIG)
    assert f["paf_min"][0, UPPER_ARM] == pytest.approx(-0.25)
    assert f["paf_mean"][0, UPPER_ARM] > 0.2


def two_people_sharing_an_elbow(gap):
    """Person 0 as person_xy; person 1 to its left with its left elbow ``gap`` cells
    from person 0's right elbow (the same body point under mirrored labels)."""
    first = person_xy((24.0, 8.0))
    second = {slot: point - (14.0, 0.0) for slot, point in person_xy((24.0, 8.0)).items()}
    del second[P.right_elbow]
    second[P.left_elbow] = first[P.right_elbow] + (gap, 0.0)
    return first, second


def test_an_end_near_a_neighbours_mirrored_keypoint_is_claimed_by_the_stronger_limb():
    slots, xy = as_arrays(two_people_sharing_an_elbow(1.0))
    pafs = field(0.3)
    theirs = CONFIG.connection_types[limb_index(P.left_shoulder, P.left_elbow)]
    pafs[:, :, theirs.paf_dx_idx] = 0.9                      # the neighbour's arm is stronger
    f = limb_features(slots, xy, pafs, CONFIG)
    expected = RATIO * SCALE * LIMB_LENGTHS[UPPER_ARM] / RATIO    # the arm's expected length
    assert f["near_b"][0, UPPER_ARM] == pytest.approx(1.0 / expected, rel=1e-9)
    assert f["rival_b"][0, UPPER_ARM]
    their_arm = limb_index(P.left_shoulder, P.left_elbow)
    assert not f["rival_b"][1, their_arm]                     # the stronger one keeps it
    value = f["near_b"][0, UPPER_ARM]
    assert not implausible(f, **{**OFF, "near": value})[2][0, UPPER_ARM]
    assert implausible(f, **{**OFF, "near": np.nextafter(value, np.inf)})[2][0, UPPER_ARM]
    assert not implausible(f, **{**OFF, "near": 10.0})[2][1, their_arm]


def test_another_slot_nearby_claims_nothing():
    first, second = two_people_sharing_an_elbow(1.0)
    second[P.left_wrist] = second.pop(P.left_elbow)           # not the same body point
    slots, xy = as_arrays([first, second])
    f = limb_features(slots, xy, field(0.3), CONFIG)
    assert not np.isfinite(f["near_b"][0, UPPER_ARM]) or f["near_b"][0, UPPER_ARM] > 1
    assert MIRROR[P.right_elbow] == P.left_elbow and MIRROR[P.nose] == P.nose


def test_cut_limbs_drops_the_smaller_side_and_keeps_the_others():
    person = person_xy()
    person[P.right_wrist] = person[P.right_elbow] + (0.0, 2 * SCALE * LIMB_LENGTHS[3])
    slots, xy = as_arrays([person])
    people = [{int(s): int(i) for s, i in enumerate(slots[0]) if i >= 0}, {}]
    out, changed = cut_limbs(people, xy, field(), CONFIG, {**OFF, "max_length_ratio": 2.5})
    assert changed == [True, False]
    assert set(out[0]) == {P.neck, P.right_shoulder, P.left_shoulder, P.nose}
    assert out[1] is people[1]
    same, unchanged = cut_limbs(people, xy, field(), CONFIG, {**OFF, "max_length_ratio": 3.0})
    assert unchanged == [False, False] and same[0] is people[0]
    # a person smaller than min_size (the decoder's min_parts) is neither judged nor cut
    small, untouched = cut_limbs(people, xy, field(), CONFIG, {**OFF, "max_length_ratio": 2.5},
                                 min_size=len(people[0]) + 1)
    assert untouched == [False, False] and small[0] is people[0]
    cut, _ = cut_limbs(people, xy, field(), CONFIG, {**OFF, "max_length_ratio": 2.5},
                       min_size=len(people[0]))
    assert len(cut[0]) == 4


def test_a_claimed_end_goes_with_its_side_when_that_side_is_the_smaller():
    first, second = two_people_sharing_an_elbow(1.0)
    slots, xy = as_arrays([first, second])
    people = [{int(s): int(i) for s, i in enumerate(row) if i >= 0} for row in slots]
    pafs = field(0.3)
    pafs[:, :, CONFIG.connection_types[limb_index(P.left_shoulder, P.left_elbow)].paf_dx_idx] = 0.9
    out, changed = cut_limbs(people, xy, pafs, CONFIG, {**OFF, "near": 0.5})
    assert changed == [True, False]
    assert P.right_elbow not in out[0] and len(out[0]) == 4       # its elbow went to the neighbour
    assert out[1] == people[1]


def test_a_claimed_shoulder_goes_with_its_arm():
    first, second = two_people_sharing_an_elbow(30.0)                # elbows far apart
    first[P.right_shoulder] = second[P.left_shoulder] + (0.2, 0.0)
    slots, xy = as_arrays([first, second])
    people = [{int(s): int(i) for s, i in enumerate(row) if i >= 0} for row in slots]
    pafs = field(0.3)
    pafs[:, :, CONFIG.connection_types[limb_index(P.neck, P.left_shoulder)].paf_dx_idx] = 0.9
    f = limb_features(slots, xy, pafs, CONFIG)
    shoulder = limb_index(P.neck, P.right_shoulder)
    assert f["rival_b"][0, shoulder] and f["near_b"][0, shoulder] < 0.5
    out, _ = cut_limbs(people, xy, pafs, CONFIG, {**OFF, "near": 0.5})
    assert set(out[0]) == {P.neck, P.left_shoulder, P.nose}          # shoulder and elbow went


def test_a_claimed_end_on_the_larger_side_drops_nothing(monkeypatch):
    import posekit.decode.plausible as plausible

    slots, xy = as_arrays([person_xy()])
    people = [{int(s): int(i) for s, i in enumerate(slots[0]) if i >= 0}]
    shoulder = limb_index(P.neck, P.right_shoulder)

    def claimed(features, **rule):
        flags = np.zeros((1, len(CONFIG.connection_types)), bool)
        one = flags.copy()
        one[0, shoulder] = True
        return flags, (one if rule["near"] == 1 else flags), (one if rule["near"] == 2 else flags)

    monkeypatch.setattr(plausible, "implausible", claimed)
    out, changed = cut_limbs(people, xy, field(), CONFIG, {**OFF, "near": 1})   # the neck's side
    assert changed == [False] and out[0] is people[0]
    out, changed = cut_limbs(people, xy, field(), CONFIG, {**OFF, "near": 2})   # the shoulder's
    assert changed == [True] and set(out[0]) == {P.neck, P.left_shoulder, P.nose}


def test_components_without_a_loop_limb_split_nothing():
    person = {int(P.neck): 0, int(P.right_shoulder): 1, int(P.right_ear): 2, int(P.nose): 3,
              int(P.right_eye): 4}
    ear_limb = limb_index(P.right_shoulder, P.right_ear)
    side_a, side_b = components_without(person, ear_limb, CONFIG)
    assert side_a == side_b == sorted(person)
    side_a, side_b = components_without(person, limb_index(P.neck, P.right_shoulder), CONFIG)
    assert side_a == side_b                                        # joined around the head


def test_the_decoder_cuts_a_long_arm_only_when_asked():
    person = person_xy()
    slots, xy = as_arrays([person])
    ids = {slot: slots[0, int(slot)] for slot in person}
    limbs = np.array([[limb_index(P.neck, P.right_shoulder), ids[P.neck], ids[P.right_shoulder], 1],
                      [limb_index(P.neck, P.left_shoulder), ids[P.neck], ids[P.left_shoulder], 1],
                      [limb_index(P.neck, P.nose), ids[P.neck], ids[P.nose], 1],
                      [UPPER_ARM, ids[P.right_shoulder], ids[P.right_elbow], 1]], np.float64)
    scores = np.ones(len(xy))
    ratio = limb_features(slots, xy, field(), CONFIG)["length_ratio"][0, UPPER_ARM]
    for limit, parts in ((ratio, 5), (np.nextafter(ratio, 0), 4)):
        params = DecoderParams(limb_max_length_ratio=float(limit), person_score="heuristic")
        rows = assemble(limbs, scores, xy, CONFIG, params, pafs=field())
        assert rows.shape == (1, ROW_WIDTH)
        assert rows[0, NUM_PARTS + 1] == parts
    rows = assemble(limbs, scores, xy, CONFIG, DecoderParams(limb_max_length_ratio=float("inf"),
                                                             person_score="heuristic"),
                    pafs=field())
    assert rows[0, NUM_PARTS + 1] == 5


@pytest.mark.parametrize("field_name,value", [
    ("limb_max_length_ratio", float("nan")), ("limb_max_length_ratio", -1.0),
    ("limb_min_length_ratio", -0.1), ("limb_min_paf", 1.5), ("limb_min_paf", float("nan")),
    ("limb_near", 11.0), ("limb_near", True)])
def test_bad_limb_thresholds_are_refused_by_name(field_name, value):
    with pytest.raises(ValueError, match=field_name):
        DecoderParams(**{field_name: value})


def test_limb_rule_is_off_only_at_every_off_value():
    off = DecoderParams(limb_max_length_ratio=float("inf"), limb_min_length_ratio=0.0,
                        limb_min_paf=float("-inf"), limb_near=0.0)
    assert not off.checks_limbs
    assert DecoderParams(limb_max_length_ratio=float("inf"), limb_near=0.1).checks_limbs


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="slots"):
        limb_features(np.zeros((2, 17), int), np.zeros((0, 2)), field(), CONFIG)
    with pytest.raises(ValueError, match="part_xy"):
        limb_features(np.full((1, 18), -1), np.zeros((3,)), field(), CONFIG)


def test_nobody_and_empty_people_give_empty_features():
    f = limb_features(np.zeros((0, 18), int), np.zeros((0, 2)), field(), CONFIG)
    assert all(v.shape == (0, 19) for v in f.values())
    out, changed = cut_limbs([], np.zeros((0, 2)), field(), CONFIG, {**OFF, "near": 1.0})
    assert out == [] and changed == []


def test_the_default_rule_is_off_and_measures_nothing(monkeypatch):
    """The decoder's default cuts nothing and computes no limb feature (its cost is 0)."""
    from posekit.decode import plausible

    rule = DecoderParams().limb_rule
    assert plausible.rule_is_off(rule)
    assert not plausible.rule_is_off({**rule, "max_length_ratio": 2.8})
    assert not plausible.rule_is_off({**rule, "min_length_ratio": 0.1})
    assert not plausible.rule_is_off({**rule, "min_paf": 0.0})
    assert not plausible.rule_is_off({**rule, "near": 0.2})

    def measured(*args, **kwargs):
        raise AssertionError("limb features computed with the rule off")

    monkeypatch.setattr(plausible, "limb_features", measured)
    people = [{0: 0, 1: 1, 2: 2}]
    out, changed = plausible.cut_limbs(people, np.zeros((3, 2)), np.zeros((8, 8, 38)),
                                       get_default_configuration(), rule)
    assert out == people and changed == [False]
