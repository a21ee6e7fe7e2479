"""Tests of posekit.video.tracking: hand-made people, occlusions, crossings, formulas pinned."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from estimation.config import NUM_PARTS, BodyPart
from posekit.video.tracking import (KEYPOINT_SIGMAS, PoseTracker, TrackerParams, box_areas,
                                 greedy_assignment, similarity)

#: A standing person 100 px wide, 300 px tall (x, y offsets from the neck), all 18 slots seen.
_SHAPE = np.array([
    (0, -30), (0, 0), (-40, 0), (-50, 60), (-50, 120), (40, 0), (50, 60), (50, 120),
    (-25, 130), (-25, 200), (-25, 270), (25, 130), (25, 200), (25, 270),
    (-8, -38), (8, -38), (-16, -34), (16, -34)], float)


def person(x, y, score=0.8, scale=1.0):
    """(18, 3) keypoints of a standing person whose neck is at (x, y)."""
    out = np.empty((NUM_PARTS, 3))
    out[:, :2] = _SHAPE * scale + (x, y)
    out[:, 2] = score
    return out


def frame(*people):
    return np.stack(people) if people else np.zeros((0, NUM_PARTS, 3))


def test_sigmas_are_cocos_in_cmu_order():
    assert KEYPOINT_SIGMAS[BodyPart.nose] == 0.026
    assert KEYPOINT_SIGMAS[BodyPart.left_hip] == KEYPOINT_SIGMAS[BodyPart.right_hip] == 0.107
    assert KEYPOINT_SIGMAS[BodyPart.left_ear] == 0.035
    assert KEYPOINT_SIGMAS[BodyPart.neck] == KEYPOINT_SIGMAS[BodyPart.left_shoulder]


def test_similarity_formula_pinned_by_hand():
    """Track: nose (0, 0), neck (0, 100) -> box 32 (floor) x 100 = 3200 px^2.

    Person: nose moved 10 px, neck still. Nose: e = 100 / (2 * 3200 * (2 * 0.026)^2)
    = 100 / 17.3056 = 5.77848, exp(-e) = 0.0030934; neck: exp(0) = 1.
    Mean over the 2 common keypoints: 0.5015467.
    """
    track = np.zeros((1, NUM_PARTS, 3))
    track[0, BodyPart.nose] = (0, 0, 1)
    track[0, BodyPart.neck] = (0, 100, 1)
    moved = track.copy()
    moved[0, BodyPart.nose, 0] = 10
    assert box_areas(track, 32.0)[0] == 3200
    assert similarity(track, moved)[0, 0] == pytest.approx(0.5015467, abs=1e-6)
    # a keypoint seen in only one of them does not count
    moved[0, BodyPart.left_ankle] = (500, 500, 1)
    assert similarity(track, moved)[0, 0] == pytest.approx(0.5015467, abs=1e-6)
    # one common keypoint is below min_common = 2: no similarity
    moved[0, BodyPart.neck, 2] = 0
    assert similarity(track, moved)[0, 0] == 0.0
    assert similarity(track, moved, min_common=1)[0, 0] == pytest.approx(0.0030934, abs=1e-6)


def test_greedy_assignment_best_first_each_once_and_threshold_inclusive():
    scores = np.array([[0.9, 0.8], [0.85, 0.3]])
    # best pair (0, 0) first; row 1 then only has column 1 at 0.3
    assert greedy_assignment(scores, 0.3) == [(0, 0), (1, 1)]
    assert greedy_assignment(scores, 0.31) == [(0, 0)]
    assert greedy_assignment(np.zeros((0, 3)), 0.1) == []


def test_still_people_keep_their_ids_whatever_the_order():
    tracker = PoseTracker()
    a, b = person(100, 100), person(400, 100)
    first = tracker.update(frame(a, b), 0.0)
    assert first.tolist() == [0, 1]
    assert tracker.update(frame(b, a), 1 / 30).tolist() == [1, 0]
    assert tracker.update(frame(b), 2 / 30).tolist() == [1]
    assert tracker.update(frame(a, b), 3 / 30).tolist() == [0, 1]


def test_a_five_frame_gap_keeps_the_id_and_a_longer_one_does_not():
    tracker = PoseTracker(TrackerParams(max_missed=5, confirm_frames=1))   # ids at once
    a, b = person(100, 100), person(400, 100)
    t = 0
    assert tracker.update(frame(a, b), t).tolist() == [0, 1]
    for _ in range(5):  # a hidden 5 frames
        t += 1
        assert tracker.update(frame(b), t).tolist() == [1]
    t += 1
    assert tracker.update(frame(a, b), t).tolist() == [0, 1]
    for _ in range(6):  # hidden 6 frames: more than max_missed
        t += 1
        assert tracker.update(frame(b), t).tolist() == [1]
    t += 1
    assert tracker.update(frame(a, b), t).tolist() == [2, 1]


def test_default_keeps_a_person_hidden_five_frames_while_walking():
    """A person walking 6 px per frame hides 5 frames; the track's velocity carries it."""
    tracker = PoseTracker()
    ids = []
    for f in range(20):
        hidden = 5 <= f < 10
        ids.append(tracker.update(frame() if hidden else frame(person(100 + 6 * f, 100)), f / 30))
    assert [i.tolist() for i in ids if len(i)] == [[0]] * 15


def test_two_people_crossing_keep_their_ids():
    """A walks right, B walks left at 20 px/frame; they overlap exactly at frame 10."""
    tracker = PoseTracker()
    for f in range(21):
        a, b = person(100 + 20 * f, 200), person(500 - 20 * f, 200)
        swapped = f % 2 == 0  # the decoder's order changes freely
        ids = tracker.update(frame(b, a) if swapped else frame(a, b), f / 30).tolist()
        id_a, id_b = (ids[1], ids[0]) if swapped else ids
        if f == 10:  # identical people: either assignment is right, ids stay distinct
            assert sorted(ids) == [0, 1]
        else:  # first seen (frame 0): b then a, so b is 0 and a is 1
            assert (id_a, id_b) == (1, 0), f
    # after the crossing, the walker going right (now past x=500) still has its id
    assert tracker.update(frame(person(520, 200), person(80, 200)), 21 / 30).tolist() == [1, 0]


def test_ids_are_never_reused_and_time_must_increase():
    tracker = PoseTracker(TrackerParams(max_missed=0, confirm_frames=1))
    assert tracker.update(frame(person(0, 0))).tolist() == [0]
    assert tracker.update(frame()).tolist() == []
    assert tracker.update(frame(person(0, 0))).tolist() == [1]
    with pytest.raises(ValueError, match="time"):
        tracker.update(frame(), 1.0)  # frames 0, 1, 2 counted; 1.0 is not after 2
    tracker.reset()
    assert tracker.live_ids == []
    assert tracker.update(frame(person(0, 0)), 0.5).tolist() == [2]


@pytest.mark.parametrize("bad, match", [
    (np.zeros((1, 17, 3)), "keypoints"),
    (np.full((1, 18, 3), np.nan), "keypoints"),
    (np.zeros((18, 3)), "keypoints"),
])
def test_bad_keypoints_are_value_errors_naming_them(bad, match):
    with pytest.raises(ValueError, match=match):
        PoseTracker().update(bad, 0.0)


@pytest.mark.parametrize("field, value", [
    ("min_similarity", 1.5), ("max_missed", -1), ("max_missed", 2.5), ("min_common", 0),
    ("min_box_side", 0.0), ("velocity_weight", -0.1)])
def test_params_out_of_range_are_value_errors(field, value):
    with pytest.raises(ValueError, match=field):
        TrackerParams(**{field: value})


def test_time_must_be_finite():
    with pytest.raises(ValueError, match="time"):
        PoseTracker().update(frame(), math.nan)


people_strategy = st.lists(
    st.tuples(st.floats(0, 1000), st.floats(0, 1000), st.floats(0.5, 2.0)), max_size=6)


@settings(max_examples=60, deadline=None)
@given(st.lists(people_strategy, min_size=1, max_size=12))
def test_no_two_people_of_a_frame_share_an_id(frames):
    tracker = PoseTracker()
    for t, people in enumerate(frames):
        ids = tracker.update(frame(*[person(x, y, scale=s) for x, y, s in people]), t)
        assert len(ids) == len(people)
        known = [i for i in ids.tolist() if i >= 0]       # -1: not confirmed yet
        assert len(set(known)) == len(known) and min(ids.tolist(), default=0) >= -1
        assert set(known) <= set(tracker.live_ids)
        assert sorted(tracker.tentative) == np.flatnonzero(ids < 0).tolist()
