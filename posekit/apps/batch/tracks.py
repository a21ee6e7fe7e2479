"""Tracking in a batch run: each video's frames put back in order and through one tracker.

Ray Data returns the network's rows in whatever order its actors finish
them (a video's chunks of frames may run on different actors, or different
machines), but tracking is sequential: a frame's ids depend on every earlier
frame of its video. So tracking runs here, in the driver, as the rows arrive:
:class:`FrameOrder` holds a video's rows that came early until the frames
before them have come, then feeds them, in frame order, to that video's own
:class:`posekit.video.tracking.PoseTracker` and rewrites their OpenPose JSON with
``person_id`` set to the track ids, each fragment of a tracked person joined to it
(the demo's JSON, byte for byte). The
result does not depend on how many actors or machines ran, nor on their speed.

What waits is each frame's keypoints and JSON (a few kB), never pixels, and
only while an earlier frame of the same video is still in flight, so the
buffer is bounded by the frames in flight (Ray Data's queues, bounded by the
object store). Tracking costs the driver about 0.6 ms per frame with 10
people (docs/records/tracking.md), far below what one network actor delivers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterator, Optional

import numpy as np

from posekit.lab.config import NUM_PARTS
from posekit.video.tracking import PoseTracker, TrackerParams

from posekit.io import images as imageio
from posekit.video.stream import openpose_with_ids


@dataclass
class Row:
    """One result row of the network stage (:class:`posekit.apps.batch.ray_stages.PoseActor`).

    Attributes:
        item: the item's index in the run.
        frame: the frame's index (-1: the item's end row).
        time: the frame's time in seconds on the video's clock (-1: an image or an end row).
        total: the item's frame count (end rows; else -1).
        error: "" unless this frame or item failed.
        payload: the frame's OpenPose JSON bytes.
        keypoints: (K, 18, 3) float64 bytes of its people.
        people: K.
        node: the Ray node that ran the network.
    """

    item: int
    frame: int
    time: float
    total: int
    error: str
    payload: bytes
    keypoints: bytes
    people: int
    node: str = ""


class FrameOrder:
    """Puts each video's rows back in frame order and gives its people track ids.

    Args:
        track: give video frames track ids (False: rows pass through as they come,
            ``person_id`` -1, the demo's ``--no-track``).
        params: the tracker's settings (one tracker per video).
    """

    def __init__(self, track: bool = True, params: TrackerParams = TrackerParams()) -> None:
        self.track = track
        self.params = params
        self._waiting: Dict[int, Dict[int, Row]] = {}
        self._next: Dict[int, int] = {}
        self._trackers: Dict[int, PoseTracker] = {}
        self._totals: Dict[int, int] = {}
        self.peak = 0           # most rows that ever waited at once (reported in the manifest)

    @property
    def open_videos(self) -> int:
        """Videos with a tracker or waiting rows (dropped once all their frames went through)."""
        return len(set(self._waiting) | set(self._trackers) | set(self._next))

    @property
    def waiting(self) -> int:
        """Rows held until an earlier frame of their video comes."""
        return sum(len(rows) for rows in self._waiting.values())

    def push(self, row: Row) -> Iterator[Row]:
        """Take one row; yield the rows now ready, each video's frames in order.

        Images, end rows and (without tracking) every row come back at once.
        """
        if not self.track or row.frame < 0 or row.time < 0:
            if row.frame < 0:
                self._totals[row.item] = row.total
                self._forget_if_done(row.item)
            yield row
            return
        waiting = self._waiting.setdefault(row.item, {})
        waiting[row.frame] = row
        self.peak = max(self.peak, self.waiting)
        expected = self._next.get(row.item, 0)
        while expected in waiting:
            yield self._tracked(waiting.pop(expected))
            expected += 1
        self._next[row.item] = expected
        self._forget_if_done(row.item)

    def _tracked(self, row: Row) -> Row:
        """``row`` with its people's track ids in its JSON (rows with an error unchanged)."""
        if row.error:
            return row
        tracker = self._trackers.get(row.item)
        if tracker is None:
            tracker = self._trackers[row.item] = PoseTracker(self.params)
        people = np.frombuffer(row.keypoints, np.float64).reshape(-1, NUM_PARTS, 3)
        try:
            # As the demo's PoseStream: a fragment of a tracked person is joined to it.
            people, ids, _ = tracker.update_people(people, row.time)
        except ValueError as exc:        # e.g. a video clock that does not increase
            row.error = f"frame {row.frame}: cannot track: {' '.join(str(exc).split())}"
            return row
        row.payload = imageio.json_bytes(openpose_with_ids(people, ids, row.time))
        row.keypoints, row.people = np.ascontiguousarray(people, np.float64).tobytes(), len(people)
        return row

    def _forget_if_done(self, item: int) -> None:
        """Drop an item's tracker once all its frames went through."""
        total: Optional[int] = self._totals.get(item)
        if total is not None and self._next.get(item, 0) >= total \
                and not self._waiting.get(item):
            for state in (self._waiting, self._next, self._trackers, self._totals):
                state.pop(item, None)
