"""Reading a live source newest frame first: a reader thread, dropped frames counted, reconnects.

::

    from posekit.video.live import LiveReader
    with LiveReader("rtsp://127.0.0.1:8554/cam") as reader:     # opened: first frame read
        for frame in reader:                                      # newest frame each time
            print(frame.index, frame.clock, reader.dropped)

A thread reads the source as fast as it delivers and keeps only the newest frame
in a one-frame slot: a frame that arrives before the consumer took the previous
one replaces it and is counted in :attr:`LiveReader.dropped` (nothing ever queues,
so memory holds one frame whatever the consumer's speed). Each frame carries its
capture time, taken when the read returned: :attr:`LiveFrame.clock` on the
monotonic clock (for latencies and tracking) and :attr:`LiveFrame.wall` on the
wall clock (for the JSON).

A source that stops or stalls (a read fails or times out) is reopened with a
bounded exponential backoff (:data:`BACKOFF_FIRST` s doubling up to
:data:`BACKOFF_MAX` s), ``reconnect`` times in a row at most (a frame read resets the
count); each attempt is one line through ``on_event``. A source that does not open
at first is retried until ``open_timeout`` seconds have passed (a camera or device:
once), then :class:`LiveSourceError`. Library code: no signal handler, no global
state; the thread is a daemon and :meth:`LiveReader.close` stops it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional, Union

import numpy as np

from posekit.io.headers import MAX_IMAGE_PIXELS
from posekit.io.pixels import to_bgr8
from posekit.video.reader import DEFAULT_FPS, VideoInfo
from posekit.video.sources import LiveSource, live_source, open_capture

#: First wait before reopening a stopped source, seconds; it doubles per failed attempt.
BACKOFF_FIRST = 0.5
#: Longest wait between two attempts, seconds.
BACKOFF_MAX = 8.0
#: Default number of reconnect attempts in a row before a run gives up.
DEFAULT_RECONNECT = 5
#: Default seconds a source may take to open (and each read to return).
DEFAULT_OPEN_TIMEOUT = 10.0

#: Opens a source: ``opener(source, timeout)`` -> an object with ``read()`` -> ``(ok, image)``,
#: ``get(prop)`` and ``release()``; raises OSError when it cannot.
Opener = Callable[[LiveSource, float], Any]


class LiveSourceError(OSError):
    """A live source that never opened, or stopped and did not come back."""


@dataclass(frozen=True)
class LiveFrame:
    """One frame of a live source.

    Attributes:
        image: (H, W, 3) uint8 BGR.
        index: its number among all the frames read from the source (dropped ones
            included), from 0.
        clock: capture time, ``time.monotonic()`` seconds when the read returned.
        wall: capture time, ``time.time()`` seconds (Unix time).
    """

    image: np.ndarray
    index: int
    clock: float
    wall: float


def backoff(attempt: int) -> float:
    """Seconds to wait before reconnect ``attempt`` (1, 2, ...): 0.5, 1, 2, 4, 8, 8, ..."""
    return min(BACKOFF_MAX, BACKOFF_FIRST * 2.0 ** max(0, attempt - 1))


class LiveReader:
    """The newest frame of a camera, a device or a stream, read by a thread of its own.

    Args:
        source: a :class:`~posekit.video.sources.LiveSource`, or what
            :func:`~posekit.video.sources.live_source` takes (``0``, ``"/dev/video0"``,
            ``"rtsp://..."``).
        reconnect: reconnect attempts in a row before giving up (0: end when the
            source stops).
        open_timeout: seconds the first opening may take, and each read.
        opener: opens the source (default: OpenCV, :func:`posekit.video.sources.open_capture`;
            tests pass a fake capture).
        on_event: called with one line per reconnect (from the reader thread).

    Construction opens the source and reads its first frame (:attr:`info` then
    holds its size and reported rate); iterating yields :class:`LiveFrame` s, newest
    first, until :meth:`close`, or until the source stopped for good (then
    :attr:`error` says why: iteration ends, it does not raise).

    Raises:
        ValueError: a ``source`` that is not live, a bad ``reconnect`` or ``open_timeout``.
        LiveSourceError: the source did not open within ``open_timeout`` seconds, or its
            frames are larger than ``MAX_IMAGE_PIXELS``.
    """

    def __init__(self, source: Union[LiveSource, int, str], reconnect: int = DEFAULT_RECONNECT,
                 open_timeout: float = DEFAULT_OPEN_TIMEOUT, opener: Optional[Opener] = None,
                 on_event: Optional[Callable[[str], None]] = None) -> None:
        if not isinstance(source, LiveSource):
            found = live_source(source)
            if found is None:
                raise ValueError(f"source must be a camera index, /dev/videoN or a stream "
                                 f"URL, got {source!r}")
            source = found
        if isinstance(reconnect, bool) or not isinstance(reconnect, int) or reconnect < 0:
            raise ValueError(f"reconnect must be an int >= 0, got {reconnect!r}")
        if isinstance(open_timeout, bool) or not isinstance(open_timeout, (int, float)) \
                or not 0 < open_timeout < float("inf"):
            raise ValueError(f"open_timeout must be a number of seconds > 0, got {open_timeout!r}")
        self.source = source
        self.reconnect = reconnect
        self.open_timeout = float(open_timeout)
        self._opener = opener or open_capture
        self._on_event = on_event
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._slot: Optional[LiveFrame] = None
        self._taken = False            # frames replaced before the first take are not "dropped"
        self._done = False
        self.error: Optional[str] = None
        self.dropped = 0
        self.read = 0
        self.reconnects = 0
        cap, first = self._first_open()
        fps = _reported_fps(cap)
        self.info = VideoInfo(width=first.image.shape[1], height=first.image.shape[0],
                              fps=fps, frame_count=None)
        self._slot = first
        self._thread = threading.Thread(target=self._run, args=(cap,), daemon=True,
                                        name=f"posekit-live-{source.name}")
        self._thread.start()

    # --- the reader thread --------------------------------------------------------------

    def _first_open(self):
        """Open the source and read its first frame, retrying until ``open_timeout``."""
        deadline = time.monotonic() + self.open_timeout
        attempt, why = 0, f"cannot open {self.source.label}: it gave no frame"
        while True:
            attempt += 1
            remaining = deadline - time.monotonic()
            cap = None
            try:
                cap = self._opener(self.source, max(0.1, remaining))
                frame = self._read(cap, 0)
                if frame is not None:
                    return cap, frame
                why = "it gave no frame"
            except LiveSourceError:
                _release(cap)
                raise
            except OSError as exc:
                why = str(exc)
            _release(cap)
            wait = min(backoff(attempt), deadline - time.monotonic())
            if self.source.kind != "stream":
                raise LiveSourceError(why)
            if wait <= 0:
                raise LiveSourceError(f"{why}; gave up after {self.open_timeout:g} s")
            time.sleep(wait)

    def _read(self, cap: Any, index: int) -> Optional[LiveFrame]:
        ok, image = cap.read()
        if not ok or image is None:
            return None
        clock, wall = time.monotonic(), time.time()
        if image.ndim < 2 or image.shape[0] * image.shape[1] > MAX_IMAGE_PIXELS:
            raise LiveSourceError(f"{self.source.label}: frames of shape {image.shape} "
                                  f"exceed {MAX_IMAGE_PIXELS:,} pixels")
        self.read += 1
        return LiveFrame(to_bgr8(image), index, clock, wall)

    def _run(self, cap: Any) -> None:
        index, failures = 1, 0
        try:
            while not self._stop.is_set():
                frame = self._read(cap, index) if cap is not None else None
                if frame is not None:
                    failures = 0
                    index += 1
                    self._put(frame)
                    continue
                _release(cap)
                cap = None
                failures += 1
                if failures > self.reconnect:
                    self._finish(f"{self.source.label} stopped" + (
                        f" and did not come back after {self.reconnect} reconnect attempts"
                        if self.reconnect else " (no reconnect: --reconnect 0)"))
                    return
                wait = backoff(failures)
                self._event(f"{self.source.label} stopped or stalled; reconnecting in "
                            f"{wait:g} s (attempt {failures} of {self.reconnect})")
                if self._stop.wait(wait):
                    return
                try:
                    cap = self._opener(self.source, self.open_timeout)
                    self.reconnects += 1
                    self._event(f"reconnected to {self.source.label}")
                except OSError:
                    cap = None
        except Exception as exc:           # a failing capture must not die silently
            self._finish(f"{self.source.label}: {' '.join(str(exc).split())}")
        finally:
            _release(cap)
            self._finish(None)

    def _put(self, frame: LiveFrame) -> None:
        with self._cond:
            if self._slot is not None and self._taken:
                self.dropped += 1
            self._slot = frame
            self._cond.notify_all()

    def _finish(self, error: Optional[str]) -> None:
        with self._cond:
            if error is not None and self.error is None and not self._stop.is_set():
                self.error = error
            self._done = True
            self._cond.notify_all()

    def _event(self, line: str) -> None:
        if self._on_event is not None:
            self._on_event(line)

    # --- the consumer -------------------------------------------------------------------

    def next_frame(self, timeout: Optional[float] = None) -> Optional[LiveFrame]:
        """The newest frame not taken yet, waiting for one; None once the source ended
        (:attr:`error` says why) or the reader was closed, or after ``timeout`` seconds."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._slot is not None or self._done,
                                       timeout):
                return None
            frame, self._slot = self._slot, None
            self._taken = True
            return frame

    def __iter__(self) -> Iterator[LiveFrame]:
        """Yield the newest frame each time, until the source ends or :meth:`close`."""
        while True:
            frame = self.next_frame()
            if frame is None:
                return
            yield frame

    def close(self) -> None:
        """Stop the thread (it ends within one read timeout; it is a daemon meanwhile)."""
        self._stop.set()
        with self._cond:
            self._done = True
            self._slot = None
            self._cond.notify_all()
        self._thread.join(timeout=1.0)

    def __enter__(self) -> "LiveReader":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _reported_fps(cap: Any) -> float:
    """The rate a capture reports, or :data:`DEFAULT_FPS` when it reports none usable."""
    try:
        import cv2

        fps = float(cap.get(cv2.CAP_PROP_FPS))
    except Exception:                          # a fake capture without get
        return DEFAULT_FPS
    return fps if 0 < fps <= 1000 else DEFAULT_FPS


def _release(cap: Any) -> None:
    if cap is not None:
        try:
            cap.release()
        except Exception:
            pass
