"""Tests of the COCO evaluation command on a tiny set the test writes itself."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from posekit.evaluate import coco_stats, load_annotations

from conftest import ROOT

WEIGHTS = ROOT / "model_weights" / "mobilenet_thin" / "graph_opt.pb"
IMAGES = ROOT / "images"


def coco_set(path, entries):
    """Write a COCO keypoint file: ``entries`` = [(image_id, file, w, h, [keypoints17x3])]."""
    images, annotations = [], []
    for image_id, name, width, height, people in entries:
        images.append({"id": image_id, "file_name": name, "width": width, "height": height})
        for kps in people:
            kps = np.asarray(kps, float).reshape(17, 3)
            seen = kps[kps[:, 2] > 0, :2]
            x0, y0 = seen.min(0)
            w, h = seen.max(0) - seen.min(0)
            annotations.append({
                "id": len(annotations) + 1, "image_id": image_id, "category_id": 1,
                "iscrowd": 0, "bbox": [x0, y0, w, h], "area": float(w * h),
                "num_keypoints": int((kps[:, 2] > 0).sum()),
                "keypoints": [round(v, 2) for v in kps.reshape(-1).tolist()]})
    path.write_text(json.dumps({
        "images": images, "annotations": annotations,
        "categories": [{"id": 1, "name": "person", "supercategory": "person"}]}))
    return path


def person(x, y, size=100.0):
    kps = np.zeros((17, 3))
    kps[:, 0] = x + size * np.linspace(0, 0.5, 17)
    kps[:, 1] = y + size * np.linspace(0, 1.0, 17)
    kps[:, 2] = 2
    return kps


def as_result(image_id, kps, score=1.0):
    flat = np.asarray(kps, float).copy()
    flat[:, 2] = 1
    return {"image_id": image_id, "category_id": 1, "keypoints": flat.reshape(-1).tolist(),
            "score": score}


def test_coco_stats_perfect_shifted_and_empty(tmp_path):
    truth = [person(50, 40), person(300, 60, 150)]
    ann = coco_set(tmp_path / "gt.json", [(7, "a.jpg", 640, 480, truth)])
    perfect = coco_stats(ann, [as_result(7, k) for k in truth], [7])
    assert perfect["AP"] == pytest.approx(1.0)
    shifted = [k + np.array([12.0, 12.0, 0]) for k in truth]
    worse = coco_stats(ann, [as_result(7, k) for k in shifted], [7])
    assert worse["AP"] < 0.9
    assert coco_stats(ann, [], [7])["AP"] == 0.0


def test_load_annotations_errors(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        load_annotations(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(ValueError, match="cannot read"):
        load_annotations(bad)
    bad.write_text("[]")
    with pytest.raises(ValueError, match="not a COCO"):
        load_annotations(bad)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "posekit.evaluate", *args, "--quiet"],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)


@pytest.mark.skipif(not WEIGHTS.exists(), reason="network weights not fetched (make setup)")
def test_evaluation_command_end_to_end(tmp_path):
    # Pass 1: any ground truth; collect what the network + best decoder find.
    dummy = [person(100, 100)]
    ann = coco_set(tmp_path / "gt.json", [(1, "zidane.jpg", 1280, 720, dummy),
                                          (2, "bus.jpg", 810, 1080, dummy)])
    out = tmp_path / "results.json"
    first = run_cli("--images", str(IMAGES), "--annotations", str(ann), "--results", str(out))
    assert first.returncode == 0, first.stderr
    assert "AP50" in first.stdout and "median time per image" in first.stdout
    found = json.loads(out.read_text())
    assert {r["image_id"] for r in found} == {1, 2}
    assert all(len(r["keypoints"]) == 51 for r in found)
    # Pass 2: those detections as ground truth must score AP 1 (same geometry
    # end to end); the lab decoder, on the same ground truth, scores lower.
    truth = {1: [], 2: []}
    for r in found:
        kps = np.array(r["keypoints"], float).reshape(17, 3)
        seen = kps[kps[:, 2] > 0, :2]
        if np.prod(seen.max(0) - seen.min(0)) > 0:      # pycocotools needs an area
            truth[r["image_id"]].append(kps)
    ann = coco_set(tmp_path / "gt2.json", [(1, "zidane.jpg", 1280, 720, truth[1]),
                                           (2, "bus.jpg", 810, 1080, truth[2])])
    second = run_cli("--images", str(IMAGES), "--annotations", str(ann), "--results", str(out))
    assert second.returncode == 0, second.stderr
    values = second.stdout.strip().splitlines()[-2].split()
    assert float(values[0]) > 0.95                      # AP
    lab = run_cli("--images", str(IMAGES), "--annotations", str(ann), "--results", str(out),
                  "--decoder", "lab", "--limit", "2")
    assert lab.returncode == 0, lab.stderr
    assert float(lab.stdout.strip().splitlines()[-2].split()[0]) < float(values[0])
    kit = run_cli("--images", str(IMAGES), "--annotations", str(ann), "--results", str(out),
                  "--decoder", "handout", "--limit", "2")
    assert kit.returncode == 0, kit.stderr
    assert "decoder handout" in kit.stdout
    assert float(kit.stdout.strip().splitlines()[-2].split()[0]) < float(values[0])


def test_evaluation_command_reports_bad_input_in_one_line(tmp_path):
    result = run_cli("--images", str(tmp_path), "--annotations", str(tmp_path / "none.json"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "not found" in result.stderr


def test_load_annotations_refuses_incomplete_files(tmp_path):
    bad = tmp_path / "bad.json"
    base = {"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [], "categories": []}
    cases = [
        ({k: v for k, v in base.items() if k != "categories"}, "'categories'"),
        (dict(base, images=[{"id": 1}]), "image entry 0 needs"),
        (dict(base, images=[{"file_name": "a.jpg"}]), "image entry 0 needs"),
        (dict(base, images=[{"id": "1", "file_name": "a.jpg"}]), "image entry 0 needs"),
        (dict(base, images=[{"id": 1, "file_name": "a.jpg"}, {"id": 1, "file_name": "b.jpg"}]),
         "appears twice"),
        (dict(base, images={"id": 1}), "must be a list"),
    ]
    for data, message in cases:
        bad.write_text(json.dumps(data))
        with pytest.raises(ValueError, match=message):
            load_annotations(bad)


@pytest.mark.parametrize("args, message", [
    (["--limit", "-1"], "--limit must be at least 1"),
    (["--limit", "0"], "--limit must be at least 1"),
    (["--scales", "1e6"], "--scales must be between"),
    (["--scales", "1", "0"], "--scales must be between"),
])
def test_bad_flags_are_usage_errors(tmp_path, args, message):
    ann = coco_set(tmp_path / "gt.json", [(1, "bus.jpg", 810, 1080, [person(100, 100)])])
    result = run_cli("--images", str(IMAGES), "--annotations", str(ann), *args)
    assert result.returncode == 2 and message in result.stderr


def test_unwritable_results_are_refused_before_any_work(tmp_path):
    ann = coco_set(tmp_path / "gt.json", [(1, "bus.jpg", 810, 1080, [person(100, 100)])])
    (tmp_path / "folder").mkdir()
    (tmp_path / "link.json").symlink_to(tmp_path / "elsewhere.json")
    os.mkfifo(tmp_path / "pipe.json")
    for results, message in ((tmp_path / "missing" / "r.json", "does not exist"),
                             (tmp_path / "folder", "name a regular file"),
                             (tmp_path / "link.json", "name a regular file"),
                             (tmp_path / "pipe.json", "name a regular file"),
                             (ann, "is the annotation file")):
        result = run_cli("--images", str(IMAGES), "--annotations", str(ann),
                         "--results", str(results), "--weights", str(tmp_path / "no.pb"))
        assert result.returncode == 2, results
        assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "elsewhere.json").exists()
    assert json.loads(ann.read_text())["images"][0]["id"] == 1


def test_missing_image_is_a_one_line_error(tmp_path):
    ann = coco_set(tmp_path / "gt.json", [(1, "nope.jpg", 810, 1080, [person(100, 100)])])
    if not WEIGHTS.exists():
        pytest.skip("network weights not fetched (make setup)")
    result = run_cli("--images", str(IMAGES), "--annotations", str(ann),
                     "--results", str(tmp_path / "r.json"))
    assert result.returncode == 2 and "nope.jpg" in result.stderr
    assert not (tmp_path / "r.json").exists()


def test_results_inside_the_images_folder_are_refused(tmp_path):
    """--results onto an input image (or anywhere in --images) is refused, as in the demo."""
    images = tmp_path / "images"
    images.mkdir()
    (images / "zidane.jpg").write_bytes((IMAGES / "zidane.jpg").read_bytes())
    ann = coco_set(tmp_path / "gt.json", [(1, "zidane.jpg", 1280, 720, [person(100, 100)])])
    for results in (images / "zidane.jpg", images / "new.json"):
        result = run_cli("--images", str(images), "--annotations", str(ann),
                         "--results", str(results))
        assert result.returncode == 2, result.stderr
        assert "inside the --images folder" in result.stderr and result.stderr.count("\n") == 1
    assert (images / "zidane.jpg").read_bytes() == (IMAGES / "zidane.jpg").read_bytes()
    assert not (images / "new.json").exists()


def _good_annotation() -> dict:
    return {"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 100.0,
            "bbox": [0, 0, 10, 10], "num_keypoints": 17,
            "keypoints": np.tile([5.0, 5.0, 2.0], 17).tolist()}


@pytest.mark.parametrize("change, message", [
    ({"annotations": [{}]}, "lacks 'id', 'image_id'"),
    ({"annotations": [{k: v for k, v in _good_annotation().items() if k != "area"}]},
     "lacks 'area'"),
    ({"annotations": [dict(_good_annotation(), keypoints=[1, 2])]}, "'keypoints' must be 51"),
    ({"annotations": [dict(_good_annotation(), keypoints=[1] * 50 + ["x"])]},
     "'keypoints' must be 51"),
    ({"annotations": [dict(_good_annotation(), keypoints=[1.0, 1.0, 3.0] * 17)]}, "visibility"),
    ({"annotations": [dict(_good_annotation(), image_id=9)]}, "not an image of the file"),
    ({"annotations": [dict(_good_annotation(), bbox=[0, 0, 10])]}, "'bbox' must be 4"),
    ({"annotations": [dict(_good_annotation(), area="big")]}, "'area' must be a number"),
    ({"annotations": [dict(_good_annotation(), iscrowd=5)]}, "'iscrowd' must be 0 or 1"),
    ({"annotations": [_good_annotation(), _good_annotation()]}, "used once"),
    ({"categories": []}, "no category with id 1"),
    ({"categories": [{"name": "person"}]}, "category 0 needs an integer 'id'"),
])
def test_malformed_ground_truth_is_refused_before_any_work(tmp_path, change, message):
    data = {"images": [{"id": 1, "file_name": "bus.jpg", "width": 810, "height": 1080}],
            "annotations": [_good_annotation()],
            "categories": [{"id": 1, "name": "person"}]}
    load_annotations(coco_set(tmp_path / "ok.json", [(1, "bus.jpg", 810, 1080,
                                                      [person(100, 100)])]))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(dict(data, **change)))
    with pytest.raises(ValueError, match=message):
        load_annotations(bad)
    # through the command: one line, exit 2, before the network loads (no such weights)
    result = run_cli("--images", str(IMAGES), "--annotations", str(bad),
                     "--results", str(tmp_path / "r.json"), "--weights", str(tmp_path / "no.pb"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "bad.json" in result.stderr and not (tmp_path / "r.json").exists()
