"""Poses over a stream of frames: estimate, track (one id per person), optionally smooth.

::

    from posekit.video.stream import PoseStream
    for tracked in PoseStream()(frames, fps=30.0):        # frames: any iterable of images
        print(tracked.time, tracked.ids, tracked.keypoints.shape)

Each frame's people get the ids of :class:`posekit.video.tracking.PoseTracker`
and, with ``smooth``, keypoints filtered by :class:`posekit.video.smoothing.PoseSmoother`.
Helpers put the ids and times into the per-frame outputs (OpenPose JSON, COCO
results) and draw the people with their ids.
"""

from __future__ import annotations

import dataclasses

import math
from dataclasses import dataclass
from typing import Iterable, Iterator, List, Optional, Tuple, Union

import numpy as np

from posekit.lab.config import PoseConfig
from posekit.io.export import to_coco, to_openpose
from posekit.io.drawing import draw_poses
from posekit.video.smoothing import OneEuroParams, PoseSmoother
from posekit.video.tracking import PoseTracker, TrackerParams

from posekit.pipeline import PoseEstimator
from posekit.results import Person, PoseResult


@dataclass(frozen=True)
class TrackedFrame:
    """One frame's people with their ids.

    Attributes:
        index: the frame's index in the stream.
        time: its time, seconds.
        ids: (K,) int64 track ids (without tracking: 0..K-1, the index in the frame);
            -1 for a person on a track not confirmed yet (``TrackerParams.confirm_frames``).
        keypoints: (K, 18, 3) ``x, y, score`` in pixels (smoothed with ``smooth``).
        result: the estimator's full result (maps, raw keypoints, timings); with
            tracking, without the fragments the tracker joined to their people
            (``posekit.video.tracking``), so its people align with ``ids``.
    """

    index: int
    time: float
    ids: np.ndarray
    keypoints: np.ndarray
    result: PoseResult

    def openpose(self) -> dict:
        """OpenPose JSON with ``person_id`` set to the track id and the frame's ``time``."""
        return openpose_with_ids(self.keypoints, self.ids, self.time)

    @property
    def people(self) -> List[Person]:
        """The frame's people, each with its ``track_id`` (None: no id yet; the keypoints as
        :attr:`keypoints`)."""
        return [Person.from_keypoints(np.clip(points, None, (np.inf, np.inf, 1.0)), person.score,
                                      int(track) if track >= 0 else None, person.raw_score)
                for points, person, track in zip(self.keypoints, self.result.people, self.ids)]

    def coco(self, image_id: int) -> List[dict]:
        """COCO results with ``track_id`` and ``time`` per person."""
        return coco_with_ids(self.keypoints, self.result.scores, image_id, self.ids, self.time)


def openpose_with_ids(keypoints: np.ndarray, ids: np.ndarray, time: float) -> dict:
    """OpenPose JSON of (K, 18, 3) ``keypoints`` with ``person_id`` = ``[id]`` and ``time``
    (``[-1]``, OpenPose's own "no id", for a person without one)."""
    out = to_openpose(keypoints)
    for person, track_id in zip(out["people"], np.asarray(ids).tolist()):
        person["person_id"] = [int(track_id)]
    out["time"] = round(float(time), 6)
    return out


def coco_with_ids(keypoints: np.ndarray, scores: np.ndarray, image_id: int, ids: np.ndarray,
                  time: float) -> List[dict]:
    """COCO results of (K, 18, 3) ``keypoints`` with ``track_id`` (-1: no id, as in the
    OpenPose JSON) and ``time`` per person."""
    out = to_coco(keypoints, scores, image_id)
    for person, track_id in zip(out, np.asarray(ids).tolist()):
        person["track_id"] = int(track_id)
        person["time"] = round(float(time), 6)
    return out


def draw_people(config: PoseConfig, image: np.ndarray, keypoints: np.ndarray,
                ids: Optional[np.ndarray] = None, scores: Optional[np.ndarray] = None,
                line_width: Optional[int] = None, labels: bool = True,
                kpt_conf: float = 0.0) -> np.ndarray:
    """People of (K, 18, 3) pixel ``keypoints`` drawn over a copy of ``image``: the still
    images' drawing (:func:`posekit.io.drawing.draw_poses`), with each person's id when
    ``ids`` is given and its score when ``scores`` is.

    Raises:
        ValueError: a bad image, keypoints or option (named).
    """
    return draw_poses(image, keypoints, scores, ids, config, line_width, labels, kpt_conf)


def check_fps(fps: object) -> float:
    """``fps`` as a float when it is a finite number > 0 (not a bool).

    Raises:
        ValueError: naming ``fps``.
    """
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.number)) \
            or not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a finite number > 0, got {fps!r}")
    return float(fps)


class PoseStream:
    """Estimator, tracker and smoother over one stream of frames (stateful).

    Args:
        estimator: a :class:`posekit.PoseEstimator` (default: a new one).
        track: give people track ids (False: ids are each person's index in the frame).
        smooth: One Euro settings to smooth the keypoints (needs ``track``); None: raw.
        tracker: the tracker's settings.

    Raises:
        ValueError: ``smooth`` without ``track``.
    """

    def __init__(self, estimator: Optional[PoseEstimator] = None, track: bool = True,
                 smooth: Optional[OneEuroParams] = None,
                 tracker: TrackerParams = TrackerParams()) -> None:
        if smooth is not None and not track:
            raise ValueError("smooth needs track=True (the filters follow track ids)")
        self.estimator = estimator or PoseEstimator()
        self.tracker = PoseTracker(tracker) if track else None
        self.smoother = PoseSmoother(smooth) if smooth is not None else None
        self._index = 0

    def process(self, image: np.ndarray, time: float) -> TrackedFrame:
        """Estimate, track and smooth one frame.

        Args:
            image: (H, W, 3) uint8 BGR.
            time: the frame's time in seconds, increasing along the stream.

        Raises:
            ValueError: a bad image, or a time not after the previous frame's.
        """
        result = self.estimator(image)
        return self.follow(result, time)

    def follow(self, result: PoseResult, time: float) -> TrackedFrame:
        """Track and smooth the people of an already estimated frame."""
        people = result.keypoints
        if self.tracker is not None:
            people, ids, kept = self.tracker.update_people(people, time)
            if len(kept) < len(result.people):     # fragments joined to their people
                result = dataclasses.replace(
                    result, people=tuple(result.people[k] for k in kept.tolist()),
                    skeletons=result.skeletons[kept])
        else:
            ids = np.arange(len(people), dtype=np.int64)
        if self.smoother is not None:
            people = self.smoother.update(people, ids, time)
        frame = TrackedFrame(self._index, float(time), ids, people, result)
        self._index += 1
        return frame

    def __call__(self, frames: Iterable[Union[np.ndarray, Tuple[float, np.ndarray]]],
                 fps: float = 30.0) -> Iterator[TrackedFrame]:
        """Process a stream: images (timed ``index / fps``) or ``(time, image)`` pairs.

        Args:
            frames: (H, W, 3) uint8 BGR images, or ``(seconds, image)`` pairs.
            fps: frames per second of plain images (> 0, finite).

        Raises:
            ValueError: ``fps`` is not a finite number > 0 (at the call, before any frame).
        """
        return self._frames(frames, check_fps(fps))

    def _frames(self, frames: Iterable[Union[np.ndarray, Tuple[float, np.ndarray]]],
                fps: float) -> Iterator[TrackedFrame]:
        for index, item in enumerate(frames):
            time, image = item if isinstance(item, tuple) else (index / fps, item)
            yield self.process(image, time)
