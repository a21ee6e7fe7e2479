"""The tracking benchmark's scoring, on hand-made numbers (the benchmark itself needs the
network and is run by hand: python -m benchmarks.bench_tracking)."""

import numpy as np
import pytest

from benchmarks.bench_tracking import jitter, lag_frames, match_truth, switches, track, walkers


def person(x, y):
    p = np.zeros((18, 3))
    p[:2] = [(x, y, 1), (x, y + 10, 1)]
    return p


def test_jitter_is_the_mean_step_of_the_same_id():
    outs = [np.stack([person(0, 0)]), np.stack([person(3, 4)]), np.stack([person(3, 4)])]
    ids = [np.array([5]), np.array([5]), np.array([6])]  # the last step changes id: not counted
    assert jitter(outs, ids) == pytest.approx(5.0)  # both keypoints moved (3, 4): 5 px


def test_lag_in_frames_over_the_second_half():
    raw = [np.stack([person(10 * f, 0)]) for f in range(4)]
    smoothed = [np.stack([person(10 * f - 15, 0)]) for f in range(4)]
    assert lag_frames(raw, smoothed, None, 10.0) == pytest.approx(1.5)


def test_truth_is_matched_one_to_one_and_switches_counted():
    people = np.stack([person(0, 0), person(4, 0)])
    truth = np.array([[3.0, 5.0], [1.0, 5.0]])  # both nearer the second detection
    assert match_truth(people, truth, np.array([10.0, 10.0])) == [1, 0]
    assert match_truth(people, truth, np.array([1.5, 1.5])) == [1, 0]
    assert match_truth(people, truth, np.array([0.5, 0.5])) == [-1, -1]
    detections = [people, people[::-1]]
    ids = [np.array([0, 1]), np.array([0, 1])]  # the ids did not follow the swap
    count, per_person = switches(detections, ids, [truth, truth], np.array([10.0, 10.0]))
    assert count == 2 and per_person == [[1, 0], [0, 1]]


def test_walkers_keep_their_ids():
    ids, _, _ = track(walkers(n_people=5, frames=40), 30.0, None)
    first = sorted(ids[0].tolist())
    assert all(sorted(i.tolist()) == first for i in ids)
