"""Tests of posekit.apps.batch.tracks: a video's rows put back in frame order and tracked in the driver.

Rows are made by hand (two template people walking apart, 4 px per frame)
and pushed in every order Ray Data could deliver them; the ids must be those
of one tracker fed the frames in order, whatever the arrival order.
"""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.synthetic import make_person
from posekit.video.tracking import PoseTracker
from posekit.io import images as imageio
from posekit.apps.batch.tracks import FrameOrder, Row
from posekit.video.stream import openpose_with_ids

FPS = 25.0


def people(frame: int) -> np.ndarray:
    """(2, 18, 3) pixel keypoints: one person walking left, one right, 4 px per frame;
    the right one listed first on odd frames (so list order says nothing of identity)."""
    out = []
    for x in (200.0 - 4 * frame, 400.0 + 4 * frame):
        points = make_person(x, 120.0, 200.0)
        out.append(np.concatenate([np.nan_to_num(points), np.isfinite(points[:, :1]) * 0.8],
                                  axis=1))
    out = np.array(out)
    return out[::-1].copy() if frame % 2 else out


def row(item: int, frame: int, error: str = "", time: float = None) -> Row:
    kp = people(frame)
    seconds = frame / FPS if time is None else time
    doc = dict(openpose_with_ids(kp, np.full(len(kp), -1), seconds))
    return Row(item, frame, seconds, -1, error, imageio.json_bytes(doc),
               kp.tobytes(), len(kp))


def end(item: int, total: int, error: str = "") -> Row:
    return Row(item, -1, -1.0, total, error, b"", b"", 0)


def expected_ids(frames: int) -> list:
    tracker = PoseTracker()
    return [tracker.update(people(f), f / FPS).tolist() for f in range(frames)]


def person_ids(payload: bytes) -> list:
    return [p["person_id"][0] for p in json.loads(payload)["people"]]


def split_row(frame: int) -> Row:
    """Frame ``frame`` with the first person's legs (hips to ankles) cut off into a
    third person, as the decoder sometimes splits a person."""
    kp = people(frame)
    legs = np.zeros((1, 18, 3))
    legs[0, 8:14] = kp[0, 8:14]
    kp[0, 8:14] = 0.0
    kp = np.concatenate([kp, legs])
    doc = dict(openpose_with_ids(kp, np.full(len(kp), -1), frame / FPS))
    return Row(0, frame, frame / FPS, -1, "", imageio.json_bytes(doc), kp.tobytes(), len(kp))


def test_a_fragment_of_a_tracked_person_is_joined_to_it_as_the_demo_does():
    """The demo's PoseStream joins fragments (PoseTracker.update_people); the batch's
    JSON must be the demo's, so the driver joins them too."""
    rows = [row(0, 0), row(0, 1), split_row(2), row(0, 3)]
    order = FrameOrder()
    ready = [r for one in rows for r in order.push(one)]
    reference = PoseTracker()
    for one, out in zip(rows, ready):
        kp = np.frombuffer(one.keypoints, np.float64).reshape(-1, 18, 3)
        joined, ids, _ = reference.update_people(kp, one.time)
        assert out.payload == imageio.json_bytes(openpose_with_ids(joined, ids, one.time))
        assert out.people == len(joined) == 2
        np.testing.assert_array_equal(
            np.frombuffer(out.keypoints, np.float64).reshape(-1, 18, 3), joined)
    assert person_ids(ready[2].payload) == [0, 1]
    legs = np.array(json.loads(ready[2].payload)["people"][0]["pose_keypoints_2d"])
    np.testing.assert_allclose(legs.reshape(18, 3)[8:14], people(2)[0, 8:14], atol=1e-3)


def test_a_row_that_comes_early_waits_for_the_frames_before_it():
    order = FrameOrder()
    assert list(order.push(row(0, 2))) == [] and list(order.push(row(0, 1))) == []
    assert order.waiting == 2
    ready = list(order.push(row(0, 0)))
    assert [r.frame for r in ready] == [0, 1, 2] and order.waiting == 0


def test_ids_follow_each_person_not_the_list_order():
    order = FrameOrder()
    ready = [r for f in range(6) for r in order.push(row(0, f))]
    ids = [person_ids(r.payload) for r in ready]
    # frame 0: the left person first; odd frames list the right one first
    assert ids == [[0, 1], [1, 0], [0, 1], [1, 0], [0, 1], [1, 0]]
    doc = json.loads(ready[3].payload)
    assert doc["time"] == 0.12                       # frame 3 at 25 frames/s
    kp = np.array(doc["people"][0]["pose_keypoints_2d"]).reshape(18, 3)
    np.testing.assert_allclose(kp, people(3)[0], atol=1e-3)     # keypoints unchanged


@settings(max_examples=60, deadline=None)
@given(st.permutations(list(range(9))))
def test_any_arrival_order_gives_the_ids_of_frames_in_order(arrival):
    order = FrameOrder()
    ready = [r for f in arrival for r in order.push(row(0, f))]
    ready += list(order.push(end(0, 9)))
    assert [r.frame for r in ready[:-1]] == list(range(9)) and ready[-1].frame == -1
    assert [person_ids(r.payload) for r in ready[:-1]] == expected_ids(9)
    assert order.waiting == 0 and order.open_videos == 0    # the video's tracker is dropped


def test_two_videos_interleaved_keep_their_own_trackers():
    order = FrameOrder()
    arrival = [(1, 1), (0, 0), (1, 0), (0, 2), (0, 1), (1, 2)]
    ready = [r for item, f in arrival for r in order.push(row(item, f))]
    by_item = {i: [person_ids(r.payload) for r in ready if r.item == i] for i in (0, 1)}
    assert by_item[0] == by_item[1] == expected_ids(3)      # ids start at 0 in each video
    assert order.open_videos == 2
    for item in (0, 1):
        list(order.push(end(item, 3)))
    assert order.open_videos == 0


def test_an_end_row_before_the_last_frames_keeps_the_video_open():
    order = FrameOrder()
    list(order.push(row(0, 0)))
    assert [r.frame for r in order.push(end(0, 2))] == [-1]
    assert order.open_videos == 1
    assert [r.frame for r in order.push(row(0, 1))] == [1]
    assert order.open_videos == 0


def test_images_end_rows_and_untracked_rows_pass_at_once_unchanged():
    image = Row(3, 0, -1.0, -1, "", b"{}\n", people(0).tobytes(), 2)
    order = FrameOrder()
    assert list(order.push(image)) == [image] and image.payload == b"{}\n"
    late = row(0, 5)
    untracked = FrameOrder(track=False)
    assert list(untracked.push(late)) == [late]
    assert person_ids(late.payload) == [-1, -1] and untracked.waiting == 0


def test_a_failed_frame_keeps_its_place_and_is_not_tracked():
    order = FrameOrder()
    ready = [r for f in (1, 0) for r in order.push(row(0, f, error="frame 0: boom" if f == 0
                                                        else ""))]
    assert [r.frame for r in ready] == [0, 1] and ready[0].error == "frame 0: boom"
    assert person_ids(ready[1].payload) == [0, 1]           # the first tracked frame
    assert person_ids(ready[0].payload) == [-1, -1]         # left as the actor wrote it


def test_a_clock_that_goes_back_fails_that_frame():
    order = FrameOrder()
    list(order.push(row(0, 0, time=1.0)))
    bad = list(order.push(row(0, 1, time=0.5)))
    assert bad[0].error.startswith("frame 1: cannot track: ") and "time must increase" \
        in bad[0].error
