"""Tests of posekit.video.smoothing: the One Euro filter pinned on hand-computed values."""

import math

import numpy as np
import pytest

from estimation.config import NUM_PARTS
from posekit.video.smoothing import OneEuroFilter, OneEuroParams, PoseSmoother, smoothing_factor


def test_smoothing_factor_by_hand():
    # 1 Hz, dt 0.1 s: 1 / (1 + 1 / (2 pi 0.1)) = 1 / (1 + 1.5915494) = 0.3858695
    assert smoothing_factor(1.0, 0.1) == pytest.approx(0.3858695, abs=1e-7)


def test_one_euro_without_beta_is_a_low_pass_filter_pinned_by_hand():
    """x: 0 at t=0, 10 at t=0.1 and t=0.2; alpha = 0.3858695 (above).

    t=0.1: 0.3858695 * 10 = 3.858695; t=0.2: 0.3858695 * 10 + 0.6141305 * 3.858695 = 6.228438.
    """
    filt = OneEuroFilter(OneEuroParams(min_cutoff=1.0, beta=0.0), size=1)
    seen = np.array([True])
    assert filt.filter(np.array([[0.0, 0.0]]), seen, 0.0)[0, 0] == 0.0
    ten = np.array([[10.0, 0.0]])
    assert filt.filter(ten, seen, 0.1)[0, 0] == pytest.approx(3.858695, abs=1e-6)
    assert filt.filter(ten, seen, 0.2)[0, 0] == pytest.approx(6.228438, abs=1e-6)


def test_one_euro_speed_raises_the_cutoff_pinned_by_hand():
    """beta 0.1: step 10 px in 0.1 s -> raw speed 100 px/s, filtered 0.3858695 * 100 = 38.58695;
    cutoff 1 + 0.1 * 38.58695 = 4.858695 Hz; alpha = 1 / (1 + 1 / (2 pi 4.858695 0.1))
    = 1 / (1 + 0.327567) = 0.7532575; output 7.532575 (x and y share the cutoff: the step is
    diagonal 6, 8 here, length 10)."""
    filt = OneEuroFilter(OneEuroParams(min_cutoff=1.0, beta=0.1), size=1)
    seen = np.array([True])
    filt.filter(np.array([[0.0, 0.0]]), seen, 0.0)
    out = filt.filter(np.array([[6.0, 8.0]]), seen, 0.1)
    assert out[0] == pytest.approx([0.7532575 * 6, 0.7532575 * 8], abs=1e-6)


def test_missing_point_passes_through_and_restarts():
    filt = OneEuroFilter(OneEuroParams(beta=0.0), size=2)
    filt.filter(np.array([[0.0, 0.0], [5.0, 5.0]]), np.array([True, True]), 0.0)
    out = filt.filter(np.array([[10.0, 0.0], [0.0, 0.0]]), np.array([True, False]), 0.1)
    assert out[1].tolist() == [0.0, 0.0]
    # back after a miss: no state, the raw value (no pull towards the old 5, 5)
    out = filt.filter(np.array([[10.0, 0.0], [50.0, 50.0]]), np.array([True, True]), 0.2)
    assert out[1].tolist() == [50.0, 50.0]


def test_pose_smoother_is_per_track_and_keeps_scores():
    smoother = PoseSmoother(OneEuroParams(min_cutoff=1.0, beta=0.0))
    a = np.zeros((1, NUM_PARTS, 3))
    a[0, :, 2] = 0.7
    b = a.copy()
    b[0, :, :2] = 100.0
    smoother.update(np.concatenate([a, b]), [3, 8], 0.0)
    moved = np.concatenate([b, a])  # ids swapped with the positions: nothing moved
    out = smoother.update(moved, [8, 3], 0.1)
    assert np.array_equal(out, moved)
    a2 = a.copy()
    a2[0, :, 0] = 10.0
    out = smoother.update(a2, [3], 0.2)
    assert out[0, :, 0] == pytest.approx(np.full(NUM_PARTS, 3.858695), abs=1e-6)
    assert (out[..., 2] == 0.7).all()


def test_pose_smoother_forgets_after_a_long_gap():
    smoother = PoseSmoother(OneEuroParams(beta=0.0, forget_after=0.5))
    p = np.zeros((1, NUM_PARTS, 3))
    p[0, :, 2] = 1.0
    smoother.update(p, [0], 0.0)
    q = p.copy()
    q[0, :, :2] = 40.0
    assert np.array_equal(smoother.update(q, [0], 0.6), q)  # a fresh filter: raw values


@pytest.mark.parametrize("kwargs, match", [
    (dict(ids=[1, 1]), "distinct"), (dict(ids=[1]), "ids"), (dict(time=math.inf), "time")])
def test_pose_smoother_bad_arguments(kwargs, match):
    args = dict(keypoints=np.zeros((2, NUM_PARTS, 3)), ids=[0, 1], time=0.0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        PoseSmoother().update(**args)


def test_time_must_increase():
    filt = OneEuroFilter(size=1)
    filt.filter(np.zeros((1, 2)), np.array([True]), 1.0)
    with pytest.raises(ValueError, match="time"):
        filt.filter(np.zeros((1, 2)), np.array([True]), 1.0)


@pytest.mark.parametrize("field, value", [
    ("min_cutoff", 0.0), ("beta", -1.0), ("d_cutoff", math.nan), ("forget_after", -1.0)])
def test_params_out_of_range(field, value):
    with pytest.raises(ValueError, match=field):
        OneEuroParams(**{field: value})
