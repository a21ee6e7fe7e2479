"""Tests of posekit.video.adaptive (half-size live frames while everyone is large) and of the
estimator's ``half_size`` call."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from posekit.video.adaptive import FrameSizer, HalfSizeParams, all_large

from conftest import IMAGES

H = 100
needs_zidane = pytest.mark.skipif(not (IMAGES / "zidane.jpg").is_file(),
                                  reason="images/zidane.jpg missing: run `make setup`")


def person(top: float, bottom: float, parts: int = 4) -> np.ndarray:
    """(18, 3) keypoints: ``parts`` keypoints at x 10, y from ``top`` to ``bottom``."""
    points = np.zeros((18, 3))
    points[:parts, 0] = 10.0
    points[:parts, 1] = np.linspace(top, bottom, parts)
    points[:parts, 2] = 0.5
    return points


def people(*rows: np.ndarray) -> np.ndarray:
    return np.stack(rows) if rows else np.zeros((0, 18, 3))


def test_a_person_is_large_exactly_at_min_height_of_the_frame():
    params = HalfSizeParams()                                # min_height 0.5, min_parts 4
    assert all_large(people(person(20, 70)), H, params)      # spans 50 of 100 px
    assert not all_large(people(person(20, 69.99)), H, params)


def test_every_person_must_be_large_and_nobody_is_not_large():
    params = HalfSizeParams()
    assert all_large(people(person(0, 90), person(10, 60)), H, params)
    assert not all_large(people(person(0, 90), person(10, 59)), H, params)
    assert not all_large(people(), H, params)


def test_a_person_with_too_few_keypoints_is_a_fragment_not_large():
    params = HalfSizeParams(min_parts=4)
    assert all_large(people(person(0, 90, parts=4)), H, params)
    assert not all_large(people(person(0, 90, parts=3)), H, params)


def test_absent_keypoints_do_not_count_in_the_height():
    row = person(40, 60, parts=5)
    row[5] = (10.0, 100.0, 0.0)                 # score 0: absent, its y is not part of the box
    assert not all_large(people(row), H, HalfSizeParams())


@pytest.mark.parametrize("kwargs, name", [
    ({"min_height": 0.0}, "min_height"), ({"min_height": 1.01}, "min_height"),
    ({"min_height": "0.5"}, "min_height"), ({"full_every": -0.1}, "full_every"),
    ({"full_every": float("inf")}, "full_every"), ({"min_parts": 0}, "min_parts"),
    ({"min_parts": 19}, "min_parts"), ({"min_parts": True}, "min_parts")])
def test_bad_settings_are_named(kwargs, name):
    with pytest.raises(ValueError, match=name):
        HalfSizeParams(**kwargs)


@pytest.mark.parametrize("keypoints, height, name", [
    (np.zeros((1, 17, 3)), H, "keypoints"), (np.zeros((18, 3)), H, "keypoints"),
    (np.zeros((1, 18, 3)), 0, "height"), (np.zeros((1, 18, 3)), 10.0, "height")])
def test_bad_arguments_are_named(keypoints, height, name):
    with pytest.raises(ValueError, match=name):
        all_large(keypoints, height, HalfSizeParams())
    with pytest.raises(ValueError, match="params"):
        FrameSizer(params="default")


def test_half_size_frames_follow_a_full_frame_of_large_people_until_full_every():
    sizer = FrameSizer(HalfSizeParams(full_every=0.5))
    large, small = people(person(0, 90)), people(person(0, 20))
    assert not sizer.half(0.0)                       # nothing known yet: full
    sizer.update(large, H, 0.0, half=False)
    assert sizer.half(0.1) and sizer.half(0.4999)
    assert not sizer.half(0.5)                       # exactly full_every after the full frame
    sizer.update(large, H, 0.2, half=True)           # a half frame does not reset the clock
    assert sizer.half(0.3) and not sizer.half(0.5)
    sizer.update(small, H, 0.3, half=True)           # someone not large: the next is full
    assert not sizer.half(0.35)
    sizer.update(large, H, 0.35, half=False)
    assert sizer.half(0.4) and not sizer.half(0.85)
    sizer.update(people(), H, 0.4, half=True)        # nobody: the next is full
    assert not sizer.half(0.45)
    assert (sizer.half_frames, sizer.full_frames) == (3, 2)


def test_full_every_zero_means_every_frame_full():
    sizer = FrameSizer(HalfSizeParams(full_every=0.0))
    sizer.update(people(person(0, 90)), H, 1.0, half=False)
    assert not sizer.half(1.0) and not sizer.half(1.01)


@needs_zidane
def test_a_half_size_call_runs_the_network_once_at_half_size_in_original_pixels(monkeypatch):
    from posekit.networks import accurate
    from posekit.pipeline import PoseEstimator

    second = []
    small_pass_maps = accurate.small_pass_maps
    monkeypatch.setattr(accurate, "small_pass_maps",
                        lambda *args: second.append(1) or small_pass_maps(*args))

    image = cv2.resize(cv2.imread(str(IMAGES / "zidane.jpg")), (640, 360))
    estimator = PoseEstimator()
    full = estimator(image)
    assert second == [1]                               # large people: the second pass ran
    half = estimator(image, half_size=True)
    assert second == [1]                               # none now
    assert full.network_image.shape == (360, 640, 3)
    assert half.network_image.shape == (180, 320, 3) and half.scale == 2.0
    assert len(half.people) == len(full.people) == 2
    # the same two men, in the original image's pixels: their necks within 16 px
    necks_full = sorted(full.keypoints[:, 1, :2].tolist())
    necks_half = sorted(half.keypoints[:, 1, :2].tolist())
    assert np.allclose(necks_full, necks_half, atol=16)
    # an image whose half would be under the network's minimum runs as usual
    tiny = image[:30, :60]
    assert estimator(tiny, half_size=True).network_image.shape == (30, 60, 3)
    with pytest.raises(ValueError, match="half_size"):
        estimator(image, half_size="yes")


@needs_zidane
def test_the_library_estimator_takes_half_size_for_any_source():
    import posekit

    image = cv2.resize(cv2.imread(str(IMAGES / "zidane.jpg")), (640, 360))
    estimator = posekit.PoseEstimator()
    assert estimator(image, half_size=True).network_image.shape == (180, 320, 3)
    results = list(estimator([image, image], half_size=True))
    assert [r.network_image.shape for r in results] == [(180, 320, 3)] * 2
    with pytest.raises(ValueError, match="half_size"):
        estimator(image, half_size=1)
