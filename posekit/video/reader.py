"""Reading video files: frames as 8-bit BGR, their size checked first, with their timestamps."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Tuple, Union

import cv2
import numpy as np

from posekit.io.headers import MAX_IMAGE_PIXELS, check_readable_file
from posekit.io.pixels import to_bgr8

PathLike = Union[str, "os.PathLike[str]"]

#: Frames per second assumed when a video does not report a usable rate.
DEFAULT_FPS = 25.0
#: A video is reported truncated when it yields fewer frames than this share of
#: the count its header announces (headers may be off by a frame or two).
MIN_FRAME_SHARE = 0.95


@dataclass
class VideoInfo:
    """What a video reports about itself (``frame_count`` is None when unknown)."""

    width: int
    height: int
    fps: float
    frame_count: Optional[int]


class VideoReader:
    """Frames of a video as 8-bit BGR images; the first frame is read on opening.

    :meth:`check_complete`, given the number of frames read to the end, says whether
    the video ended early.

    Raises (on construction):
        FileNotFoundError / PermissionError / ValueError: missing, unreadable
            or empty file; a file OpenCV cannot open as a video; a video
            without frames; frames over ``MAX_IMAGE_PIXELS`` (by the size the
            video reports, before a frame is decoded).
    """

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        check_readable_file(self.path)
        cap = cv2.VideoCapture(os.fspath(self.path))
        if not cap.isOpened():
            raise ValueError(f"cannot open {self.path}: not an image or a video OpenCV can read")
        reported = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        if reported[0] * reported[1] > MAX_IMAGE_PIXELS:        # before a frame is allocated
            cap.release()
            raise ValueError(f"video {self.path} is too large: {reported[0]}x{reported[1]} "
                             f"frames exceed {MAX_IMAGE_PIXELS:,} pixels")
        ok, frame = cap.read()
        if not ok or frame is None:
            cap.release()
            raise ValueError(f"video {self.path} has no frames (empty or corrupt)")
        if frame.shape[0] * frame.shape[1] > MAX_IMAGE_PIXELS:
            cap.release()
            raise ValueError(f"video {self.path} is too large: {frame.shape[1]}x{frame.shape[0]} "
                             f"frames exceed {MAX_IMAGE_PIXELS:,} pixels")
        self._cap = cap
        self._first: Optional[np.ndarray] = frame
        self._first_time = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        fps = cap.get(cv2.CAP_PROP_FPS)
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.info = VideoInfo(width=frame.shape[1], height=frame.shape[0],
                              fps=fps if math.isfinite(fps) and 0 < fps <= 1000 else DEFAULT_FPS,
                              frame_count=count if count > 0 else None)

    def __iter__(self) -> Iterator[np.ndarray]:
        """Yield the frames in order, as (H, W, 3) uint8 BGR, until the video ends."""
        while True:
            if self._first is not None:
                frame, self._first = self._first, None
            else:
                ok, frame = self._cap.read()
                if not ok or frame is None:
                    return
            yield to_bgr8(frame)

    def check_complete(self, frames: int) -> None:
        """Raise if the video ended early: ``frames`` (the frames read, to its end) is below
        :data:`MIN_FRAME_SHARE` of the frame count its header announced (nothing to check
        when the header gives none). The demo and the batch command both call it.

        Raises:
            ValueError: the video is truncated or corrupt (the message says how far it got).
        """
        count = self.info.frame_count
        if count and frames < MIN_FRAME_SHARE * count:
            raise ValueError(f"video {self.path} is truncated or corrupt: it ended after "
                             f"{frames} of its {count} frames")

    def timed(self) -> Iterator[Tuple[float, np.ndarray]]:
        """Yield ``(seconds, frame)`` in order: each frame's time on the video's own clock
        (its presentation time); where the container gives none that increases (by a
        microsecond at least), the previous time plus ``1 / fps``."""
        last: Optional[float] = None
        for frame in self:
            now = self._first_time if last is None else \
                self._cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if not math.isfinite(now) or (last is not None and now < last + 1e-6):
                now = (last if last is not None else 0.0) + 1.0 / self.info.fps
            last = now
            yield now, frame

    def close(self) -> None:
        """Release the capture."""
        self._cap.release()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
