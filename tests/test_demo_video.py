"""The demo's video and folder runs under stress (issue 31): unique names in a folder of
images and videos, outputs that would overwrite each other, truncated and variable-frame-rate
videos, a full disk, sizes the encoder refuses, paths that look like options, Ctrl-C.

Runs go through ``demo_image.py`` in a subprocess where the exit status, standard error
or a signal is the point; a full disk is a file size limit (``RLIMIT_FSIZE``) set in that
subprocess only, which the encoder it starts inherits.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.video.writer import H264Writer, ffmpeg_executable, video_codec
from tests.conftest import wait_for_file, write_clip
from tests.test_demo_image import DEMO, IMAGES, assert_one_line_error, cli, needs_network
from tests.test_video_writer import packet_times

FPS = 10.0


def zidane(width=320, height=180):
    return cv2.resize(cv2.imread(str(IMAGES / "zidane.jpg")), (width, height))


def h264_clip(path: Path, frames: int, image=None, step: int = 2) -> Path:
    """``frames`` frames of ``image`` (zidane.jpg at 320x180) panned ``step`` px each, H.264."""
    image = zidane() if image is None else image
    writer = H264Writer(path, FPS, (image.shape[1], image.shape[0]))
    for f in range(frames):
        writer.write(np.roll(image, step * f, axis=1))
    writer.commit()
    return path


def frame_count(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    count = 0
    while cap.read()[0]:
        count += 1
    return count


def run_limited(args, cwd: Path, file_size: int, **popen) -> subprocess.Popen:
    """``demo_image.py ARGS`` with files limited to ``file_size`` bytes (a full disk for the
    run and the encoder it starts; this test process keeps its own limits)."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))

    return subprocess.Popen([sys.executable, str(DEMO), *map(str, args)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=limit, **popen)


def no_hidden(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]


# --- 1. a folder of images and videos: unique names, unique ids, one --json document ------

@needs_network
def test_a_folder_run_gives_every_input_its_own_outputs(tmp_path, small_bus):
    folder = tmp_path / "in"
    folder.mkdir()
    write_clip(folder / "a.avi", small_bus, 3)
    h264_clip(folder / "a.mp4", 4)
    cv2.imwrite(str(folder / "a_000000000000.jpg"), zidane())
    proc = cli("in", "-o", "out", "-q", "--json", "-", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == sorted(
        ["a_avi.mp4", "a_mp4.mp4", "a_000000000000.png", "a_000000000000_coco.json",
         "a_000000000000_keypoints.json"]
        + [f"a_avi_{k:012d}_keypoints.json" for k in range(3)]
        + [f"a_mp4_{k:012d}_keypoints.json" for k in range(4)])
    assert frame_count(tmp_path / "out" / "a_avi.mp4") == 3
    assert frame_count(tmp_path / "out" / "a_mp4.mp4") == 4
    coco = json.loads(proc.stdout)                   # one JSON document, not one per input
    image = json.loads((tmp_path / "out" / "a_000000000000_coco.json").read_text())
    assert image and {r["image_id"] for r in image} == {0}
    with_people = [p for p in (tmp_path / "out").glob("*_keypoints.json")
                   if json.loads(p.read_text())["people"]]
    assert len(with_people) == 8                     # the image and every frame
    assert len({r["image_id"] for r in coco}) == 8   # an id of its own for each


# --- 2. --json (or --table) naming one of the run's own outputs ----------------------------

@pytest.mark.parametrize("args, fragment", [
    (["clip.mp4", "-o", "out", "--json", "out/clip.mp4"], "the drawn video"),
    (["clip.mp4", "-o", "out", "--json", "out/clip_000000000003_keypoints.json"],
     "per-frame JSON files of clip"),
    (["clip.mp4", "-o", "o.mp4", "--save-maps", "maps", "--json",
      "maps/clip_000000000001_pafs.jpg"], "per-frame maps of clip"),
    (["in", "-o", "out", "--json", "out/b.png"], "an output of b.jpg"),
    (["in", "-o", "out", "--json", "out/c_000000000002_keypoints.json"],
     "per-frame JSON files of c"),
])
def test_an_option_naming_another_output_is_refused_before_any_work(tmp_path, small_bus,
                                                                    args, fragment):
    h264_clip(tmp_path / "clip.mp4", 2, small_bus)
    (tmp_path / "in").mkdir()
    cv2.imwrite(str(tmp_path / "in" / "b.jpg"), small_bus)
    h264_clip(tmp_path / "in" / "c.mp4", 2, small_bus)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert_one_line_error(cli(*args, cwd=tmp_path), "would overwrite an output of this run",
                          fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


# --- 5. a truncated video fails as in the batch command ------------------------------------

@needs_network
def test_a_truncated_video_is_an_error_and_keeps_the_frames_read(tmp_path):
    clip = h264_clip(tmp_path / "full.mp4", 30, zidane(160, 96), step=3)
    data = clip.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[:len(data) * 80 // 100])
    proc = cli("cut.mp4", "-o", "out", "-q", cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    last = proc.stderr.splitlines()[-1]
    assert last.startswith("demo_image.py: error: video cut.mp4 is truncated or corrupt: "
                           "it ended after "), last
    assert "of its 30 frames" in last
    done = len(list((tmp_path / "out").glob("cut_*_keypoints.json")))
    assert 0 < done < 29 and frame_count(tmp_path / "out" / "cut.mp4") == done


# --- 6. a variable frame rate is kept ------------------------------------------------------

@needs_network
def test_the_drawn_video_keeps_the_source_timestamps(tmp_path):
    source = tmp_path / "vfr.mp4"
    # gaps of 0.04 s, then 0.08 s, then 0.2 s: a constant rate would move every frame
    subprocess.run([ffmpeg_executable(), "-loglevel", "error", "-y", "-loop", "1", "-i",
                    str(IMAGES / "zidane.jpg"), "-vf",
                    "scale=160:96,setpts='if(lt(N,3),N*0.04,if(lt(N,6),N*0.08,N*0.2))/TB'",
                    "-frames:v", "8", "-fps_mode", "vfr", "-pix_fmt", "yuv420p", str(source)],
                   check=True)
    wanted = packet_times(source)
    assert np.diff(wanted).round(3).tolist() == [0.04, 0.04, 0.16, 0.08, 0.08, 0.8, 0.2]
    proc = cli("vfr.mp4", "-o", "out", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert packet_times(tmp_path / "out" / "vfr.mp4") == pytest.approx(wanted, abs=1e-3)
    times = [json.loads((tmp_path / "out" / f"vfr_{k:012d}_keypoints.json").read_text())["time"]
             for k in range(8)]
    assert times == pytest.approx(wanted, abs=1e-3)


# --- 9. one line, not a traceback -----------------------------------------------------------

@needs_network
def test_a_full_disk_while_encoding_is_one_line(tmp_path):
    rng = np.random.default_rng(0)
    writer = H264Writer(tmp_path / "noise.mp4", FPS, (160, 96))
    for _ in range(100):                                 # new noise each frame: no compression
        writer.write(rng.integers(0, 255, (96, 160, 3), dtype=np.uint8))
    writer.commit()
    # the encoder is stopped by the limit while frames still go in (a broken pipe there
    # once ended in a traceback)
    proc = run_limited(["noise.mp4", "-o", "out", "-q"], tmp_path, 60_000)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 1 and "Traceback" not in err, err
    last = err.splitlines()[-1]          # the encoder stops while frames go in, or at the end
    assert last.startswith("demo_image.py: error: cannot write ") and "video encoder" in last \
        and "ffmpeg was killed by SIGXFSZ" in last, last
    assert not (tmp_path / "out" / "noise.mp4").exists()
    no_hidden(tmp_path / "out")


def test_a_frame_size_the_encoder_refuses_is_refused_before_the_network(tmp_path):
    subprocess.run([ffmpeg_executable(), "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "color=c=gray:s=17000x1000:d=0.2", "-r", "10", "-c:v", "mjpeg",
                    str(tmp_path / "wide.avi")], check=True)
    # missing weights: had the network been loaded first, that would be the error
    proc = cli("wide.avi", "-o", "out", "--weights", tmp_path / "none.pb", cwd=tmp_path)
    assert_one_line_error(proc, "wide.avi", "17000x1000", "16384")
    assert not (tmp_path / "out").exists()


@needs_network
def test_an_output_folder_that_looks_like_an_option(tmp_path):
    h264_clip(tmp_path / "clip.mp4", 3, zidane(160, 96))
    proc = cli("clip.mp4", "-o", "./-out", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert video_codec(tmp_path / "-out" / "clip.mp4") == "h264"
    assert frame_count(tmp_path / "-out" / "clip.mp4") == 3


@needs_network
def test_ctrl_c_while_the_table_cannot_be_written_exits_130_in_one_line(tmp_path):
    h264_clip(tmp_path / "clip.mp4", 400, step=0)
    # the table (about 2 kB a frame) outgrows the limit; the still video and the JSON do not
    proc = run_limited(["clip.mp4", "-o", "out", "--table", "t.csv", "-q"], tmp_path, 60_000)
    wait_for_file(proc, tmp_path / "out" / f"clip_{40:012d}_keypoints.json", poll=0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err
    last = err.splitlines()[-1]
    assert last.startswith("demo_image.py: interrupted after ") and "kept" in last, last
    assert "could not write the table t.csv" in last, last
    assert not (tmp_path / "t.csv").exists()
    no_hidden(tmp_path)
    no_hidden(tmp_path / "out")


# --- 12. the demo's parts ------------------------------------------------------------------

#: Sends SIGINT to itself just after frame 3's JSON file is written: between that frame's
#: outputs, where a real Ctrl-C once landed (the table and JSON had frame 7, the video 6).
INTERRUPT_AFTER_FRAME_3 = r"""
import os, signal, sys
from posekit.apps import demo as cli
from posekit.io import images as imageio

original = imageio.write_group

def write_group(outputs):
    original(outputs)
    if any(str(path).endswith("_000000000003_keypoints.json") for path, _ in outputs):
        os.kill(os.getpid(), signal.SIGINT)

imageio.write_group = write_group
sys.exit(cli.main(sys.argv[1:]))
"""


@needs_network
def test_ctrl_c_leaves_every_output_at_the_same_frame(tmp_path):
    h264_clip(tmp_path / "clip.mp4", 12, zidane(160, 96), step=3)
    proc = subprocess.run([sys.executable, "-c", INTERRUPT_AFTER_FRAME_3, "clip.mp4",
                           "-o", "out", "--table", "t.csv", "--json", "all.json", "-q"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(DEMO.parent)})
    assert proc.returncode == 130, proc.stderr
    json_frames = sorted(p.name for p in (tmp_path / "out").glob("clip_*_keypoints.json"))
    assert json_frames == [f"clip_{k:012d}_keypoints.json" for k in range(4)]
    assert frame_count(tmp_path / "out" / "clip.mp4") == 4
    with open(tmp_path / "t.csv", newline="") as handle:
        assert {int(r["frame"]) for r in csv.DictReader(handle)} == {0, 1, 2, 3}
    assert {r["image_id"] for r in json.loads((tmp_path / "all.json").read_text())} == \
        {0, 1, 2, 3}


def test_smooth_without_tracking_is_refused(tmp_path, small_bus):
    write_clip(tmp_path / "clip.avi", small_bus, 2)
    assert_one_line_error(cli("clip.avi", "-o", "out", "--smooth", "--no-track",
                              cwd=tmp_path), "--smooth needs tracking")
    cv2.imwrite(str(tmp_path / "a.png"), small_bus)
    assert_one_line_error(cli("a.png", "--smooth", cwd=tmp_path), "--smooth is for a video")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "clip.avi"]
