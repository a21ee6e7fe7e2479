"""A live stream on loopback for the live tests and benchmark: a clip made from ``images/`` served
by the ``imageio-ffmpeg`` wheel's ffmpeg in real time (``-re``) on 127.0.0.1 only.

::

    clip = make_clip(tmp / "clip.mkv", frames=60)          # zidane.jpg panning, 640x360
    with LoopbackStream(clip) as server:                   # http://127.0.0.1:PORT, MPEG-TS
        run(f"posekit {server.url} -o out.mp4 --max-frames 20")

The server is ``ffmpeg -re -stream_loop -1 -i CLIP -c:v libx264 -preset ultrafast -tune
zerolatency -g 30 -f mpegts -listen 1 http://127.0.0.1:PORT``: it serves one client and
ends when that client leaves; :meth:`LoopbackStream.restart` serves again on the same port
(a stream killed and restarted mid-run). Ports are picked free by the kernel.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from posekit.paths import ROOT
from posekit.video.writer import ffmpeg_executable

#: The clip's frame rate and size.
FPS = 30
SIZE = (640, 360)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (the kernel's choice)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_clip(path: Path, frames: int = 60, image: str = "zidane.jpg",
              step: float = 2.0) -> Path:
    """A lossless clip (FFV1 in Matroska) of ``images/IMAGE`` at 640x360, :data:`FPS`
    frames/s, panned ``step`` pixels per frame there and back (so that a looped clip never
    jumps; 0: still); returns ``path``."""
    base = cv2.resize(cv2.imread(str(ROOT / "images" / image)), SIZE)
    command = [ffmpeg_executable(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
               "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{SIZE[0]}x{SIZE[1]}",
               "-r", str(FPS), "-i", "pipe:0", "-c:v", "ffv1", os.path.abspath(path)]
    shifts = [round(step * min(f, frames - f)) for f in range(frames)]
    data = b"".join(np.ascontiguousarray(np.roll(base, shift, axis=1)).tobytes()
                    for shift in shifts)
    subprocess.run(command, input=data, check=True, timeout=120)
    return path


class LoopbackStream:
    """``clip`` served live (in a loop, at its own rate) as HTTP MPEG-TS on 127.0.0.1."""

    def __init__(self, clip: Path, port: Optional[int] = None) -> None:
        self.clip = Path(clip)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: Optional[subprocess.Popen] = None
        self.start()

    def start(self) -> None:
        """Start serving; returns once the port accepts connections."""
        command = [ffmpeg_executable(), "-hide_banner", "-loglevel", "error", "-nostdin",
                   "-re", "-stream_loop", "-1", "-i", os.path.abspath(self.clip),
                   "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
                   "-g", "30", "-f", "mpegts", "-listen", "1", self.url]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        # a probing connection would be the server's one client: watch /proc/net/tcp instead
        while time.monotonic() < deadline and self.process.poll() is None:
            if _listening(self.port):
                return
            time.sleep(0.02)
        raise RuntimeError(f"ffmpeg did not listen on {self.url}")

    def stop(self) -> None:
        """Kill the server (a stream that stops mid-run)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.process is not None:
            self.process.wait()

    def restart(self) -> None:
        """Serve again on the same port."""
        self.stop()
        self.start()

    def __enter__(self) -> "LoopbackStream":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _listening(port: int) -> bool:
    """Whether a TCP socket listens on 127.0.0.1:``port`` (Linux: /proc/net/tcp, state 0A)."""
    wanted = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as handle:
        return any(fields[1] == wanted and fields[3] == "0A"
                   for fields in (line.split() for line in handle.readlines()[1:]))
