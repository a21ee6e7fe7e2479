"""Videos that play in a browser: H.264 in MP4, written complete or not at all.

Frames are piped as raw BGR to the ``ffmpeg`` executable that the
``imageio-ffmpeg`` package ships inside its wheel (a static build with
libx264), so no system codec is needed. The stream is H.264 (``libx264``,
``yuv420p``: the pixel format browsers decode; odd sizes are padded by one
pixel) with the index at the front of the file (``+faststart``) so it starts
playing before it is fully downloaded. The file is written under a hidden
temporary name next to the destination and renamed by :meth:`H264Writer.commit`;
:meth:`H264Writer.discard` (or any failure) deletes it.

Formats plug in through :data:`VIDEO_FORMATS` (extension -> ffmpeg arguments).
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import numpy as np

from posekit.io.atomic import temporary_name

log = logging.getLogger(__name__)
PathLike = Union[str, "os.PathLike[str]"]

#: ffmpeg output arguments per file extension. x264's ``veryfast`` preset at CRF 23 (x264's
#: default quality) keeps the encoder well below the network's time per frame.
VIDEO_FORMATS: Dict[str, Tuple[str, ...]] = {
    ".mp4": ("-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
             "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-movflags", "+faststart", "-f", "mp4"),
}


def ffmpeg_executable() -> str:
    """Path of the ffmpeg executable shipped by ``imageio-ffmpeg``.

    Raises:
        ValueError: the package is not installed or has no executable for this platform.
    """
    try:
        import imageio_ffmpeg
    except ImportError:
        raise ValueError("writing H.264 video needs the imageio-ffmpeg package "
                         "(pip install -r requirements.txt)") from None
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:
        raise ValueError(f"imageio-ffmpeg has no ffmpeg for this platform: {exc}") from None


class H264Writer:
    """An H.264 video written under a temporary name, renamed on :meth:`commit`.

    Example::

        writer = H264Writer("out.mp4", fps=30.0, size=(640, 360))
        try:
            for frame in frames:
                writer.write(frame)
        except BaseException:
            writer.discard()
            raise
        writer.commit()
    """

    def __init__(self, path: PathLike, fps: float, size: Tuple[int, int]) -> None:
        """Start the encoder.

        Args:
            path: the destination file; its extension picks the format (:data:`VIDEO_FORMATS`).
            fps: frames per second (> 0).
            size: ``(width, height)`` of every frame, pixels.

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
        if width < 1 or height < 1:
            raise ValueError(f"size must be positive (width, height), got {size}")
        self.size = (width, height)
        self._tmp = temporary_name(self.path, suffix)
        self._log = tempfile.TemporaryFile()
        command = [ffmpeg_executable(), "-hide_banner", "-loglevel", "error", "-nostdin",
                   "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}",
                   "-r", f"{float(fps):.6g}", "-i", "pipe:0", *VIDEO_FORMATS[suffix],
                   "-y", os.fspath(self._tmp)]
        # A session of its own: Ctrl-C in a terminal reaches the whole foreground process
        # group; the encoder must outlive it so that the caller can still commit the frames.
        self._process: Optional[subprocess.Popen] = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._log,
            start_new_session=True)
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        """Append one frame.

        Args:
            frame: (height, width, 3) uint8 BGR at the size given at construction.

        Raises:
            ValueError: a frame of another shape or type.
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
        try:
            self._process.stdin.write(np.ascontiguousarray(frame).tobytes())
        except (BrokenPipeError, OSError):
            raise OSError(f"the video encoder stopped: {self._message()}") from None
        self.frames += 1

    def _message(self) -> str:
        self._log.seek(0)
        return " ".join(self._log.read().decode("utf-8", "replace").split())[-500:] or "no message"

    def commit(self) -> Path:
        """Finish the file and rename it to :attr:`path`; returns that path.

        Raises:
            OSError: the encoder failed (the temporary file is then deleted).
        """
        process, self._process = self._process, None
        if process is None:
            raise ValueError("the writer is closed")
        try:
            with contextlib.suppress(BrokenPipeError):
                process.stdin.close()
            code = process.wait()
            if code != 0:
                raise OSError(f"the video encoder failed ({code}): {self._message()}")
            os.replace(self._tmp, self.path)
        except BaseException:
            process.kill()
            process.wait()
            with contextlib.suppress(OSError):
                self._tmp.unlink()
            raise
        finally:
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
                             os.fspath(path)], capture_output=True, text=True)
    for line in result.stderr.splitlines():
        if "Video:" in line:
            return line.split("Video:", 1)[1].split()[0].strip(",")
    raise ValueError(f"{path}: no video stream")
