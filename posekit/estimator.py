"""The library's front, posekit.PoseEstimator: taking what users have (paths, PIL images, lists,
folders, videos, cameras and network streams, iterators of frames) and tracking people across
frames.

::

    from posekit import PoseEstimator
    estimator = PoseEstimator()
    result = estimator("images/bus.jpg")           # one image: one PoseResult
    result = estimator("images/bus.jpg", conf=0.5) # people of confidence >= 0.5 only
    for result in estimator("clip.mp4"):          # a video: an iterator, frame by frame
        print(result.frame, len(result.people))
    for result in estimator.track("clip.mp4"):    # people with their track_id
        print([person.track_id for person in result.people])
    for result in estimator.track(0):             # a camera (or "rtsp://...", "/dev/video0")
        print(result.frame, len(result.people))   # newest frame first: frame numbers skip

The arrays themselves go to :class:`posekit.pipeline.PoseEstimator` (the core, which this
class extends); files are read by :func:`posekit.io.images.read_image` and
:class:`posekit.video.reader.VideoReader`, a folder's files are those of
:func:`posekit.io.sources.folder_files`, tracking is :class:`posekit.video.stream.PoseStream`'s.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from pathlib import Path
from typing import Any, Iterable, Iterator, List, Optional, Tuple, Union

import numpy as np

from posekit.io.images import is_image_name, read_image
from posekit.io.sources import VIDEO_EXTENSIONS, folder_files
from posekit.pipeline import PoseEstimator as CoreEstimator
from posekit.results import PoseResult, check_color
from posekit.video.adaptive import FrameSizer
from posekit.video.live import LiveReader
from posekit.video.reader import VideoReader
from posekit.video.sources import live_source
from posekit.video.stream import PoseStream, check_fps
from posekit.video.tracking import TrackerParams

logger = logging.getLogger(__name__)

#: What :meth:`PoseEstimator.__call__` takes (a PIL image too, when Pillow is installed).
Source = Union[str, "os.PathLike[str]", np.ndarray, Any, List[Any], Iterator[Any]]
#: One image to estimate: ``(image, color, path, frame, seconds)`` (None where unknown).
Item = Tuple[np.ndarray, str, Optional[str], Optional[int], Optional[float]]
#: Kinds that give one result; the others give an iterator.
SINGLE = ("array", "pil", "image")
WANTED = ("a path (str or pathlib.Path) of an image, a video or a folder, a (H, W, 3) uint8 "
          "array, a PIL image, a list or iterator of those, or a camera index or stream URL")


def _is_pil(value: object) -> bool:
    """Whether ``value`` is a PIL image (without importing Pillow: only if already imported)."""
    module = sys.modules.get("PIL.Image")
    return module is not None and isinstance(value, module.Image)


def _pil_rgb(image: Any) -> np.ndarray:
    """(H, W, 3) uint8 RGB pixels of a PIL image (any mode; alpha dropped)."""
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def classify(source: object, name: str = "source", nested: bool = True) -> Tuple[str, Any]:
    """What ``source`` is, checked before any pixel is read.

    Args:
        source: see :data:`Source`.
        name: the argument's name in messages (``"source[2]"`` inside a list).
        nested: whether a list or iterator is allowed here (not inside a list).

    Returns:
        ``(kind, value)``: ``("array", ndarray)``, ``("pil", image)``, ``("image", Path)``,
        ``("video", Path)``, ``("folder", Path)``, ``("list", [(kind, value), ...])``,
        ``("stream", iterator)`` or ``("live", LiveSource)`` (a camera index, ``/dev/videoN``
        or a stream URL: :func:`posekit.video.sources.live_source`).

    Raises:
        ValueError: naming ``name``: an array not (H, W, 3) uint8, a missing path, a file
            that is neither an image nor a video by its extension, a list inside a list,
            a live source inside a list, a negative camera index, a URL without a host,
            or any other type.
    """
    if isinstance(source, np.ndarray):
        if source.ndim != 3 or source.shape[2] != 3 or source.dtype != np.uint8:
            raise ValueError(f"{name} must be a (H, W, 3) uint8 array, got shape "
                             f"{source.shape} of {source.dtype}")
        return "array", source
    if _is_pil(source):
        return "pil", source
    live = live_source(source, name)
    if live is not None:
        if not nested:
            raise ValueError(f"{name}: a camera or stream ({live.label}) cannot be one item "
                             "of many; pass it alone")
        return "live", live
    if isinstance(source, (str, os.PathLike)) and not isinstance(source, bytes):
        path = Path(os.fspath(source))
        if path.is_dir():
            return "folder", path
        if not path.is_file():
            raise ValueError(f"{name}: no such file or folder: {os.fspath(source)}")
        if is_image_name(path):
            return "image", path
        if path.suffix.lower() in VIDEO_EXTENSIONS:
            return "video", path
        raise ValueError(f"{name}: {os.fspath(source)} is neither an image nor a video file "
                         "by its extension")
    if nested and isinstance(source, (list, tuple)):
        return "list", [classify(item, f"{name}[{k}]", False) for k, item in enumerate(source)]
    if nested and isinstance(source, Iterator):
        return "stream", source
    raise ValueError(f"{name} must be {WANTED}, got {type(source).__name__}")


def _read(kind: str, value: Any, color: str, name: str, many: bool) -> Iterator[Item]:
    """The images of one classified source, lazily (a video frame by frame). With ``many``
    (an element of a list, folder or stream) a file that cannot be read is skipped with one
    warning line and the rest goes on; alone, it raises."""
    if kind == "array":
        yield value, color, None, None, None
    elif kind == "pil":
        yield _pil_rgb(value), "rgb", None, None, None
    elif kind == "image":
        try:
            image = read_image(value)
        except (OSError, ValueError) as exc:
            if not many:
                raise ValueError(f"{name}: {exc}") from None
            logger.warning("skipped %s: %s", value, exc)
            return
        yield image, "bgr", str(value), None, None
    elif kind == "video":
        try:
            reader = value if isinstance(value, VideoReader) else VideoReader(value)
        except (OSError, ValueError) as exc:
            if not many:
                raise ValueError(f"{name}: {exc}") from None
            logger.warning("skipped %s: %s", value, exc)
            return
        with reader:
            count = 0
            for count, (seconds, frame) in enumerate(reader.timed(), 1):
                yield frame, "bgr", str(reader.path), count - 1, seconds
            try:
                reader.check_complete(count)
            except ValueError as exc:
                logger.warning("%s", exc)
    elif kind == "live":                                   # opened by _items
        with value:
            first: Optional[float] = None
            for frame in value:
                first = frame.clock if first is None else first
                yield frame.image, "bgr", value.source.label, frame.index, frame.clock - first
    elif kind == "folder":
        for path, file_kind in folder_files(value):
            yield from _read(file_kind, path, color, name, True)
    elif kind == "list":
        for k, (item_kind, item) in enumerate(value):
            yield from _read(item_kind, item, color, f"{name}[{k}]", True)
    else:                                                  # a stream: checked as it comes
        for k, item in enumerate(value):
            item_kind, item = classify(item, f"{name}[{k}]", False)
            yield from _read(item_kind, item, color, f"{name}[{k}]", True)


class PoseEstimator(CoreEstimator):
    """:class:`posekit.pipeline.PoseEstimator` taking paths, PIL images, lists, folders,
    videos and streams of frames, with :meth:`track`. Its settings are the core's."""

    def __call__(self, source: Source, color: str = "bgr", conf: Optional[float] = None,
                 kpt_conf: Optional[float] = None, *, half_size: bool = False
                 ) -> Union[PoseResult, Iterator[PoseResult]]:
        """Find the people in one image, or in each image of many.

        Args:
            source: one image, giving **one** :class:`~posekit.results.PoseResult`:
                a (H, W, 3) uint8 array (channels in ``color`` order), a PIL image
                (any mode; only when Pillow is installed: it is not a dependency) or
                an image file's path (str or ``pathlib.Path``, by its extension).
                Many images, giving an **iterator** of results in order: a video
                file's path (frame by frame: never decoded whole), a folder's path
                (its images and videos, recursive, sorted, hidden files skipped),
                a list or tuple of single images or videos, an iterator of them
                (a stream, read as it is consumed), or a live source: a camera index
                (``0``), ``"/dev/video0"`` or a stream URL (``"rtsp://..."``,
                ``"http://..."``, ``"udp://..."``...), read newest frame first (frames
                that arrive while the network is busy are dropped: ``frame`` numbers
                skip), endless until the iterator is closed or the stream stops and
                does not come back (:class:`posekit.video.live.LiveReader`).
            color: channel order of arrays: ``"bgr"`` (OpenCV's, the default) or
                ``"rgb"`` (Pillow's, matplotlib's). Files and PIL images are
                read in their own order.
            conf: people whose confidence (``Person.score``, in [0, 1]) is under
                it are left out; None: the estimator's ``conf``.
            kpt_conf: keypoints scored under it are hidden (zeros); None: the
                estimator's ``kpt_conf``.
            half_size: the network sees each image once, at half the size it would
                otherwise see (for people who are all large; see
                :meth:`posekit.pipeline.PoseEstimator.__call__`).

        Returns:
            A result, or an iterator of results. Each says where it came from:
            ``path`` (None for an array or a PIL image) and ``frame`` (the
            index in its video, None otherwise). Among many images a file that
            cannot be read is skipped with one warning line on the
            ``posekit.estimator`` logger; the others are still estimated.

        Raises:
            ValueError: at the call, before any image is estimated: a source of
                another type, an array not (H, W, 3) uint8, a missing path, a file
                that is neither an image nor a video by extension, an unreadable
                single image or video (each message names ``source``, or
                ``source[k]`` inside a list), a camera or stream that gives no frame
                within 10 s; an unknown ``color``; ``conf`` or ``kpt_conf`` not in
                [0, 1] (named); ``half_size`` not a bool; later, as the iterator is
                consumed, a stream element of those kinds.
        """
        thresholds = self.thresholds_of(conf, kpt_conf)
        if not isinstance(half_size, (bool, np.bool_)):
            raise ValueError(f"half_size must be a bool, got {half_size!r}")
        kind, items = self._items(source, color)
        results = self._estimate(items, thresholds, bool(half_size))
        return next(results) if kind in SINGLE else results

    def track(self, source: Source, color: str = "bgr", fps: Optional[float] = None,
              tracker: Optional[TrackerParams] = None, conf: Optional[float] = None,
              kpt_conf: Optional[float] = None, *, full_size: bool = False
              ) -> Iterator[PoseResult]:
        """Find and track the people through a video or a sequence of frames.

        Args:
            source: a video file's path, a folder, a list or an iterator of
                frames (anything :meth:`__call__` takes; one image is a
                one-frame sequence).
            color: channel order of arrays (see :meth:`__call__`).
            fps: frames per second giving the frames' times; None: a video's own
                timestamps, a live source's capture times (dropped frames leave
                gaps), 30 frames per second for other frames.
            tracker: the tracker's settings (None: the defaults).
            conf: people under this confidence are left out before tracking
                (None: the estimator's ``conf``).
            kpt_conf: keypoints scored under it are hidden (None: the estimator's).
            full_size: a live source's frames all run at full size. By default, as the
                demo's live runs, a live frame runs at half size while every person of
                the frame before was large, with a full frame at least every half second
                of capture time (:class:`posekit.video.adaptive.FrameSizer`); other
                sources always run at full size.

        Returns:
            An iterator of results, one per frame, lazily: each person's
            ``track_id`` is the same id for the same person across frames
            (``posekit.video.tracking.PoseTracker``); None for a person first
            seen after the first frame until seen ``tracker.confirm_frames``
            frames in a row (3).

        Raises:
            ValueError: as :meth:`__call__`; ``fps`` not a finite number > 0;
                ``tracker`` not a ``TrackerParams``; ``full_size`` not a bool.
        """
        thresholds = self.thresholds_of(conf, kpt_conf)
        if not isinstance(full_size, (bool, np.bool_)):
            raise ValueError(f"full_size must be a bool, got {full_size!r}")
        if tracker is not None and not isinstance(tracker, TrackerParams):
            raise ValueError(f"tracker must be a TrackerParams or None, got "
                             f"{type(tracker).__name__}")
        if fps is not None:
            fps = check_fps(fps)
        stream = PoseStream(self, track=True, tracker=tracker or TrackerParams())
        kind, items = self._items(source, color)
        sizer = FrameSizer() if kind == "live" and not full_size else None
        return self._tracked(stream, self._timed(items, thresholds, sizer=sizer), fps)

    @staticmethod
    def _items(source: Source, color: str) -> Tuple[str, Iterator[Item]]:
        """``(kind, images)`` of ``source``, checked at the call (a video opened now).

        Raises:
            ValueError: an unknown ``color``, or a ``source`` :meth:`__call__` refuses.
        """
        check_color(color)
        kind, value = classify(source)
        if kind == "video":
            try:
                value = VideoReader(value)
            except (OSError, ValueError) as exc:
                raise ValueError(f"source: {exc}") from None
        elif kind == "live":
            try:
                value = LiveReader(value)
            except OSError as exc:
                raise ValueError(f"source: {exc}") from None
        return kind, _read(kind, value, color, "source", False)

    def _estimate(self, items: Iterable[Item], thresholds: Tuple[float, float],
                  half_size: bool = False) -> Iterator[PoseResult]:
        return (result for result, _ in self._timed(items, thresholds, half_size))

    def _timed(self, items: Iterable[Item], thresholds: Tuple[float, float],
               half_size: bool = False, sizer: Optional[FrameSizer] = None
               ) -> Iterator[Tuple[PoseResult, Optional[float]]]:
        """``(result, seconds)`` per image, the result saying its path and frame; people
        and keypoints filtered by ``thresholds`` (``conf``, ``kpt_conf``); each image at
        half size with ``half_size``, or where ``sizer`` says so (images with a capture
        time)."""
        for image, color, path, frame, seconds in items:
            adapt = sizer is not None and seconds is not None
            half = half_size or (adapt and sizer.half(seconds))
            result = CoreEstimator.__call__(self, image, color, *thresholds, half_size=half)
            if adapt:
                sizer.update(result.keypoints, result.image.shape[0], seconds, half)
            yield dataclasses.replace(result, path=path, frame=frame), seconds

    @staticmethod
    def _tracked(stream: PoseStream, timed: Iterator[Tuple[PoseResult, Optional[float]]],
                 fps: Optional[float]) -> Iterator[PoseResult]:
        """Tracked results: times from ``fps`` when given, else the video's own (increasing)
        or 1/30 s after the previous frame's."""
        last: Optional[float] = None
        for index, (result, seconds) in enumerate(timed):
            if fps is not None:
                seconds = index / fps
            elif seconds is None or (last is not None and seconds <= last):
                seconds = 0.0 if last is None else last + 1.0 / 30.0
            last = seconds
            tracked = stream.follow(result, seconds)
            yield dataclasses.replace(tracked.result, people=tuple(tracked.people))
