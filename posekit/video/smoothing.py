"""Keypoint smoothing over time: a One Euro filter per keypoint of every tracked person.

The One Euro filter (Casiez, Roussel, Vogel, CHI 2012) is a low-pass filter
whose cutoff frequency rises with speed: ``cutoff = min_cutoff + beta * |speed|``,
so a still keypoint is smoothed hard (no jitter) and a moving one lightly (little
lag). Each step with time step ``dt`` (seconds)::

    alpha(fc) = 1 / (1 + 1 / (2 pi fc dt))
    speed     = alpha(d_cutoff) * (x - x_prev_filtered) / dt + (1 - alpha(d_cutoff)) * speed_prev
    x_filt    = alpha(min_cutoff + beta * |speed|) * x + (1 - alpha) * x_prev_filtered

Here ``x`` is a keypoint's 2-D position and ``|speed|`` its speed in pixels per
second (x and y share one cutoff). A keypoint that is missing (score 0) passes
through as missing and starts afresh when it comes back; a track not seen for
``forget_after`` seconds is forgotten.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Optional, Sequence

import numpy as np

from posekit.lab.config import NUM_PARTS
from posekit.video.tracking import check_keypoints


@dataclass(frozen=True)
class OneEuroParams:
    """The filter's settings, validated at construction.

    Raises:
        ValueError: naming the field out of range.
    """

    # Cutoff (Hz) of a still keypoint; measured on the benchmark clips
    # (benchmarks/bench_tracking.py): halves a still person's jitter at 30 frames/s.
    min_cutoff: float = 1.0
    # Cutoff increase per pixel/second of speed; measured with min_cutoff (pan lag <= 2 frames).
    beta: float = 0.05
    # Cutoff (Hz) of the speed estimate: the paper's value.
    d_cutoff: float = 1.0
    # Seconds without a person before its filter state is dropped (bounds memory).
    forget_after: float = 1.0

    def __post_init__(self) -> None:
        for name in ("min_cutoff", "d_cutoff", "forget_after"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value}")
        if not (math.isfinite(self.beta) and self.beta >= 0):
            raise ValueError(f"beta must be a finite number >= 0, got {self.beta}")


def smoothing_factor(cutoff: np.ndarray, dt: float) -> np.ndarray:
    """The exponential smoothing factor of a first-order low-pass filter.

    Args:
        cutoff: cutoff frequencies (Hz), any shape.
        dt: time step, seconds (> 0).

    Returns:
        ``1 / (1 + 1 / (2 pi cutoff dt))``, the shape of ``cutoff``.
    """
    return 1.0 / (1.0 + 1.0 / (2.0 * math.pi * np.asarray(cutoff, dtype=np.float64) * dt))


class OneEuroFilter:
    """One Euro filter of N points in 2-D (one person's keypoints), vectorised.

    ``filter(points, seen, t)`` returns the filtered points; a point not
    ``seen`` keeps no state and is returned as given.
    """

    def __init__(self, params: OneEuroParams = OneEuroParams(), size: int = NUM_PARTS) -> None:
        self.params = params
        self._x = np.zeros((size, 2))
        self._speed = np.zeros(size)
        self._has = np.zeros(size, dtype=bool)
        self.time: Optional[float] = None

    def filter(self, points: np.ndarray, seen: np.ndarray, time: float) -> np.ndarray:
        """Filter one frame.

        Args:
            points: (N, 2) positions, pixels.
            seen: (N,) bool, False for a missing point.
            time: seconds, after the previous call's.

        Returns:
            (N, 2) filtered positions (missing points unchanged).

        Raises:
            ValueError: if ``time`` is not after the previous call's.
        """
        points = np.asarray(points, dtype=np.float64)
        seen = np.asarray(seen, dtype=bool)
        if self.time is not None and not time > self.time:
            raise ValueError(f"time must increase: got {time} after {self.time}")
        p = self.params
        out = points.copy()
        old = seen & self._has
        if self.time is not None and old.any():
            dt = time - self.time
            step = points[old] - self._x[old]
            speed = np.hypot(step[:, 0], step[:, 1]) / dt
            a_d = smoothing_factor(p.d_cutoff, dt)
            speed = a_d * speed + (1.0 - a_d) * self._speed[old]
            a = smoothing_factor(p.min_cutoff + p.beta * speed, dt)[:, None]
            out[old] = a * points[old] + (1.0 - a) * self._x[old]
            self._speed[old] = speed
        new = seen & ~self._has
        self._speed[new] = 0.0
        self._x[seen] = out[seen]
        self._has = seen.copy()
        self.time = float(time)
        return out


class PoseSmoother:
    """One Euro filters for every tracked person, keyed by track id.

    Example::

        ids = tracker.update(people, t)
        people = smoother.update(people, ids, t)
    """

    def __init__(self, params: OneEuroParams = OneEuroParams()) -> None:
        if not isinstance(params, OneEuroParams):
            raise ValueError(f"params must be a OneEuroParams, got {type(params).__name__}")
        self.params = params
        self._filters: Dict[int, OneEuroFilter] = {}

    def update(self, keypoints: np.ndarray, ids: Sequence[int], time: float) -> np.ndarray:
        """Smoothed copy of one frame's people.

        Args:
            keypoints: (K, 18, 3) ``x, y, score``; score 0 marks a missing keypoint.
            ids: (K,) track ids (from :class:`posekit.video.tracking.PoseTracker`), distinct
                but for -1 (a person without an id yet: passed through unsmoothed).
            time: the frame's time, seconds, increasing.

        Returns:
            (K, 18, 3) float64: positions filtered, scores unchanged.

        Raises:
            ValueError: if the shapes disagree, an id repeats or ``time`` is not finite.
        """
        people = check_keypoints(keypoints)
        ids = [int(i) for i in np.asarray(ids).reshape(-1)]
        if len(ids) != len(people):
            raise ValueError(f"ids must have one id per person ({len(people)}), got {len(ids)}")
        known = [i for i in ids if i != -1]
        if len(set(known)) != len(known):
            raise ValueError("ids must be distinct within a frame")
        if not math.isfinite(time):
            raise ValueError(f"time must be finite, got {time}")
        out = people.copy()
        for k, track_id in enumerate(ids):
            if track_id == -1:
                continue
            filt = self._filters.get(track_id)
            stale = filt is not None and filt.time is not None \
                and time - filt.time > self.params.forget_after
            if filt is None or stale:
                filt = self._filters[track_id] = OneEuroFilter(self.params)
            out[k, :, :2] = filt.filter(people[k, :, :2], people[k, :, 2] > 0, time)
        for track_id in [i for i, f in self._filters.items()
                         if f.time is not None and time - f.time > self.params.forget_after]:
            del self._filters[track_id]
        return out
