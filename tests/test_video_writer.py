"""Tests of posekit.video.writer: H.264 MP4 files, complete or absent."""

import os
import struct

import cv2
import numpy as np
import pytest

from posekit.video.writer import H264Writer, video_codec


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
