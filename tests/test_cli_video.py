"""The demo's video outputs, run as a subprocess: H.264 MP4 (-o NAME.mp4), track ids,
times and --table."""

import csv
import json

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest

from posekit.video.writer import H264Writer, video_codec
from tests.test_demo_image import IMAGES, assert_one_line_error, cli, needs_network

pytestmark = needs_network
FPS = 10.0


@pytest.fixture
def clip(tmp_path):
    """6 frames of zidane.jpg at 320x180, panned 2 px per frame, 10 frames/s, H.264."""
    image = cv2.resize(cv2.imread(str(IMAGES / "zidane.jpg")), (320, 180))
    path = tmp_path / "clip.mp4"
    writer = H264Writer(path, FPS, (320, 180))
    for f in range(6):
        writer.write(np.roll(image, 2 * f, axis=1))
    writer.commit()
    return path


def test_output_mp4_is_an_h264_file_with_tracked_json_and_csv_table(tmp_path, clip):
    proc = cli("clip.mp4", "-o", "drawn.mp4", "--table", "t.csv", "--json", "all.json",
               "--smooth", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "drawn.mp4"
    assert out.is_file()
    data = out.read_bytes()
    assert data[4:8] == b"ftyp" and b"avc1" in data  # MP4 with an H.264 sample entry
    assert video_codec(out) == "h264"
    cap = cv2.VideoCapture(str(out))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 6 and cap.get(cv2.CAP_PROP_FPS) == FPS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all.json", "clip.mp4", "drawn.mp4",
                                                          "t.csv"]
    coco = json.loads((tmp_path / "all.json").read_text())
    times = sorted({c["time"] for c in coco})
    assert times == [round(f / FPS, 6) for f in range(6)]
    per_frame = [sorted(c["track_id"] for c in coco if c["image_id"] == f) for f in range(6)]
    assert per_frame[0] == [0, 1] and all(ids == [0, 1] for ids in per_frame)
    with open(tmp_path / "t.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6 * 2 * 18
    assert {(r["frame"], r["time"]) for r in rows} == {(str(f), f"{f / FPS:.6f}")
                                                      for f in range(6)}
    assert {r["person_id"] for r in rows} == {"0", "1"}


def test_folder_output_has_ids_times_and_parquet_table(tmp_path, clip):
    proc = cli("clip.mp4", "-o", "out", "--table", "t.parquet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert video_codec(tmp_path / "out" / "clip.mp4") == "h264"
    frame3 = json.loads((tmp_path / "out" / "clip_000000000003_keypoints.json").read_text())
    assert frame3["time"] == pytest.approx(0.3)
    assert sorted(p["person_id"] for p in frame3["people"]) == [[0], [1]]
    table = pq.read_table(tmp_path / "t.parquet")
    assert table.column_names == ["frame", "time", "person_id", "keypoint", "x", "y", "score"]
    assert table.num_rows == 6 * 2 * 18
    assert set(table.column("person_id").to_pylist()) == {0, 1}


def test_no_track_gives_minus_one(tmp_path, clip):
    proc = cli("clip.mp4", "-o", "out", "--no-track", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    frame0 = json.loads((tmp_path / "out" / "clip_000000000000_keypoints.json").read_text())
    assert [p["person_id"] for p in frame0["people"]] == [[-1], [-1]]


@pytest.mark.parametrize("args, fragments", [
    (["clip.mp4", "-o", "o.mp4", "--table", "t.xlsx"], ["--table", ".csv or .parquet"]),
    (["clip.mp4", "-o", "same.mp4", "--json", "same.mp4"], ["same output"]),
    (["clip.mp4", "-o", "o.mp4", "--table", "t.csv", "--json", "t.csv"], ["same output"]),
    (["clip.mp4", "-o", "clip.mp4"], ["overwrite the input"]),
])
def test_bad_video_outputs_are_refused_before_any_work(tmp_path, clip, args, fragments):
    before = sorted(p.name for p in tmp_path.iterdir())
    assert_one_line_error(cli(*args, cwd=tmp_path), *fragments)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_table_is_for_a_video(tmp_path):
    assert_one_line_error(cli(str(IMAGES / "zidane.jpg"), "-o", "z.png", "--table", "t.csv",
                              cwd=tmp_path), "--table is for a video input")


def test_ctrl_c_to_the_process_group_keeps_a_playable_video(tmp_path):
    """Ctrl-C in a terminal reaches the encoder too; the frames done are still committed."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.test_demo_image import DEMO

    image = cv2.resize(cv2.imread(str(IMAGES / "zidane.jpg")), (160, 96))
    writer = H264Writer(tmp_path / "long.mp4", FPS, (160, 96))
    for f in range(300):
        writer.write(np.roll(image, f, axis=1))
    writer.commit()
    proc = subprocess.Popen([sys.executable, str(DEMO), "long.mp4", "-o", "out"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 240
    while not (tmp_path / "out" / "long_000000000002_keypoints.json").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    video = tmp_path / "out" / "long.mp4"
    assert video_codec(video) == "h264"
    assert 3 <= cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FRAME_COUNT) < 300
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def test_a_folder_of_images_and_videos(tmp_path, clip):
    folder = tmp_path / "in"
    folder.mkdir()
    clip.rename(folder / "clip.mp4")
    cv2.imwrite(str(folder / "still.jpg"), cv2.resize(cv2.imread(str(IMAGES / "bus.jpg")),
                                                      (203, 270)))
    (folder / "broken.avi").write_bytes(b"not a video")
    proc = cli("in", "-o", "out", cwd=tmp_path)
    assert proc.returncode == 1
    assert "skipped: in/broken.avi" in proc.stderr and "Traceback" not in proc.stderr
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == sorted(["clip.mp4", "still.png", "still_coco.json", "still_keypoints.json"]
                           + [f"clip_{k:012d}_keypoints.json" for k in range(6)])
    assert video_codec(tmp_path / "out" / "clip.mp4") == "h264"


def test_a_table_that_is_a_fifo_is_not_a_regular_file(tmp_path, clip):
    """Issue 31: a FIFO named f.csv was told to 'name a .csv or .parquet file'."""
    import os

    os.mkfifo(tmp_path / "f.csv")
    assert_one_line_error(cli(str(clip), "-o", "out", "--table", "f.csv", cwd=tmp_path),
                          "--table f.csv is not a regular file")
