"""Tests of the tracker's fragments (issue 35): a piece of a tracked person gets no new id."""

import functools

import numpy as np
import pytest

from estimation.config import NUM_PARTS, BodyPart as P
from posekit.video.tracking import PoseTracker, TrackerParams, inside_share

from test_tracking import frame, person

LEGS = [P.right_hip, P.right_knee, P.right_ankle, P.left_hip, P.left_knee, P.left_ankle]


def split(x, y, dx=0.0):
    """A person at (x, y) as the decoder sometimes gives it: the upper body, and the legs
    as a 6-keypoint fragment (moved ``dx`` px)."""
    whole = person(x, y)
    upper, legs = whole.copy(), np.zeros((NUM_PARTS, 3))
    upper[LEGS] = 0
    legs[LEGS] = whole[LEGS]
    legs[LEGS, 0] += dx
    return upper, legs


def tracked_walker():
    """A tracker that has seen a whole person walk 5 px per frame for 3 frames."""
    tracker = PoseTracker()
    for t in range(3):
        tracker.update(frame(person(100 + 5 * t, 100)), t)
    return tracker


def test_a_fragment_on_a_tracked_person_gets_no_id_and_is_joined():
    tracker = tracked_walker()
    upper, legs = split(115, 100)
    ids = tracker.update(frame(upper, legs), 3)
    assert ids.tolist() == [0, -1] and tracker.fragments == {1: 0}
    assert tracker.live_ids == [0]
    tracker = tracked_walker()
    people, ids, kept = tracker.update_people(frame(upper, legs), 3)
    assert ids.tolist() == [0] and kept.tolist() == [0]
    np.testing.assert_array_equal(people[0], person(115, 100))     # legs joined back


def test_without_fragment_joining_the_fragment_gets_a_new_id():
    tracker = PoseTracker(TrackerParams(fragment_similarity=0.0, confirm_frames=1))
    for t in range(3):
        tracker.update(frame(person(100 + 5 * t, 100)), t)
    upper, legs = split(115, 100)
    assert tracker.update(frame(upper, legs), 3).tolist() == [0, 1]


def test_a_fragment_less_similar_than_the_threshold_is_a_new_person():
    """The legs 20 px to the side, inside the box: similarity about 0.87."""
    upper, legs = split(115, 100, dx=20)
    tracker = tracked_walker()
    assert tracker.update(frame(upper, legs), 3).tolist() == [0, -1]    # >= 0.3
    assert tracker.fragments == {1: 0} and tracker.tentative == []
    tracker = PoseTracker(TrackerParams(fragment_similarity=0.95))
    for t in range(3):
        tracker.update(frame(person(100 + 5 * t, 100)), t)
    assert tracker.update(frame(upper, legs), 3).tolist() == [0, -1]    # a new, tentative track
    assert tracker.fragments == {} and tracker.tentative == [1]


def test_a_piece_mostly_outside_the_persons_box_is_a_new_person():
    tracker = PoseTracker(TrackerParams(fragment_similarity=0.01))
    for t in range(3):
        tracker.update(frame(person(100 + 5 * t, 100)), t)
    upper, legs = split(115, 100, dx=140)        # beside him (box 100 px wide)
    assert tracker.update(frame(upper, legs), 3).tolist() == [0, -1]
    assert tracker.fragments == {} and tracker.tentative == [1]


def test_a_person_with_more_keypoints_than_a_fragment_gets_a_new_id():
    tracker = tracked_walker()
    upper, legs = split(115, 100)
    legs[[P.right_wrist, P.left_wrist, P.right_elbow, P.left_elbow]] = \
        person(115, 100)[[P.right_wrist, P.left_wrist, P.right_elbow, P.left_elbow]]
    assert (legs[:, 2] > 0).sum() == 10
    assert tracker.update(frame(upper, legs), 3).tolist() == [0, -1]
    assert tracker.fragments == {} and tracker.tentative == [1]


def test_the_inside_share_counts_points_in_the_grown_box():
    box = np.zeros((NUM_PARTS, 3))
    box[0], box[1] = (0, 0, 1), (100, 100, 1)
    points = np.array([[-10, 50], [-11, 50], [50, 110], [200, 200.0]])
    assert inside_share(points, box) == 0.5
    assert inside_share(points[:0], box) == 0.0


@pytest.mark.parametrize("field, value", [("fragment_similarity", 1.5),
                                          ("fragment_inside", -0.1), ("fragment_parts", 19),
                                          ("fragment_parts", 2.5)])
def test_fragment_params_out_of_range_are_value_errors(field, value):
    with pytest.raises(ValueError, match=field):
        TrackerParams(**{field: value})


ZIDANE = pytest.importorskip("conftest").IMAGES / "zidane.jpg"


@pytest.mark.skipif(not ZIDANE.is_file(), reason="images/zidane.jpg missing (make setup)")
@pytest.mark.parametrize("runtime, frames, scale_aware, must_join",
                         [("int8", 12, True, False), ("tflite", 9, False, True)])
def test_zidane_split_in_a_real_pan_keeps_one_id_and_every_output_aligned(runtime, frames,
                                                                          scale_aware,
                                                                          must_join):
    """zidane.jpg at 640x360 panned 3 px per frame (benchmarks/bench_fragments.py's clip):
    the decoder splits Zidane into his body and a 5-9 keypoint piece on some frames
    (frame 8 on float32 TFLite with the single pass, on AMD Zen 1 and Zen 4 alike; on
    int8 with the scale-aware default frame 11 on Zen 4, none in 30 frames on Zen 1,
    whose int8 kernels round differently). The piece is joined to him: the clip has no id
    after the first frame's, and each frame's ids, keypoints and people stay aligned."""
    import cv2

    from benchmarks.bench_tracking import _affine, _warp, load
    from posekit import PoseEstimator
    from posekit.networks.inference import load_network
    from posekit.video.stream import PoseStream

    stream = PoseStream(PoseEstimator(load_network(runtime=runtime), scale_aware=scale_aware))
    base = load("zidane.jpg", 0.5)
    assert base.shape == (360, 640, 3) and cv2 is not None
    clip = [_warp(base, _affine(dx=3.0 * (f - 45))) for f in range(frames)]
    out, joined = [], 0
    for tracked in stream(clip, fps=30.0):
        out.append(tracked)
        joined += len(stream.tracker.fragments)
    assert joined >= 1 or not must_join
    assert {i for t in out[1:] for i in t.ids.tolist()} <= set(out[0].ids.tolist())
    for t in out:
        assert len(t.ids) == len(t.keypoints) == len(t.result.people) == len(t.people)
        np.testing.assert_array_equal(t.result.scores, [p.score for p in t.people])


@pytest.mark.skipif(not ZIDANE.is_file(), reason="images/zidane.jpg missing (make setup)")
def test_frames_with_a_joined_fragment_stay_whole_in_the_library_and_the_command(tmp_path,
                                                                               capsys,
                                                                               monkeypatch):
    """The same pan (float32 TFLite, single pass: a piece joined on frame 8): ``estimator.track`` gives
    results whose people, skeletons and scores agree, and the demo command draws, writes
    and tables every frame (a result whose people kept the fragment while the tracker
    dropped it made each such frame a 'scores must have one value per person' skip)."""
    import cv2

    from benchmarks.bench_tracking import _affine, _warp, load
    from posekit import PoseEstimator
    from posekit.apps import demo
    from posekit.networks.inference import load_network

    base = load("zidane.jpg", 0.5)
    clip = [_warp(base, _affine(dx=3.0 * (f - 45))) for f in range(12)]
    estimator = PoseEstimator(load_network(runtime="tflite"), scale_aware=False)
    counts = []
    for result in estimator.track(clip, fps=30.0):
        assert len(result.people) == len(result.skeletons) == len(result.scores)
        assert all(p.track_id is not None for p in result.people)
        counts.append(len(result.people))
    split = estimator(clip[8])
    assert len(split.people) > counts[8]          # the piece was there, and was joined
    video = tmp_path / "pan.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 360))
    for image in clip:
        writer.write(image)
    writer.release()
    # the command with the single pass too (it has no flag for it), so frame 8 splits there
    monkeypatch.setattr(demo, "PoseEstimator", functools.partial(PoseEstimator,
                                                                 scale_aware=False))
    status = demo.main([str(video), "-o", str(tmp_path / "drawn.mp4"), "--runtime", "tflite",
                        "--table", str(tmp_path / "poses.csv"), "-q"])
    err = capsys.readouterr().err
    assert status == 0, err
    assert "skipped" not in err
