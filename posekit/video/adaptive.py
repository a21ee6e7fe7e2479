"""Live frames at half size while every person in view is large: the frame-size schedule.

A live source cannot wait: whatever the network is still busy with when a frame
arrives makes that frame dropped. When every person in view is large (the
webcam and fitness case: one or two people filling the frame), the half-size
pass alone sees them better than the full-size pass does (close-up set,
``docs/records/live.md``) at about a seventh of the scale-aware frame's work
(the full-size pass plus the half-size one, ``posekit.decode.scales``).
:class:`FrameSizer` therefore runs the network on the frame at half size while
the last frame's people were all large, and the full scale-aware frame at least
every :attr:`HalfSizeParams.full_every` seconds of capture time, so that people
who walk in (small or far) are found within that time; as soon as a frame shows
nobody, or anybody who is not large, the next frame is a full one.

::

    sizer = FrameSizer()
    for seconds, frame in frames:
        half = sizer.half(seconds)
        result = estimator(frame, half_size=half)     # posekit.pipeline.PoseEstimator
        sizer.update(result.keypoints, frame.shape[0], seconds, half)

Holds two numbers and a flag; no frames, no global state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass(frozen=True)
class HalfSizeParams:
    """Settings of :class:`FrameSizer`, validated at construction.

    Raises:
        ValueError: naming the field out of range.
    """

    # A person is large when the box of its keypoints is at least this share of the frame's
    # height; chosen on the close-up set (docs/records/live.md): 0.5 keeps its AP within 0.01
    # of the scale-aware frames'.
    min_height: float = 0.5
    # Longest capture time between two full (scale-aware) frames while half-size ones run,
    # seconds: a person who walks in is found within it (a few frames at live rates).
    full_every: float = 0.5
    # Least keypoints of a person for its height to count (fewer: a fragment, which makes
    # the next frame a full one).
    min_parts: int = 4

    def __post_init__(self) -> None:
        if not (isinstance(self.min_height, (int, float)) and 0.0 < self.min_height <= 1.0):
            raise ValueError(f"min_height must be in (0, 1], got {self.min_height!r}")
        if not (isinstance(self.full_every, (int, float)) and math.isfinite(self.full_every)
                and self.full_every >= 0.0):
            raise ValueError(f"full_every must be a finite number >= 0, got "
                             f"{self.full_every!r}")
        if isinstance(self.min_parts, bool) or not isinstance(self.min_parts, int) \
                or not 1 <= self.min_parts <= 18:
            raise ValueError(f"min_parts must be an integer in [1, 18], got {self.min_parts!r}")


def all_large(keypoints: np.ndarray, height: int, params: HalfSizeParams) -> bool:
    """Whether ``keypoints`` hold at least one person and every one of them is large.

    Args:
        keypoints: (K, 18, 3) ``x, y, score`` in pixels; a keypoint with score 0 is absent.
        height: the frame's height in pixels (> 0).
        params: the thresholds.

    Returns:
        True when K >= 1 and each person has at least ``params.min_parts`` keypoints
        spanning at least ``params.min_height * height`` pixels from top to bottom.

    Raises:
        ValueError: ``keypoints`` not (K, 18, 3), or ``height`` not a positive integer.
    """
    points = np.asarray(keypoints, dtype=np.float64)
    if points.ndim != 3 or points.shape[1:] != (18, 3):
        raise ValueError(f"keypoints must be (K, 18, 3), got shape {points.shape}")
    if isinstance(height, bool) or not isinstance(height, (int, np.integer)) or height <= 0:
        raise ValueError(f"height must be a positive integer, got {height!r}")
    if not len(points):
        return False
    seen = points[..., 2] > 0
    if (seen.sum(axis=1) < params.min_parts).any():
        return False
    top = np.where(seen, points[..., 1], np.inf).min(axis=1)
    bottom = np.where(seen, points[..., 1], -np.inf).max(axis=1)
    return bool(((bottom - top) >= params.min_height * height).all())


class FrameSizer:
    """Which frames of a live stream run at half size (see the module's docstring)."""

    def __init__(self, params: HalfSizeParams = HalfSizeParams()) -> None:
        if not isinstance(params, HalfSizeParams):
            raise ValueError(f"params must be a HalfSizeParams, got {type(params).__name__}")
        self.params = params
        self._last_full: Optional[float] = None
        self._large = False
        #: Frames run at half size and at full size so far.
        self.half_frames = 0
        self.full_frames = 0

    def half(self, seconds: float) -> bool:
        """Whether the frame captured at ``seconds`` runs at half size: the last frame's
        people were all large and the last full frame is less than ``full_every`` old."""
        return (self._large and self._last_full is not None
                and seconds - self._last_full < self.params.full_every)

    def update(self, keypoints: np.ndarray, height: int, seconds: float, half: bool) -> None:
        """Count the frame captured at ``seconds`` (run at half size when ``half``) and
        remember whether its people (``keypoints``: (K, 18, 3) pixels) were all large.

        Raises:
            ValueError: bad ``keypoints`` or ``height`` (:func:`all_large`).
        """
        self._large = all_large(keypoints, height, self.params)
        if half:
            self.half_frames += 1
        else:
            self.full_frames += 1
            self._last_full = float(seconds)
