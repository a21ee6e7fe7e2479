"""Tests of posekit.video.stream: ids and times in the outputs, a real clip through the network."""

import numpy as np
import pytest

from posekit.video.smoothing import OneEuroParams
from posekit.video.stream import (PoseStream, coco_with_ids, draw_people,
                            openpose_with_ids)


def test_outputs_carry_ids_and_times():
    kp = np.zeros((2, 18, 3))
    kp[:, 0] = (10, 20, 0.9)
    op = openpose_with_ids(kp, np.array([5, 2]), 1.25)
    assert [p["person_id"] for p in op["people"]] == [[5], [2]] and op["time"] == 1.25
    coco = coco_with_ids(kp, np.array([0.7, 0.6]), 3, np.array([5, 2]), 1.25)
    assert [(c["track_id"], c["time"], c["image_id"]) for c in coco] == [(5, 1.25, 3),
                                                                       (2, 1.25, 3)]


@pytest.mark.parametrize("fps", [0, -25.0, float("nan"), float("inf"), "30", True])
def test_a_bad_fps_is_a_value_error_at_the_call(fps):
    stream = PoseStream(estimator=object())
    with pytest.raises(ValueError, match="fps"):
        stream([np.zeros((16, 16, 3), np.uint8)], fps=fps)   # before any frame is read


def test_smooth_needs_track():
    with pytest.raises(ValueError, match="smooth"):
        PoseStream(estimator=object(), track=False, smooth=OneEuroParams())


def test_real_clip_keeps_ids_through_a_pan_and_a_gap(small_bus):
    """bus.jpg (small) panned 2 px per frame, frames 3-7 blank: the people keep their ids.

    On float32 TFLite, the same on every CPU (on int8 the third person of this
    203 x 270 clip comes back with a new id: docs/records/int8.md)."""
    from posekit.networks.inference import load_network
    from posekit import PoseEstimator

    stream = PoseStream(PoseEstimator(load_network(runtime="tflite")), smooth=OneEuroParams())
    blank = np.full_like(small_bus, 128)
    frames = []
    for f in range(10):
        shifted = np.roll(small_bus, 2 * f, axis=1)
        frames.append(blank if 3 <= f < 8 else shifted)
    out = list(stream(frames, fps=25.0))
    assert [round(t.time, 3) for t in out] == [round(f / 25, 3) for f in range(10)]
    first = set(out[0].ids.tolist())
    assert len(first) >= 2
    assert len(out[5].ids) == 0
    assert first <= set(out[9].ids.tolist())  # everyone seen in frame 0 has its id back
    people = out[9].people                     # Person records carry the track ids
    assert [p.track_id for p in people] == [i if i >= 0 else None for i in out[9].ids.tolist()]
    assert np.array_equal(np.stack([p.keypoints for p in people]), out[9].keypoints)


def test_draw_people_matches_the_still_image_drawing(cfg, small_bus):
    """Video frames and still images share one drawing: the same picture for the same people."""
    from posekit import PoseEstimator

    result = PoseEstimator()(small_bus)
    assert len(result.keypoints) >= 2
    expected = result.drawn(small_bus, cfg)
    got = draw_people(cfg, small_bus, result.keypoints, scores=result.scores)
    assert np.array_equal(got, expected)
    with_ids = draw_people(cfg, small_bus, result.keypoints, np.arange(len(result.keypoints)))
    assert (with_ids != got).any()
