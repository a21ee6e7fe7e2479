"""Hostile-user cases of the demo CLI (issue 10): no output destroys a file, lands on an
input or shares a name; one bad input never ends a run; SIGTERM is Ctrl-C.

CLI cases run ``demo_image.py`` in a subprocess, as a user does; special files
are FIFOs in a temporary folder (never the machine's own devices).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.apps import demo as cli_module
from posekit.apps import outputs
from posekit.io import images as imageio
from posekit.video.reader import VideoReader

from test_demo_image import DEMO, IMAGES, assert_one_line_error, cli, listing, needs_network
from test_imageio import png_bomb
from conftest import wait_for_file, write_clip


@pytest.fixture
def small(small_bus):
    return small_bus


# --- 1. special files, symlinks and standard output ----------------------------------------

def test_destination_kinds(tmp_path):
    assert imageio.destination_kind("-") == "stdout"
    assert imageio.destination_kind(tmp_path / "new.json") == "file"
    assert imageio.destination_kind("/dev/null") == "special"       # looked at, not written
    os.mkfifo(tmp_path / "pipe")
    assert imageio.destination_kind(tmp_path / "pipe") == "special"
    (tmp_path / "link").symlink_to(tmp_path / "target")
    with pytest.raises(ValueError, match="symbolic link"):
        imageio.destination_kind(tmp_path / "link")
    with pytest.raises(ValueError, match="folder"):
        imageio.destination_kind(tmp_path)


def test_json_into_a_fifo_is_written_in_place(tmp_path, small):
    cv2.imwrite(str(tmp_path / "a.png"), small)
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    proc = cli("a.png", "-o", "out.png", "--json", "pipe.json", cwd=tmp_path)
    reader.join(timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert fifo.is_fifo() and isinstance(json.loads(received[0]), list)


def test_json_to_stdout_with_a_dash(tmp_path, small):
    cv2.imwrite(str(tmp_path / "a.png"), small)
    proc = cli("a.png", "-o", "out.png", "--json", "-", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert isinstance(json.loads(proc.stdout), list)       # timings went to stderr
    assert "people:" in proc.stderr


def test_outputs_through_symlinks_are_refused(tmp_path, small):
    cv2.imwrite(str(tmp_path / "a.png"), small)
    (tmp_path / "victim.txt").write_text("keep me")
    (tmp_path / "link.json").symlink_to(tmp_path / "victim.txt")
    (tmp_path / "link.png").symlink_to(tmp_path / "victim.txt")
    for args in (["--json", "link.json"], ["-o", "link.png"]):
        proc = cli("a.png", *args, cwd=tmp_path)
        assert_one_line_error(proc, "symbolic link")
    assert (tmp_path / "victim.txt").read_text() == "keep me"


# --- 2. no output inside the folder being read ---------------------------------------------

@pytest.mark.parametrize("args, flag", [
    (["-o", "out", "--json", "in/a.jpg"], "--json"),
    (["-o", "out", "--save-maps", "in"], "--save-maps"),
    (["-o", "in/poses"], "-o"),
])
def test_folder_outputs_inside_the_input_folder_are_refused(tmp_path, small, args, flag):
    (tmp_path / "in").mkdir()
    cv2.imwrite(str(tmp_path / "in" / "a.jpg"), small)
    before = listing(tmp_path)
    proc = cli("in", *args, cwd=tmp_path)
    assert_one_line_error(proc, flag, "inside the input folder")
    assert listing(tmp_path) == before


# --- 3. unique output names ----------------------------------------------------------------

def test_output_stems_are_unique_ignoring_case():
    files = [Path("bus.jpg"), Path("bus.JPG"), Path("bus_jpg.png"), Path("a.png"), Path("A.jpg")]
    stems = outputs.output_stems(files)
    assert len({s.lower() for s in stems}) == len(files)
    assert stems[3:] == ["a_png", "A_jpg"]


def test_two_options_naming_one_file_are_refused(tmp_path, small):
    cv2.imwrite(str(tmp_path / "a.png"), small)
    for args in (["-o", "o.png", "--json", "o.png"],
                 ["-o", "o.png", "--json", "-", "--openpose-json", "-"],
                 ["-o", "o.png", "--json", "x.json", "--openpose-json", "./x.json"],
                 ["-o", "maps/a_heatmaps.jpg", "--save-maps", "maps"]):
        (tmp_path / "maps").mkdir(exist_ok=True)
        proc = cli("a.png", *args, cwd=tmp_path)
        assert_one_line_error(proc, "the same output")
    assert not (tmp_path / "o.png").exists()


@needs_network
def test_clashing_names_in_a_folder_all_get_outputs(tmp_path, small):
    (tmp_path / "in").mkdir()
    for name in ("bus.jpg", "bus.JPG", "bus_jpg.png", "1.png", "x.png"):
        cv2.imwrite(str(tmp_path / "in" / name), small)
    if len(list((tmp_path / "in").iterdir())) < 5:
        pytest.skip("case-insensitive file system")
    proc = cli("in", "-o", "out", "--json", "all.json", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    pictures = sorted(p.name for p in (tmp_path / "out").glob("*.png"))
    assert len(pictures) == 5 and len({p.lower() for p in pictures}) == 5
    per_image = [json.loads(p.read_text()) for p in (tmp_path / "out").glob("*_coco.json")]
    ids = [r["image_id"] for people in per_image for r in people[:1]]
    assert len(ids) == len(set(ids))


# --- 4. unique image ids -------------------------------------------------------------------

def test_image_ids_are_unique_per_run():
    files = [Path(n) for n in ("1.jpg", "a.jpg", "b.jpg", "0001.png", "7.jpg")]
    ids = outputs.image_ids(files)
    assert len(set(ids)) == len(ids)
    assert ids[0] == 1 and ids[4] == 7 and min(ids[1], ids[2], ids[3]) > 7


# --- 5. one bad input never ends a folder run ----------------------------------------------

@needs_network
def test_a_decompression_bomb_is_one_skipped_line(tmp_path, small):
    (tmp_path / "in").mkdir()
    cv2.imwrite(str(tmp_path / "in" / "a.png"), small)
    png_bomb(tmp_path / "in" / "b.png", 15000, colour_type=6)
    cv2.imwrite(str(tmp_path / "in" / "c.png"), small)
    proc = cli("in", "-o", "out", "--json", "all.json", "-q", cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert any("skipped" in l and "b.png" in l and "too large" in l for l in lines), lines
    assert lines[-1] == "demo_image.py: error: 1 of 3 images were skipped (see above)"
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["a.png", "c.png"]
    assert isinstance(json.loads((tmp_path / "all.json").read_text()), list)


# --- 6. video: SIGTERM, an output name that is a folder, frames that change size ----------

def test_video_output_that_is_a_folder_fails_before_any_work(tmp_path, small):
    write_clip(tmp_path / "clip.avi", small, 3)
    (tmp_path / "out" / "clip.mp4").mkdir(parents=True)
    start = time.monotonic()
    proc = cli("clip.avi", "-o", "out", "--weights", tmp_path / "none.pb", cwd=tmp_path)
    assert_one_line_error(proc, "clip.mp4", "folder")
    assert time.monotonic() - start < 60


@needs_network
def test_sigterm_during_a_video_keeps_the_finished_frames(tmp_path, small):
    write_clip(tmp_path / "clip.avi", small, 400)
    proc = subprocess.Popen([sys.executable, str(DEMO), "clip.avi", "-o", "out"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    wait_for_file(proc, tmp_path / "out" / f"clip_{3:012d}_keypoints.json", poll=0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted after" in err.splitlines()[-1]
    names = os.listdir(tmp_path / "out")
    assert not [n for n in names if n.startswith(".")], names        # no hidden .part file
    [video] = [n for n in names if n.startswith("clip.")]
    frames = int(cv2.VideoCapture(str(tmp_path / "out" / video)).get(cv2.CAP_PROP_FRAME_COUNT))
    assert frames >= 4


@needs_network
def test_frames_that_change_size_midway_are_kept_or_skipped(tmp_path, small, monkeypatch,
                                                               capsys):
    write_clip(tmp_path / "clip.avi", small, 2)
    sizes = [small, cv2.resize(small, (101, 135)), small[:4, :4], small]

    def frames(self):
        yield from sizes

    monkeypatch.setattr(VideoReader, "__iter__", frames)
    status = cli_module.main([str(tmp_path / "clip.avi"), "-o", str(tmp_path / "out"), "-q"])
    err = capsys.readouterr().err
    assert status == 1 and "frame 2 (4x4)" in err and "1 of 4 frames were skipped" in err
    names = sorted(os.listdir(tmp_path / "out"))
    assert [n for n in names if n.endswith(".json")] == [
        f"clip_{k:012d}_keypoints.json" for k in (0, 1, 3)]
    [video] = [n for n in names if n.startswith("clip.")]
    assert int(cv2.VideoCapture(str(tmp_path / "out" / video)).get(
        cv2.CAP_PROP_FRAME_COUNT)) == 4


# --- 7. an image's outputs appear all together or not at all -------------------------------

def test_write_group_is_all_or_nothing(tmp_path):
    good, bad = tmp_path / "a.json", tmp_path / "missing" / "b.json"
    with pytest.raises(OSError):
        imageio.write_group([(good, b"1"), (bad, b"2")])
    assert listing(tmp_path) == []                   # nothing renamed, no temporary left
    imageio.write_group([(good, b"1"), (tmp_path / "c.json", b"2")])
    assert good.read_bytes() == b"1" and (tmp_path / "c.json").read_bytes() == b"2"
    with pytest.raises(ValueError, match="share a path"):
        imageio.write_group([(good, b"1"), (tmp_path / "." / "a.json", b"2")])


# --- 8. the network's input is bounded at --max-side 0 --------------------------------------

@needs_network
def test_a_huge_image_at_full_size_is_one_clear_error(tmp_path):
    """6000 x 8000 (48 megapixels, under the file limit) once took more than 12 GB."""
    cv2.imwrite(str(tmp_path / "huge.jpg"), np.full((6000, 8000, 3), 90, np.uint8))
    start = time.monotonic()
    proc = cli("huge.jpg", "-o", "out.png", "--max-side", "0", cwd=tmp_path)
    assert_one_line_error(proc, "huge.jpg", "8000x6000 pixels is too large for the network",
                          "--max-side")
    assert time.monotonic() - start < 60 and not (tmp_path / "out.png").exists()


def test_accurate_mode_checks_every_scale_before_any_work(tmp_path):
    """4600 x 2600 fits the network at scale 1 but not at the accurate mode's 1.5; the
    first two scales once ran (11 s, 2.1 GB) before the third was refused."""
    cv2.imwrite(str(tmp_path / "wide.jpg"), np.full((2600, 4600, 3), 90, np.uint8))
    # missing weights: had the network been loaded first, that would be the error
    proc = cli("wide.jpg", "-o", "out.png", "--accurate", "--max-side", "0",
               "--weights", tmp_path / "none.pb", cwd=tmp_path)
    assert_one_line_error(proc, "wide.jpg", "4600x2600", "scale 1.5 (6900x3900)",
                          "--max-side")
    assert not (tmp_path / "out.png").exists()
