"""The live benchmarks' helpers on hand-made numbers (the benchmarks themselves need the network
and are run by hand: python -m benchmarks.bench_live, python -m benchmarks.bench_smoothing)."""

import os

import cv2
import numpy as np
import pytest

from benchmarks.bench_live import cpu_name, cpu_seconds, rss_mb
from benchmarks.bench_smoothing import error, live_indices, step_jitter, truth
from benchmarks.bench_tracking import _affine
from benchmarks.loopback import make_clip


def person(x, y):
    p = np.zeros((18, 3))
    p[:3] = [(x, y, 1), (x, y + 10, 1), (x + 5, y + 20, 1)]
    return p


def test_a_live_consumer_takes_every_few_frames_newest_first():
    assert live_indices(10, 2.5) == [0, 2, 5, 8]       # round(2.5 k)
    assert live_indices(4, 1.0) == [0, 1, 2, 3]


def test_truth_averages_the_noise_out_along_the_known_motion():
    rng = np.random.default_rng(0)
    ms = [_affine(dx=3.0 * f)[None] for f in range(20)]
    detections = []
    for f in range(20):
        p = person(100 + 3.0 * f, 50)
        p[:, :2] += rng.normal(0, 1, (18, 2)) * p[:, 2:]
        detections.append(p[None])
    truths = truth(detections, ms, detections[0])
    assert truths[10][0, :3, :2] == pytest.approx(person(130, 50)[:3, :2], abs=0.6)
    assert truths[10][0, 3:, 2].sum() == 0                 # never seen: not known
    assert error([t[:, :, :] for t in truths], truths) == pytest.approx(0.0)


def test_step_jitter_ignores_a_steady_lag_and_counts_shaking():
    ms_truth = [np.stack([person(10.0 * f, 0)]) for f in range(12)]
    truths = [t.copy() for t in ms_truth]
    lagging = [np.stack([person(10.0 * f - 7, 0)]) for f in range(12)]
    assert step_jitter(lagging, truths) == pytest.approx(0.0)
    shaking = [np.stack([person(10.0 * f + (2 if f % 2 else -2), 0)]) for f in range(12)]
    assert step_jitter(shaking, truths) == pytest.approx(4.0)


def test_process_figures_of_this_process():
    assert rss_mb(os.getpid()) > 1 and cpu_seconds(os.getpid()) > 0
    assert rss_mb(2 ** 22 + 7) == 0.0                      # no such process
    assert cpu_name().endswith(")") and f"x {os.cpu_count()}" in cpu_name()


def test_the_loopback_clip_pans_there_and_back(tmp_path):
    clip = make_clip(tmp_path / "c.mkv", frames=6, step=10)
    cap = cv2.VideoCapture(str(clip))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    assert len(frames) == 6 and frames[0].shape == (360, 640, 3)
    assert np.array_equal(frames[1], frames[5])          # shift 10 px, and 10 px on the way back
    assert np.array_equal(frames[1], np.roll(frames[0], 10, axis=1))   # FFV1 is lossless
