"""Videos that play in a browser: H.264 in MP4, written complete or not at all.

Frames are piped as raw BGR to the ``ffmpeg`` executable that the
``imageio-ffmpeg`` package ships inside its wheel (a static build with
libx264), so no system codec is needed. The stream is H.264 (``libx264``,
``yuv420p``: the pixel format browsers decode; odd sizes are padded by one
pixel) with the index at the front of the file (``+faststart``) so it starts
playing before it is fully downloaded. The file is written under a hidden
temporary name next to the destination and renamed by :meth:`H264Writer.commit`;
:meth:`H264Writer.discard` (or any failure) deletes it.

Each frame keeps its own time: the pipe carries a minimal Matroska stream (one
cluster per frame, its timestamp in microseconds) and ffmpeg passes the
timestamps through (``-fps_mode passthrough``, ffmpeg 5.1 or later), so a
variable-frame-rate source is drawn with the source's timing. Paths reach
ffmpeg absolute, so no file name can be read as an option or a protocol.

Formats plug in through :data:`VIDEO_FORMATS` (extension -> ffmpeg arguments).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import numpy as np

from posekit.extras import MissingExtra, require
from posekit.io.atomic import temporary_name

log = logging.getLogger(__name__)
PathLike = Union[str, "os.PathLike[str]"]

#: ffmpeg output arguments per file extension. x264's ``veryfast`` preset at CRF 23 (x264's
#: default quality) keeps the encoder well below the network's time per frame.
VIDEO_FORMATS: Dict[str, Tuple[str, ...]] = {
    ".mp4": ("-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
             "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-movflags", "+faststart", "-f", "mp4"),
}
#: Longest side libx264 encodes (after the padding to even sides); larger is refused
#: by :func:`check_frame_size` before any frame is made.
MAX_VIDEO_SIDE = 16384
#: Frame times are carried in these units (microseconds).
TICKS_PER_SECOND = 1_000_000


def check_frame_size(width: int, height: int) -> None:
    """Raise unless an H.264 video of ``width`` x ``height`` frames can be written.

    Raises:
        ValueError: a side below 1 or above :data:`MAX_VIDEO_SIDE` (after the padding
            of an odd side to an even one).
    """
    if width < 1 or height < 1:
        raise ValueError(f"size must be positive (width, height), got {(width, height)}")
    if max(width + width % 2, height + height % 2) > MAX_VIDEO_SIDE:
        raise ValueError(f"frames of {width}x{height} pixels are too large for the H.264 "
                         f"video (at most {MAX_VIDEO_SIDE} pixels a side)")


def _vint(value: int) -> bytes:
    """An EBML variable-length size."""
    for length in range(1, 9):
        if value < (1 << (7 * length)) - 1:
            return ((1 << (7 * length)) | value).to_bytes(length, "big")
    raise ValueError(f"EBML size too large: {value}")


def _uint(value: int) -> bytes:
    return int(value).to_bytes(max(1, (int(value).bit_length() + 7) // 8), "big")


def _element(element_id: bytes, payload: bytes) -> bytes:
    return element_id + _vint(len(payload)) + payload


def _matroska_header(width: int, height: int, fps: float) -> bytes:
    """EBML header, an open-ended Segment, Info (microsecond ticks) and one raw BGR video
    track whose default frame duration is ``1 / fps``."""
    ebml = _element(b"\x1a\x45\xdf\xa3", b"".join([
        _element(b"\x42\x86", _uint(1)), _element(b"\x42\xf7", _uint(1)),
        _element(b"\x42\xf2", _uint(4)), _element(b"\x42\xf3", _uint(8)),
        _element(b"\x42\x82", b"matroska"), _element(b"\x42\x87", _uint(4)),
        _element(b"\x42\x85", _uint(2))]))
    segment = b"\x18\x53\x80\x67" + b"\x01\xff\xff\xff\xff\xff\xff\xff"  # size unknown
    info = _element(b"\x15\x49\xa9\x66", _element(b"\x2a\xd7\xb1",
                                                   _uint(1_000_000_000 // TICKS_PER_SECOND))
                    + _element(b"\x4d\x80", b"posekit") + _element(b"\x57\x41", b"posekit"))
    video = _element(b"\xe0", _element(b"\xb0", _uint(width)) + _element(b"\xba", _uint(height))
                     + _element(b"\x2e\xb5\x24", b"BGR\x18"))
    track = _element(b"\xae", b"".join([
        _element(b"\xd7", _uint(1)), _element(b"\x73\xc5", _uint(1)),
        _element(b"\x83", _uint(1)), _element(b"\x86", b"V_UNCOMPRESSED"),
        _element(b"\x23\xe3\x83", _uint(round(1e9 / fps))), video]))
    return ebml + segment + info + _element(b"\x16\x54\xae\x6b", track)


def _cluster_head(ticks: int, frame_bytes: int) -> bytes:
    """The bytes before a frame's pixels: a Cluster at ``ticks`` holding one SimpleBlock
    (track 1, relative time 0, a key frame)."""
    timestamp = _element(b"\xe7", _uint(ticks))
    block_head = b"\x81\x00\x00\x80"
    block = b"\xa3" + _vint(len(block_head) + frame_bytes) + block_head
    return b"\x1f\x43\xb6\x75" + _vint(len(timestamp) + len(block) + frame_bytes) \
        + timestamp + block


def ffmpeg_executable() -> str:
    """Path of the ffmpeg executable shipped by ``imageio-ffmpeg``.

    Raises:
        ValueError: the package is not installed or has no executable for this platform.
    """
    try:
        require("imageio_ffmpeg", "writing H.264 video")
    except MissingExtra as exc:
        raise ValueError(str(exc)) from None
    import imageio_ffmpeg
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:
        raise ValueError(f"imageio-ffmpeg has no ffmpeg for this platform: {exc}") from None


class H264Writer:
    """An H.264 video written under a temporary name, renamed on :meth:`commit`.

    Example::

        writer = H264Writer("out.mp4", fps=30.0, size=(640, 360))
        try:
            for seconds, frame in timed_frames:
                writer.write(frame, seconds)      # or writer.write(frame): every 1 / fps
        except BaseException:
            writer.discard()
            raise
        writer.commit()
    """

    def __init__(self, path: PathLike, fps: float, size: Tuple[int, int]) -> None:
        """Start the encoder.

        Args:
            path: the destination file; its extension picks the format (:data:`VIDEO_FORMATS`).
            fps: frames per second (> 0): the spacing of frames written without a time,
                and the last frame's duration.
            size: ``(width, height)`` of every frame, pixels (each side at most
                :data:`MAX_VIDEO_SIDE`).

        Raises:
            ValueError: an unknown extension, a bad ``fps`` or ``size``, or no ffmpeg.
            OSError: ffmpeg could not be started.
        """
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in VIDEO_FORMATS:
            raise ValueError(f"path must end with one of {', '.join(VIDEO_FORMATS)}, "
                             f"got {self.path.name}")
        if not (np.isfinite(fps) and 0 < fps <= 1000):
            raise ValueError(f"fps must be in (0, 1000], got {fps}")
        width, height = (int(v) for v in size)
        try:
            check_frame_size(width, height)
        except ValueError as exc:
            raise ValueError(f"size: {exc}") from None
        self.size = (width, height)
        self.fps = float(fps)
        self._tmp = temporary_name(self.path, suffix)
        self._log = tempfile.TemporaryFile()
        # absolute: a name such as "-out/x.mp4" or "pipe:1.mp4" is never an option or protocol
        command = [ffmpeg_executable(), "-hide_banner", "-loglevel", "error", "-nostdin",
                   "-f", "matroska", "-i", "pipe:0", *VIDEO_FORMATS[suffix],
                   "-fps_mode", "passthrough", "-enc_time_base:v", f"1/{TICKS_PER_SECOND}",
                   "-y", os.path.abspath(self._tmp)]
        # A session of its own: Ctrl-C in a terminal reaches the whole foreground process
        # group; the encoder must outlive it so that the caller can still commit the frames.
        self._process: Optional[subprocess.Popen] = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._log,
            start_new_session=True)
        self.frames = 0
        self._last_ticks: Optional[int] = None
        self._send(_matroska_header(width, height, self.fps))

    def write(self, frame: np.ndarray, time: Optional[float] = None) -> None:
        """Append one frame.

        Args:
            frame: (height, width, 3) uint8 BGR at the size given at construction.
            time: when the frame shows, seconds (kept to the microsecond); after the
                previous frame's. None: ``1 / fps`` after the previous frame (0 first).

        Raises:
            ValueError: a frame of another shape or type, or a ``time`` that is not
                finite, negative or not after the previous frame's.
            OSError: the encoder stopped (its message is included).
        """
        if self._process is None:
            raise ValueError("the writer is closed")
        width, height = self.size
        if not (isinstance(frame, np.ndarray) and frame.shape == (height, width, 3)
                and frame.dtype == np.uint8):
            raise ValueError(f"frame must be a ({height}, {width}, 3) uint8 array, got "
                             f"{getattr(frame, 'shape', None)} of "
                             f"{getattr(frame, 'dtype', type(frame).__name__)}")
        if time is None:
            ticks = 0 if self._last_ticks is None else \
                self._last_ticks + max(1, round(TICKS_PER_SECOND / self.fps))
        else:
            if not (isinstance(time, (int, float, np.number)) and math.isfinite(time)
                    and time >= 0):
                raise ValueError(f"time must be a finite number of seconds >= 0, got {time!r}")
            ticks = round(float(time) * TICKS_PER_SECOND)
            if self._last_ticks is not None and ticks <= self._last_ticks:
                raise ValueError(f"time must be after the previous frame's "
                                 f"({self._last_ticks / TICKS_PER_SECOND:.6f} s), got {time}")
        data = np.ascontiguousarray(frame)
        self._send(_cluster_head(ticks, data.nbytes), memoryview(data).cast("B"))
        self._last_ticks = ticks
        self.frames += 1

    def _send(self, *chunks: object) -> None:
        try:
            for chunk in chunks:
                self._process.stdin.write(chunk)
        except (BrokenPipeError, OSError):
            raise OSError(f"the video encoder stopped: {self._message()}") from None

    def _message(self) -> str:
        """How ffmpeg ended (a signal such as SIGXFSZ, a file size limit; its status) and
        its last line (e.g. "Error closing file: No space left on device")."""
        code = None
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self._process.wait(timeout=5)
        self._log.seek(0)
        lines = [re.sub(r"^(\[[^]]*\]\s*)+", "", line).strip()    # "[out#0/mp4 @ 0x..] "
                 for line in self._log.read().decode("utf-8", "replace").splitlines()]
        last = [line for line in lines if line][-1:]
        how = []
        if code is not None and code < 0:
            try:
                how = [f"ffmpeg was killed by {signal.Signals(-code).name}"]
            except ValueError:
                how = [f"ffmpeg was killed by signal {-code}"]
        elif code:
            how = [f"ffmpeg exited with status {code}"]
        return "; ".join(how + [text[-300:] for text in last]) or "no message"

    def commit(self) -> Path:
        """Finish the file and rename it to :attr:`path`; returns that path.

        Raises:
            OSError: the encoder failed (the temporary file is then deleted).
        """
        process = self._process
        if process is None:
            raise ValueError("the writer is closed")
        try:
            with contextlib.suppress(BrokenPipeError):
                process.stdin.close()
            code = process.wait()
            if code != 0:
                raise OSError(f"the video encoder failed: {self._message()}")
            os.replace(self._tmp, self.path)
        except BaseException:
            process.kill()
            process.wait()
            with contextlib.suppress(OSError):
                self._tmp.unlink()
            raise
        finally:
            self._process = None
            self._log.close()
        return self.path

    def discard(self) -> None:
        """Stop the encoder and delete the temporary file; :attr:`path` is untouched."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            with contextlib.suppress(OSError):
                process.stdin.close()
            process.wait()
            self._log.close()
        with contextlib.suppress(OSError):
            self._tmp.unlink()


def video_codec(path: PathLike) -> str:
    """The codec name of the first video stream of ``path``, as the shipped ffmpeg reports it.

    Raises:
        ValueError: no video stream found (or no ffmpeg).
    """
    result = subprocess.run([ffmpeg_executable(), "-hide_banner", "-nostdin", "-i",
                             os.path.abspath(path)], capture_output=True, text=True)
    for line in result.stderr.splitlines():
        if "Video:" in line:
            return line.split("Video:", 1)[1].split()[0].strip(",")
    raise ValueError(f"{path}: no video stream")
