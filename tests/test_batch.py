"""Tests of ``python -m posekit.batch`` on a local Ray with 2 CPUs, shared by the whole module.

A small tree (three images, two short videos, a corrupt image and a cut video)
is written here; the batch outputs are compared with the demo's on the same
inputs; a rerun skips what is complete and redoes what was damaged.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit import batch, cli, manifest

from conftest import IMAGES, ROOT

WEIGHTS = ROOT / "model_weights" / "mobilenet_thin" / "graph_opt.pb"
pytestmark = pytest.mark.skipif(not (WEIGHTS.is_file() and (IMAGES / "zidane.jpg").is_file()),
                                reason="weights or sample images missing (make setup)")


def write_video(path: Path, image: np.ndarray, frames: int, fourcc: str) -> None:
    height, width = image.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10, (width, height))
    for k in range(frames):
        writer.write(np.roll(image, 6 * k, axis=1))
    writer.release()


@pytest.fixture(scope="module")
def tree(tmp_path_factory, small_bus):
    """in/ with a.jpg, sub/b.png, sub/c.jpg, v1.avi (5 frames), sub/v2.mp4 (4 frames),
    bad.jpg (not an image) and sub/cut.avi (a video cut in half)."""
    root = tmp_path_factory.mktemp("batch")
    src = root / "in"
    (src / "sub").mkdir(parents=True)
    zidane = cv2.resize(cv2.imread(str(IMAGES / "zidane.jpg")), (320, 180),
                        interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(src / "a.jpg"), small_bus)
    cv2.imwrite(str(src / "sub" / "b.png"), zidane)
    cv2.imwrite(str(src / "sub" / "c.jpg"), np.flip(small_bus, axis=1))
    write_video(src / "v1.avi", small_bus, 5, "MJPG")
    write_video(src / "sub" / "v2.mp4", zidane, 4, "mp4v")
    (src / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    write_video(root / "whole.avi", zidane, 10, "MJPG")
    data = (root / "whole.avi").read_bytes()
    (src / "sub" / "cut.avi").write_bytes(data[:len(data) // 2])
    return root


@pytest.fixture(scope="module")
def first_run(tree, local_ray):
    out = tree / "out"
    status = batch.main([str(tree / "in"), "-o", str(out), "-q"])
    return status, out, json.loads((out / manifest.MANIFEST).read_text())


def by_name(doc: dict) -> dict:
    return {record["name"]: record for record in doc["items"]}


def keypoints(path: Path) -> np.ndarray:
    people = json.loads(path.read_text())["people"]
    return np.array([p["pose_keypoints_2d"] for p in people], float).reshape(-1, 54)


def test_outputs_equal_the_demo_on_the_same_inputs(tree, first_run):
    status, out, doc = first_run
    demo = tree / "demo"
    demo.mkdir()
    assert cli.main([str(tree / "in"), "-o", str(demo / "top"), "-q"]) == 1   # bad.jpg skipped
    assert cli.main([str(tree / "in" / "sub"), "-o", str(demo / "sub"), "-q"]) == 0
    assert cli.main([str(tree / "in" / "v1.avi"), "-o", str(demo / "v1"), "-q"]) == 0
    assert cli.main([str(tree / "in" / "sub" / "v2.mp4"), "-o", str(demo / "v2"), "-q"]) == 0
    pairs = [(out / "a_keypoints.json", demo / "top" / "a_keypoints.json"),
             (out / "sub" / "b_keypoints.json", demo / "sub" / "b_keypoints.json"),
             (out / "sub" / "c_keypoints.json", demo / "sub" / "c_keypoints.json")]
    pairs += [(out / "v1" / f"v1_{k:012d}_keypoints.json", demo / "v1" / f"v1_{k:012d}_keypoints.json")
              for k in range(5)]
    pairs += [(out / "sub" / "v2" / f"v2_{k:012d}_keypoints.json",
               demo / "v2" / f"v2_{k:012d}_keypoints.json") for k in range(4)]
    found = 0
    for ours, theirs in pairs:
        assert set(json.loads(ours.read_text())) == set(json.loads(theirs.read_text()))
        assert json.loads(ours.read_text()).get("time") == json.loads(theirs.read_text()).get("time")
        a, b = keypoints(ours), keypoints(theirs)
        assert a.shape == b.shape, ours
        np.testing.assert_allclose(a, b, atol=1e-3)   # same network, decoder and settings
        found += len(a)
    assert found > 0
    records = by_name(doc)
    assert records["v1"]["frames"] == 5 and records["sub/v2"]["frames"] == 4
    assert {n: r["status"] for n, r in records.items()} == {
        "a": "done", "bad": "failed", "sub/b": "done", "sub/c": "done", "sub/cut": "failed",
        "sub/v2": "done", "v1": "done"}


def test_bad_files_are_recorded_and_the_run_goes_on(first_run):
    status, out, doc = first_run
    assert status == 1
    summary = doc["summary"]  # the progress bar's rate (after the first frame) is recorded too
    assert summary["steady_frames_per_second"] > 0 and summary["frames_per_second"] > 0
    records = by_name(doc)
    assert "truncated or corrupt" in records["bad"]["error"]
    assert "sub/cut.avi" in records["sub/cut"]["error"]
    assert not (out / "bad_keypoints.json").exists() and not (out / "sub" / "cut").exists()
    assert doc["summary"]["failed"] == 2 and doc["summary"]["done"] == 5
    processed = sum(r["frames"] for r in doc["items"])        # failed ones: before the error
    assert doc["summary"]["frames"] == processed >= 3 + 5 + 4
    assert not (out / manifest.JOURNAL).exists()
    assert not [p for p in out.rglob(".*")]                       # no temporary files


def test_a_rerun_skips_complete_items_and_redoes_damaged_ones(tree, first_run, capsys):
    _, first_out, first_doc = first_run
    out = tree / "rerun"
    shutil.copytree(first_out, out)
    damaged = out / "sub" / "b_keypoints.json"
    original = damaged.read_bytes()
    damaged.write_bytes(original[:-5])                            # present but incomplete
    (out / "v1" / "v1_000000000003_keypoints.json").unlink()      # a frame missing
    status = batch.main([str(tree / "in"), "-o", str(out)])
    doc = json.loads((out / manifest.MANIFEST).read_text())
    statuses = {n: r["status"] for n, r in by_name(doc).items()}
    assert statuses == {"a": "skipped", "bad": "failed", "sub/b": "done", "sub/c": "skipped",
                        "sub/cut": "failed", "sub/v2": "skipped", "v1": "done"}
    assert status == 1
    assert doc["summary"]["frames"] == 1 + 5 + by_name(doc)["sub/cut"]["frames"]
    assert damaged.read_bytes() == original
    for name in ("sub/b", "v1"):
        assert by_name(doc)[name]["sha256"] == by_name(first_doc)[name]["sha256"]
    captured = capsys.readouterr()
    assert "7 items: 2 done, 3 skipped (already complete), 2 failed" in captured.out
    assert captured.err.count("skipped: ") == 2


def test_a_list_file_of_complete_items_needs_no_work(tree, first_run, tmp_path):
    """Names are relative to the listed files' common folder, so a list of a.jpg and
    sub/v2.mp4 finds the outputs of the folder run complete; Ray is not even needed."""
    _, first_out, _ = first_run
    out = tmp_path / "again"
    shutil.copytree(first_out, out)
    listing = tree / "in" / "some.txt"
    listing.write_text("a.jpg\nsub/v2.mp4\n")
    try:
        status = batch.main([str(listing), "-o", str(out), "-q"])
    finally:
        listing.unlink()
    doc = json.loads((out / manifest.MANIFEST).read_text())
    assert status == 0
    assert [(r["name"], r["status"]) for r in doc["items"]] == [("a", "skipped"),
                                                                 ("sub/v2", "skipped")]
    assert doc["summary"]["frames"] == 0


def test_user_errors_are_one_line_before_any_work(tree, capsys):
    assert batch.main([str(tree / "missing"), "-o", str(tree / "x")]) == 1
    assert batch.main([str(tree / "in"), "-o", str(tree / "in" / "out")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith("python -m posekit.batch: error: ")
                                 for line in err)
    assert not (tree / "x").exists() and not (tree / "in" / "out").exists()
