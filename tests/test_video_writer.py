"""Tests of posekit.video.writer: H.264 MP4 files, complete or absent."""

import os
import struct
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.video.writer import (MAX_VIDEO_SIDE, H264Writer, check_frame_size,
                                  ffmpeg_executable, video_codec)


def packet_times(path):
    """Presentation times (s) of a video's frames, sorted, read from its packets by the
    shipped ffmpeg (``-f framecrc``: one line per packet, pts in the stream's time base)."""
    proc = subprocess.run([ffmpeg_executable(), "-hide_banner", "-loglevel", "error", "-i",
                           os.path.abspath(path), "-map", "0:v:0", "-c", "copy", "-f",
                           "framecrc", "-"], capture_output=True, text=True, check=True)
    base, times = None, []
    for line in proc.stdout.splitlines():
        if line.startswith("#tb 0:"):
            num, den = line.split(":", 1)[1].strip().split("/")
            base = int(num) / int(den)
        elif line and not line.startswith("#"):
            times.append(int(line.split(",")[2]) * base)
    return sorted(times)


def boxes(path):
    """Top-level MP4 box types, read from the file's bytes (ISO BMFF: size, type)."""
    data = path.read_bytes()
    out, pos = [], 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        out.append(kind.decode("latin-1"))
        if size < 8:
            break
        pos += size
    return out, data


def frames(n, width=65, height=48):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (height, width, 3), dtype=np.uint8) for _ in range(n)]


def test_writes_h264_mp4_that_reads_back(tmp_path):
    path = tmp_path / "clip.mp4"
    writer = H264Writer(path, 25.0, (65, 48))  # odd width: padded to 66 for yuv420p
    for f in frames(12):
        writer.write(f)
    assert not path.exists()  # nothing at the destination before commit
    assert writer.commit() == path
    kinds, data = boxes(path)
    assert kinds[0] == "ftyp" and "moov" in kinds and "mdat" in kinds
    assert kinds.index("moov") < kinds.index("mdat")  # faststart: playable while loading
    assert b"avc1" in data and b"avcC" in data        # H.264 sample entry and its config
    assert video_codec(path) == "h264"
    cap = cv2.VideoCapture(os.fspath(path))
    count = 0
    while cap.read()[0]:
        count += 1
    assert count == 12
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(25.0)
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]


def test_discard_leaves_nothing(tmp_path):
    writer = H264Writer(tmp_path / "x.mp4", 30.0, (32, 32))
    writer.write(frames(1, 32, 32)[0])
    writer.discard()
    assert list(tmp_path.iterdir()) == []


def test_existing_file_untouched_until_commit(tmp_path):
    path = tmp_path / "x.mp4"
    path.write_bytes(b"old")
    writer = H264Writer(path, 30.0, (32, 32))
    writer.write(frames(1, 32, 32)[0])
    assert path.read_bytes() == b"old"
    writer.discard()
    assert path.read_bytes() == b"old"


@pytest.mark.parametrize("kwargs, match", [
    (dict(path="x.avi"), "path"), (dict(fps=0.0), "fps"), (dict(size=(0, 10)), "size")])
def test_bad_arguments(tmp_path, kwargs, match):
    args = dict(path="x.mp4", fps=30.0, size=(32, 32))
    args.update(kwargs)
    args["path"] = tmp_path / args["path"]
    with pytest.raises(ValueError, match=match):
        H264Writer(**args)


def test_wrong_frame_shape_is_a_value_error(tmp_path):
    writer = H264Writer(tmp_path / "x.mp4", 30.0, (32, 32))
    try:
        with pytest.raises(ValueError, match="frame"):
            writer.write(np.zeros((32, 33, 3), np.uint8))
    finally:
        writer.discard()


def test_each_frame_keeps_its_time(tmp_path):
    """Uneven gaps (a variable frame rate) come out as given, not at 1 / fps."""
    times = [0.0, 0.05, 0.3, 0.31, 0.9, 1.0]
    writer = H264Writer(tmp_path / "vfr.mp4", 10.0, (32, 32))
    for t, f in zip(times, frames(6, 32, 32)):
        writer.write(f, t)
    writer.commit()
    assert packet_times(tmp_path / "vfr.mp4") == pytest.approx(times, abs=1e-5)
    writer = H264Writer(tmp_path / "cfr.mp4", 8.0, (32, 32))
    for f in frames(4, 32, 32):
        writer.write(f)                                   # no time: every 1 / fps
    writer.commit()
    assert packet_times(tmp_path / "cfr.mp4") == pytest.approx([0, 0.125, 0.25, 0.375])


@pytest.mark.parametrize("times", [(0.5, 0.5), (0.5, 0.2), (float("nan"),), (-1.0,),
                                   (0.1, 0.1000001)])
def test_times_must_be_finite_and_increase(tmp_path, times):
    writer = H264Writer(tmp_path / "x.mp4", 30.0, (32, 32))
    try:
        for t in times[:-1]:
            writer.write(frames(1, 32, 32)[0], t)
        with pytest.raises(ValueError, match="time"):
            writer.write(frames(1, 32, 32)[0], times[-1])
    finally:
        writer.discard()


def test_a_path_that_looks_like_an_option(tmp_path, monkeypatch):
    """``-out/x.mp4`` reaches ffmpeg as an absolute path, never as an option."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "-out").mkdir()
    writer = H264Writer(Path("-out") / "x.mp4", 25.0, (32, 32))
    for f in frames(3, 32, 32):
        writer.write(f)
    assert writer.commit() == Path("-out") / "x.mp4"
    assert video_codec(Path("-out") / "x.mp4") == "h264"


def test_sizes_the_encoder_refuses_are_refused_at_once(tmp_path):
    check_frame_size(MAX_VIDEO_SIDE - 1, 8)               # padded to 16384: fine
    for size in ((MAX_VIDEO_SIDE + 1, 8), (17000, 1000), (8, 16385)):
        with pytest.raises(ValueError, match="16384"):
            check_frame_size(*size)
        with pytest.raises(ValueError, match="size"):
            H264Writer(tmp_path / "x.mp4", 25.0, size)
    assert list(tmp_path.iterdir()) == []
