"""Live sources: telling a camera, a capture device or a network stream from a file; opening one.

A live source is

* a camera index: an ``int`` >= 0 (not a bool), or a string of digits that names no
  existing file or folder (``posekit 0``);
* a capture device path: ``/dev/videoN``;
* a network stream URL: ``rtsp://``, ``rtsps://``, ``rtmp://``, ``rtmps://``,
  ``http(s)://`` (MJPEG, MPEG-TS, HLS playlists), ``udp://``, ``tcp://``, ``rtp://``,
  ``srt://``.

Everything is opened by OpenCV: cameras and devices by its default backend (V4L2 on
Linux), streams by its FFmpeg backend, with an open and a read timeout (OpenCV 4.6 and
later honour ``CAP_PROP_OPEN_TIMEOUT_MSEC`` / ``CAP_PROP_READ_TIMEOUT_MSEC``), so a
silent server cannot block a read for ever. OpenCV's wheel carries FFmpeg with its
network protocols, so the ``imageio-ffmpeg`` executable (used to write videos) is not
needed to read streams. Passwords in URLs are never printed (:attr:`LiveSource.label`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Optional, Union
from urllib.parse import urlsplit

#: URL schemes read as network streams (lower case).
STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "tcp", "rtp",
                  "srt")
#: A Linux capture device.
DEVICE_PATTERN = re.compile(r"^/dev/video(\d+)$")


@dataclass(frozen=True)
class LiveSource:
    """A camera, a capture device or a network stream.

    Attributes:
        kind: ``"camera"``, ``"device"`` or ``"stream"``.
        target: what OpenCV opens: the camera index (int), the device path or the URL.
        name: the output name of a run (``camera0``, ``video0``, ``stream``).
    """

    kind: str
    target: Union[int, str]
    name: str

    @property
    def label(self) -> str:
        """How messages name the source: ``camera 0``, the device path, or the URL with
        its password replaced by ``***``."""
        if self.kind == "camera":
            return f"camera {self.target}"
        if self.kind == "device":
            return str(self.target)
        return hide_password(str(self.target))

    def __str__(self) -> str:
        return self.label


def hide_password(url: str) -> str:
    """``url`` with the password of its ``user:password@`` part replaced by ``***``."""
    return re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://[^/@:]*:)[^/@]*@", r"\1***@", url)


def live_source(value: object, name: str = "source") -> Optional[LiveSource]:
    """The live source ``value`` names, or None when it is something else (a file, an array).

    Args:
        value: an int camera index, a string (digits, ``/dev/videoN``, a URL), or anything
            else (then None).
        name: the argument's name in messages.

    Returns:
        A :class:`LiveSource`, or None: ``value`` is not a live source (a digit string
        that names an existing path is that path).

    Raises:
        ValueError: naming ``name``: a negative camera index, or a stream URL of a known
            scheme without a host (``rtsp://``, ``udp:///x``).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{name}: a camera index must be >= 0, got {value}")
        return LiveSource("camera", int(value), f"camera{int(value)}")
    if not isinstance(value, str):
        return None
    if value.isdigit() and value.isascii() and not os.path.exists(value):
        return LiveSource("camera", int(value), f"camera{int(value)}")
    device = DEVICE_PATTERN.match(value)
    if device:
        return LiveSource("device", value, f"video{device.group(1)}")
    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    if scheme in STREAM_SCHEMES:
        try:
            host = urlsplit(value).hostname
        except ValueError:
            host = None
        if not host:
            raise ValueError(f"{name}: the stream URL {hide_password(value)} names no host")
        return LiveSource("stream", value, "stream")
    return None


def open_capture(source: LiveSource, timeout: float) -> Any:
    """Open ``source`` with OpenCV; the capture, opened (``read()`` gives frames).

    Args:
        source: the camera, device or stream.
        timeout: seconds that opening, and later each read, may wait (streams; cameras
            answer at once).

    Raises:
        OSError: OpenCV cannot open it (no such camera, refused, timed out, not a video).
    """
    import cv2

    msec = max(1, int(timeout * 1000))
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, msec, cv2.CAP_PROP_READ_TIMEOUT_MSEC, msec]
    backend = cv2.CAP_FFMPEG if source.kind == "stream" else cv2.CAP_ANY
    cap = cv2.VideoCapture(source.target, backend, params)
    if not cap.isOpened():
        cap.release()
        raise OSError(f"cannot open {source.label}: " + (
            "refused, timed out or not a video (OpenCV's FFmpeg backend)"
            if source.kind == "stream" else "no such camera, or busy"))
    return cap
