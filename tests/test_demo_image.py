"""Tests of the demo_image.py command line.

Error cases, the lab-like run without arguments, Ctrl-C and the help run as a
subprocess, like a user runs the command (stderr must hold exactly one line,
whatever native libraries print). Runs whose outputs are the point call
``posekit.apps.demo.main`` in this process (:func:`cli_here`), which saves a Python
and TensorFlow start-up per run.

Error cases must end with exactly one ``demo_image.py: error: ...`` line on
stderr, a non-zero exit status, no traceback and no output file. Runs that
need the network are skipped only when the mobilenet_thin weights are absent
(``make test`` fetches them first).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from posekit.decode.decoder import DecoderParams, decode_handout, decode_lab
from posekit.io.maps_view import grid_shape

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "demo_image.py"
WEIGHTS = ROOT / "model_weights" / "mobilenet_thin" / "graph_opt.pb"
IMAGES = ROOT / "images"
GOLDEN = json.loads((ROOT / "tests" / "data" / "cli_json_structure.json").read_text())

needs_network = pytest.mark.skipif(
    not (WEIGHTS.is_file() and (IMAGES / "bus.jpg").is_file()
         and (IMAGES / "zidane.jpg").is_file()),
    reason="mobilenet_thin weights or sample images missing: run `make setup` "
           "(`make test` fetches them)")


def cli(*args, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    """Run ``python demo_image.py ARGS`` and capture its output."""
    return subprocess.run([sys.executable, str(DEMO), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def cli_here(*args, cwd: Path) -> SimpleNamespace:
    """Run the command line in this process, in ``cwd``: ``returncode``, ``stdout``, ``stderr``
    (what Python code printed; native libraries' own output is not captured)."""
    from posekit.apps.demo import main

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp, redirect_stdout(out), redirect_stderr(err):
        mp.chdir(cwd)
        status = main([str(a) for a in args], prog="demo_image.py")
    return SimpleNamespace(returncode=status, stdout=out.getvalue(), stderr=err.getvalue())


def assert_one_line_error(proc: subprocess.CompletedProcess, *fragments: str,
                          status: int = 1) -> str:
    """The run failed with ``status`` and exactly one error line containing ``fragments``."""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("demo_image.py: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert proc.returncode == status
    return lines[0]


def listing(folder: Path) -> list:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# --- fast: help and errors before the network loads ----------------------------------------

def test_help_explains_every_flag_with_its_default():
    proc = cli("--help")
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    for flag in ("--output", "--model", "--weights", "--decoder", "--peak-threshold",
                 "--paf-threshold", "--min-parts", "--min-score", "--json", "--openpose-json",
                 "--save-maps", "--max-side", "--quiet", "--skip-hash-check", "--runtime"):
        assert flag in text, flag
    assert "(default: images/1.jpg)" in text and "(default: mobilenet_thin)" in text
    # threshold defaults are the decoders' own
    best = DecoderParams()
    lab = {k: v.default for k, v in __import__("inspect").signature(decode_lab)
           .parameters.items()}
    kit = {k: v.default for k, v in __import__("inspect").signature(decode_handout)
           .parameters.items()}
    for best_value, name in ((best.peak_threshold, "peak_threshold"),
                             (best.min_paf_score, "min_paf_score"),
                             (best.min_parts, "min_num_body_parts"),
                             (best.min_mean_score, "min_score")):
        assert (f"(default: best {best_value}, lab {lab[name]}, handout {kit[name]})"
                in text), name


def _make_inputs(tmp: Path) -> None:
    """The broken inputs of :func:`test_user_errors` (all inside ``tmp/in``)."""
    inp = tmp / "in"
    inp.mkdir()
    bus = cv2.imread(str(IMAGES / "bus.jpg")) if (IMAGES / "bus.jpg").is_file() \
        else np.full((270, 203, 3), 90, np.uint8)
    small = cv2.resize(bus, (203, 270))
    (inp / "text.jpg").write_text("this is not a picture\n")
    jpeg = cv2.imencode(".jpg", small)[1].tobytes()
    (inp / "cut.jpg").write_bytes(jpeg[:len(jpeg) // 2])
    png = cv2.imencode(".png", small)[1].tobytes()
    (inp / "cut.png").write_bytes(png[:len(png) // 2])
    cv2.imwrite(str(inp / "tiny.png"), small[:4, :4])
    cv2.imwrite(str(inp / "thin.png"), cv2.resize(small, (4000, 12)))
    (inp / "zero.pgm").write_bytes(b"P5\n0 10\n255\n")
    (inp / "empty.jpg").write_bytes(b"")
    (inp / "no_images").mkdir()
    (inp / "no_images" / "notes.txt").write_text("hello")
    (inp / "text.mp4").write_text("not a video either")
    writer = cv2.VideoWriter(str(inp / "zero.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10,
                             (64, 64))
    writer.release()
    cv2.imwrite(str(inp / "ok.png"), small)
    (inp / "a_file").write_text("")


ERRORS = {
    # name: (arguments, fragments of the message)
    "missing image": (["in/missing.jpg"], ["in/missing.jpg", "no such file"]),
    "text file named .jpg": (["in/text.jpg"], ["in/text.jpg", "not an image"]),
    "truncated JPEG": (["in/cut.jpg"], ["in/cut.jpg", "truncated"]),
    "truncated PNG": (["in/cut.png"], ["in/cut.png", "truncated or corrupt"]),
    "4x4 image": (["in/tiny.png"], ["4x4 pixels", "at least 8x8"]),
    "zero width": (["in/zero.pgm"], ["in/zero.pgm"]),
    "empty file": (["in/empty.jpg"], ["empty"]),
    "too thin to downscale": (["in/thin.png"], ["4000x12", "--max-side"]),
    "folder without images": (["in/no_images", "-o", "out"], ["no images in folder"]),
    "not a video": (["in/text.mp4", "-o", "out"], ["cannot open", "in/text.mp4"]),
    "video without frames": (["in/zero.avi", "-o", "out"], ["no frames"]),
    "missing weights": (["in/ok.png", "--weights", "/nonexistent/graph.pb"],
                        ["/nonexistent/graph.pb", "not found", "make setup"]),
    "output folder missing": (["in/ok.png", "-o", "nowhere/out.png"],
                              ["nowhere", "does not exist"]),
    "output folder is a file": (["in/ok.png", "-o", "in/a_file/out.png"], ["not a folder"]),
    "JSON folder missing": (["in/ok.png", "--json", "nowhere/out.json"], ["does not exist"]),
    "maps folder parent missing": (["in/ok.png", "--save-maps", "nowhere/maps"],
                                   ["cannot create folder"]),
    "not an image format": (["in/ok.png", "-o", "out.txt"], ["out.txt", "image format"]),
    "output overwrites input": (["in/ok.png", "-o", "in/ok.png"], ["overwrite the input"]),
    "OpenPose JSON for a folder": (["in", "-o", "out", "--openpose-json", "x.json"],
                                   ["--openpose-json"]),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_user_errors_give_one_line_and_leave_nothing(tmp_path, case):
    _make_inputs(tmp_path)
    before = listing(tmp_path)
    args, fragments = ERRORS[case]
    extra = [] if "--json" in args else ["--json", "out.json"]
    proc = cli(*args, *extra, cwd=tmp_path)
    assert_one_line_error(proc, *fragments)
    assert listing(tmp_path) == before          # no output file, no temporary file, no folder


@pytest.mark.skipif(not WEIGHTS.is_file(), reason="mobilenet_thin weights missing: run "
                    "`make setup`")
def test_corrupt_weights_name_the_file_and_how_to_refetch(tmp_path):
    bad = tmp_path / "graph_opt.pb"
    data = bytearray(WEIGHTS.read_bytes())
    data[len(data) // 2] ^= 0xFF                # one flipped byte in the middle
    bad.write_bytes(bytes(data))
    cv2.imwrite(str(tmp_path / "ok.png"), np.full((64, 64, 3), 90, np.uint8))
    before = listing(tmp_path)
    proc = cli("ok.png", "--weights", bad, cwd=tmp_path)
    assert_one_line_error(proc, str(bad), "corrupt", "SHA-256", "make setup")
    assert listing(tmp_path) == before


@pytest.mark.skipif(not WEIGHTS.is_file(), reason="mobilenet_thin weights missing: run "
                    "`make setup`")
def test_unparsable_weights_fail_cleanly_even_without_the_hash_check(tmp_path):
    bad = tmp_path / "graph_opt.pb"
    bad.write_bytes(WEIGHTS.read_bytes()[:3_000_000])          # truncated copy
    cv2.imwrite(str(tmp_path / "ok.png"), np.full((64, 64, 3), 90, np.uint8))
    proc = cli("ok.png", "--weights", bad, "--skip-hash-check", cwd=tmp_path)
    assert_one_line_error(proc, str(bad), "not a valid TensorFlow frozen graph")
    assert not (tmp_path / "output.png").exists()


@pytest.mark.parametrize("args, fragment", [
    (["--min-parts", "0"], "--min-parts"),
    (["--peak-threshold", "nan"], "--peak-threshold"),
    (["--model", "resnet"], "--model"),
    (["--max-side", "-3"], "--max-side"),
])
def test_bad_flags_give_one_line(args, fragment):
    proc = cli(*args)
    assert_one_line_error(proc, fragment, status=2)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root can write into read-only folders")
def test_unwritable_output_folder(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    cv2.imwrite(str(tmp_path / "ok.png"), np.full((64, 64, 3), 90, np.uint8))
    try:
        proc = cli("ok.png", "-o", locked / "out.png", cwd=tmp_path)
        assert_one_line_error(proc, "not writable")
    finally:
        locked.chmod(0o755)


# --- with the network ------------------------------------------------------------------------

@needs_network
def test_no_arguments_behaves_like_the_lab_demo(tmp_path):
    (tmp_path / "images").mkdir()
    shutil.copy(IMAGES / "bus.jpg", tmp_path / "images" / "1.jpg")
    proc = cli(cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    for stage in GOLDEN["timing_lines"]:
        [line] = [l for l in lines if l.startswith(stage + ":")]
        assert float(line.split()[1]) >= 0 and line.endswith(" s")
    drawn = cv2.imread(str(tmp_path / "output.png"))
    assert drawn is not None and drawn.shape == (1080, 810, 3)
    assert sorted(os.listdir(tmp_path)) == ["images", "output.png"]


@needs_network
def test_both_runtimes_find_the_same_people(tmp_path):
    found = {}
    for runtime in ("tensorflow", "tflite"):
        out = tmp_path / f"{runtime}.json"
        proc = cli_here(IMAGES / "zidane.jpg", "-o", tmp_path / f"{runtime}.png", "--json",
                        out, "--runtime", runtime, "-q", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        found[runtime] = json.loads(out.read_text())
    assert len(found["tensorflow"]) == len(found["tflite"]) > 0
    for a, b in zip(found["tensorflow"], found["tflite"]):
        np.testing.assert_allclose(a["keypoints"], b["keypoints"], atol=0.05)


def _structure(coco: list, openpose: dict) -> dict:
    """The key sets and lengths of the two JSON outputs."""
    return {
        "coco_result_keys": sorted({k for r in coco for k in r}),
        "coco_lengths": sorted({len(r["keypoints"]) for r in coco}),
        "coco_category_ids": sorted({r["category_id"] for r in coco}),
        "openpose_keys": sorted(openpose),
        "openpose_person_keys": sorted({k for p in openpose["people"] for k in p}),
        "openpose_lengths": sorted({len(p["pose_keypoints_2d"]) for p in openpose["people"]}),
    }


@needs_network
def test_zidane_json_matches_the_golden_structure(tmp_path):
    image = IMAGES / "zidane.jpg"
    proc = cli_here(image, "-o", "out.png", "--json", "coco.json", "--openpose-json", "op.json",
                    cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    coco = json.loads((tmp_path / "coco.json").read_text())
    openpose = json.loads((tmp_path / "op.json").read_text())
    assert coco and len(coco) == len(openpose["people"])
    assert f"people: {len(coco)}," in proc.stdout
    assert _structure(coco, openpose) == {
        "coco_result_keys": GOLDEN["coco_result_keys"],
        "coco_lengths": [3 * len(GOLDEN["coco_keypoint_names"])],
        "coco_category_ids": [GOLDEN["coco_category_id"]],
        "openpose_keys": GOLDEN["openpose_keys"],
        "openpose_person_keys": GOLDEN["openpose_person_keys"],
        "openpose_lengths": [3 * len(GOLDEN["openpose_keypoint_names"])],
    }
    assert len(GOLDEN["coco_keypoint_names"]) == 17
    assert len(GOLDEN["openpose_keypoint_names"]) == 18
    height, width = cv2.imread(str(image)).shape[:2]
    drawn = cv2.imread(str(tmp_path / "out.png"))
    assert drawn.shape == (height, width, 3)
    op_index = {n: i for i, n in enumerate(GOLDEN["openpose_keypoint_names"])}
    scores = [r["score"] for r in coco]
    assert scores == sorted(scores, reverse=True)
    for result, person in zip(coco, openpose["people"]):
        assert result["image_id"] == 0
        flat, op = result["keypoints"], person["pose_keypoints_2d"]
        # COCO order: each COCO triple is the OpenPose keypoint of the same name
        for i, name in enumerate(GOLDEN["coco_keypoint_names"]):
            x, y, v = flat[3 * i:3 * i + 3]
            ox, oy, score = op[3 * op_index[name]:3 * op_index[name] + 3]
            assert v == (1 if score > 0 else 0), name
            assert x == pytest.approx(ox, abs=0.01) and y == pytest.approx(oy, abs=0.01)
            if v:
                assert -1 <= x <= width and -1 <= y <= height
            else:
                assert x == y == 0
        assert any(op[3 * i + 2] > 0 for i in range(18))


@needs_network
def test_folder_of_odd_pngs_and_a_huge_image_with_maps(tmp_path, odd_pngs):
    (tmp_path / "in").mkdir()
    sizes = {}
    for name, (path, expected) in odd_pngs.items():
        shutil.move(path, tmp_path / "in" / path.name)
        sizes[path.stem] = expected.shape[:2]
    huge = np.full((60, 4000, 3), 90, np.uint8)        # longer than --max-side 1920
    cv2.imwrite(str(tmp_path / "in" / "huge.png"), huge)
    sizes["huge"] = huge.shape[:2]
    (tmp_path / "in" / "README.md").write_text("ignored: not an image")
    proc = cli_here(tmp_path / "in", "-o", "out", "--save-maps", "out/maps", "--json",
                    "all.json", "--max-side", "1920", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    notes = [l for l in proc.stderr.splitlines() if l.startswith("demo_image.py:")]
    assert len(notes) == 1 and "huge.png is 4000x60" in notes[0] and "1920x29" in notes[0]
    assert "Traceback" not in proc.stderr
    out = tmp_path / "out"
    for stem, (height, width) in sizes.items():
        drawn = cv2.imread(str(out / f"{stem}.png"))
        assert drawn.shape == (height, width, 3), stem
        coco = json.loads((out / f"{stem}_coco.json").read_text())
        openpose = json.loads((out / f"{stem}_keypoints.json").read_text())
        assert isinstance(coco, list) and set(openpose) == set(GOLDEN["openpose_keys"])
        # maps are drawn over what the network saw (the huge one downscaled)
        seen = (height, width) if max(height, width) <= 1920 else \
            (round(height * 1920 / width), 1920)
        heat = cv2.imread(str(out / "maps" / f"{stem}_heatmaps.jpg"))
        pafs = cv2.imread(str(out / "maps" / f"{stem}_pafs.jpg"))
        assert heat.shape[:2] == grid_shape(seen), stem
        assert pafs.shape[:2] == seen, stem
    everything = json.loads((tmp_path / "all.json").read_text())
    assert isinstance(everything, list)
    assert not [p for p in out.rglob(".*")]            # no temporary files left
    assert f"{len(sizes)} images in" in proc.stdout


@needs_network
def test_folder_with_an_unreadable_file_processes_the_rest(tmp_path, small_bus):
    (tmp_path / "in").mkdir()
    cv2.imwrite(str(tmp_path / "in" / "a.png"), small_bus)
    (tmp_path / "in" / "b.jpg").write_text("not a picture")
    proc = cli_here(tmp_path / "in", "-o", "out", cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.startswith("demo_image.py:")]
    assert "skipped" in lines[0] and "b.jpg" in lines[0]
    assert lines[-1] == "demo_image.py: error: 1 of 2 images were skipped (see above)"
    assert sorted(os.listdir(tmp_path / "out")) == ["a.png", "a_coco.json", "a_keypoints.json"]


@needs_network
def test_video_gives_drawn_video_and_json_per_frame(tmp_path, small_bus):
    frames = 6
    writer = cv2.VideoWriter(str(tmp_path / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10,
                             (small_bus.shape[1], small_bus.shape[0]))
    for k in range(frames):
        writer.write(np.roll(small_bus, 5 * k, axis=1))
    writer.release()
    proc = cli_here("clip.mp4", "-o", "out", "--json", "out/all.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    names = sorted(os.listdir(tmp_path / "out"))
    [video] = [n for n in names if n.startswith("clip.")]
    assert names == sorted([video, "all.json"] + [f"clip_{k:012d}_keypoints.json"
                                                  for k in range(frames)])
    source_frame = cv2.VideoCapture(str(tmp_path / "clip.mp4")).read()[1]  # even sizes
    cap = cv2.VideoCapture(str(tmp_path / "out" / video))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == frames
    ok, first = cap.read()
    assert ok and first.shape == source_frame.shape
    for k in range(frames):
        doc = json.loads((tmp_path / "out" / f"clip_{k:012d}_keypoints.json").read_text())
        assert set(doc) == set(GOLDEN["video_openpose_keys"])
        assert doc["time"] == pytest.approx(k / 10)
    results = json.loads((tmp_path / "out" / "all.json").read_text())
    assert all(set(r) == set(GOLDEN["video_coco_result_keys"]) for r in results)
    ids = {r["image_id"] for r in results}
    assert ids <= set(range(frames))
    assert f"{frames} frames in" in proc.stdout


@needs_network
def test_ctrl_c_stops_cleanly_and_keeps_finished_outputs(tmp_path):
    small = cv2.resize(cv2.imread(str(IMAGES / "zidane.jpg")), (320, 180))
    (tmp_path / "in").mkdir()
    for k in range(60):
        cv2.imwrite(str(tmp_path / "in" / f"{k:03d}.jpg"), small)
    proc = subprocess.Popen([sys.executable, str(DEMO), "in", "-o", "out", "--json",
                             "all.json"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not (tmp_path / "out" / "001.png").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    last = err.splitlines()[-1]
    assert last.startswith("demo_image.py: interrupted after ") and "of 60 images" in last
    done = int(last.split("after ")[1].split()[0])
    out = tmp_path / "out"
    assert 2 <= done < 60
    assert not [p for p in out.iterdir() if p.name.startswith(".")]   # no temporary files
    finished = sorted(p.stem for p in out.glob("*.png"))
    assert len(finished) in (done, done + 1)     # the last one may be complete but uncounted
    # an image's outputs appear all together or not at all
    assert sorted(p.name[:-len("_keypoints.json")] for p in out.glob("*_keypoints.json")) \
        == finished == sorted(p.name[:-len("_coco.json")] for p in out.glob("*_coco.json"))
    for stem in finished:
        assert cv2.imread(str(out / f"{stem}.png")).shape == small.shape
        json.loads((out / f"{stem}_keypoints.json").read_text())
    coco = json.loads((tmp_path / "all.json").read_text())
    assert {r["image_id"] for r in coco} <= set(range(done))
