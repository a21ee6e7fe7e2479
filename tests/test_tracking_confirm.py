"""Tests of the tracker's tentative tracks (issue 35): a new person gets its id once matched
``confirm_frames`` frames in a row; until then, and if it is lost before, it has id -1."""

import numpy as np
import pytest

from posekit.video.smoothing import PoseSmoother
from posekit.video.stream import coco_with_ids, draw_people, openpose_with_ids
from posekit.video.tracking import PoseTracker, TrackerParams

from test_tracking import frame, person

A, B = person(100, 100), person(400, 100)


def test_people_of_the_first_frame_get_their_ids_at_once():
    tracker = PoseTracker()
    assert tracker.params.confirm_frames == 3
    assert tracker.update(frame(A, B), 0).tolist() == [0, 1]
    assert tracker.tentative == [] and tracker.live_ids == [0, 1]


@pytest.mark.parametrize("n", [2, 3, 4])
def test_a_new_person_is_confirmed_at_exactly_n_frames_in_a_row_not_n_minus_1(n):
    tracker = PoseTracker(TrackerParams(confirm_frames=n))
    assert tracker.update(frame(A), 0).tolist() == [0]
    for t in range(1, n):                     # B seen n - 1 frames: no id yet
        assert tracker.update(frame(A, B), t).tolist() == [0, -1]
        assert tracker.tentative == [1] and tracker.live_ids == [0]
    assert tracker.update(frame(A, B), n).tolist() == [0, 1]      # the n-th frame
    assert tracker.tentative == [] and tracker.live_ids == [0, 1]
    assert tracker.update(frame(B, A), n + 1).tolist() == [1, 0]  # and it keeps it


def test_one_confirm_frame_gives_ids_at_once_as_before():
    tracker = PoseTracker(TrackerParams(confirm_frames=1))
    tracker.update(frame(A), 0)
    assert tracker.update(frame(A, B), 1).tolist() == [0, 1] and tracker.tentative == []


def test_a_lost_tentative_track_never_surfaces_an_id_and_takes_none():
    tracker = PoseTracker()                  # confirm_frames 3
    tracker.update(frame(A), 0)
    for t in (1, 2):                         # B for 2 frames, then gone: it dies silently
        assert tracker.update(frame(A, B), t).tolist() == [0, -1]
    assert tracker.update(frame(A), 3).tolist() == [0] and tracker.live_ids == [0]
    # back: counted afresh from 1, so 2 more frames without an id
    assert tracker.update(frame(A, B), 4).tolist() == [0, -1]
    assert tracker.update(frame(A, B), 5).tolist() == [0, -1]
    assert tracker.update(frame(A, B), 6).tolist() == [0, 1]     # the next id: none was spent


def test_ids_are_not_reused_after_a_confirmed_track_is_dropped():
    tracker = PoseTracker(TrackerParams(max_missed=0))
    assert tracker.update(frame(A), 0).tolist() == [0]
    assert tracker.update(frame(), 1).tolist() == []                 # A dropped
    assert [tracker.update(frame(A), t).tolist() for t in (2, 3, 4)] == [[-1], [-1], [1]]
    tracker.reset()                          # a new stream: its first frame has ids at once
    assert tracker.update(frame(A, B), 0).tolist() == [2, 3]


def test_confirmed_tracks_are_matched_before_tentative_ones():
    """B' stands 10 px from A; the next frame has one person on B's spot: it is A (moved
    10 px), not B' (same place), though B' is the closer match."""
    tracker = PoseTracker()
    tracker.update(frame(A), 0)
    near = person(110, 100)
    assert tracker.update(frame(A, near), 1).tolist() == [0, -1]
    assert tracker.update(frame(near), 2).tolist() == [0]
    assert tracker.tentative == []


def test_update_people_keeps_every_unconfirmed_person_with_id_minus_1():
    tracker = PoseTracker()
    tracker.update(frame(A), 0)
    people, ids, kept = tracker.update_people(frame(B, A), 1)
    assert ids.tolist() == [-1, 0] and kept.tolist() == [0, 1]
    np.testing.assert_array_equal(people, frame(B, A))


@pytest.mark.parametrize("value", [0, 2.5, -1])
def test_confirm_frames_out_of_range_is_a_value_error(value):
    with pytest.raises(ValueError, match="confirm_frames"):
        TrackerParams(confirm_frames=value)


def test_the_smoother_passes_people_without_an_id_through():
    smoother = PoseSmoother()
    smoother.update(frame(A, B), [0, -1], 0.0)
    moved = frame(person(110, 100), person(410, 100), person(700, 100))
    out = smoother.update(moved, [0, -1, -1], 0.1)
    np.testing.assert_array_equal(out[1:], moved[1:])          # raw, and -1 may repeat
    assert out[0, 0, 0] < 110                                  # id 0 smoothed
    with pytest.raises(ValueError, match="distinct"):
        smoother.update(moved, [0, 0, -1], 0.2)


def test_outputs_and_drawing_of_a_person_without_an_id(cfg):
    kp = frame(A, B)
    assert [p["person_id"] for p in openpose_with_ids(kp, np.array([4, -1]), 0.5)["people"]] \
        == [[4], [-1]]                                         # OpenPose's own "no id"
    coco = coco_with_ids(kp, np.array([0.7, 0.6]), 3, np.array([4, -1]), 0.5)
    assert [c["track_id"] for c in coco] == [4, -1]              # as --no-track writes it
    image = np.zeros((480, 640, 3), np.uint8)
    drawn = draw_people(cfg, image, kp[1:], np.array([-1]))    # no "#-1" label
    assert np.array_equal(drawn, draw_people(cfg, image, kp[1:]))
    assert not np.array_equal(drawn, draw_people(cfg, image, kp[1:], np.array([0])))
