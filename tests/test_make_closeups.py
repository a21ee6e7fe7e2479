"""Tests of tools/make_closeups.py: the close-up set made from COCO images (issue 35)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from posekit.io.coco import load_annotations
from tools.make_closeups import FRAME, crop_window, main, make_closeups, move_person


def test_the_window_makes_the_box_fill_the_asked_share_of_the_frame():
    x0, y0, zoom = crop_window([300, 100, 100, 200], 0.8, (640, 480))
    win_w, win_h = FRAME[0] / zoom, FRAME[1] / zoom
    assert max(100 / win_w, 200 / win_h) == pytest.approx(0.8)
    assert (x0 + win_w / 2, y0 + win_h / 2) == pytest.approx((350, 200))   # centred on the box


def test_the_window_is_moved_inside_the_image_or_refused():
    x0, y0, zoom = crop_window([0, 0, 100, 200], 0.8, (640, 480))
    assert (x0, y0) == (0, 0)
    assert crop_window([0, 0, 100, 400], 0.8, (640, 480)) is None       # 500 px tall window
    assert crop_window([0, 0, 30, 60], 0.8, (640, 480)) is None         # zoom 8x: too blurred
    with pytest.raises(ValueError, match="fill"):
        crop_window([0, 0, 100, 200], 1.2, (640, 480))


def test_keypoints_outside_the_crop_are_unlabelled():
    ann = {"keypoints": [10, 10, 2, 330, 10, 1] + [0] * 45, "bbox": [0, 0, 400, 100],
           "area": 1000.0, "num_keypoints": 2}
    moved = move_person(ann, 0.0, 0.0, 2.0)
    assert moved["keypoints"][:6] == [20.5, 20.5, 2, 0, 0, 0]
    assert moved["num_keypoints"] == 1
    assert moved["bbox"] == [0.0, 0.0, 640.0, 200.0]
    assert moved["area"] == pytest.approx(1000 * 4 * 640 / 800)


def write_set(folder):
    """One 640x480 image with two people: one 300 px tall (a subject), one tiny."""
    images = folder / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    cv2.imwrite(str(images / "a.jpg"), rng.integers(0, 255, (480, 640, 3), np.uint8))
    big = [0.0] * 51
    for k in range(10):
        big[3 * k:3 * k + 3] = [250 + 5 * k, 100 + 30 * k, 2]
    small = [5, 5, 2] + [0] * 48
    data = {"images": [{"id": 7, "file_name": "a.jpg", "width": 640, "height": 480}],
            "categories": [{"id": 1, "name": "person"}],
            "annotations": [
                {"id": 1, "image_id": 7, "category_id": 1, "iscrowd": 0, "area": 30000.0,
                 "bbox": [240, 90, 130, 300], "num_keypoints": 10, "keypoints": big},
                {"id": 2, "image_id": 7, "category_id": 1, "iscrowd": 0, "area": 20.0,
                 "bbox": [0, 0, 10, 10], "num_keypoints": 1, "keypoints": small}]}
    (folder / "ann.json").write_text(json.dumps(data))
    return images, folder / "ann.json"


def test_the_set_is_made_deterministically_and_is_a_valid_coco_file(tmp_path):
    images, ann = write_set(tmp_path)
    outputs = []
    for name in ("one", "two"):
        assert main(["--images", str(images), "--annotations", str(ann),
                     "--out", str(tmp_path / name)]) == 0
        outputs.append(((tmp_path / name / "person_keypoints.json").read_bytes(),
                        (tmp_path / name / "images" / "1.jpg").read_bytes()))
    assert outputs[0] == outputs[1]
    data = load_annotations(tmp_path / "one" / "person_keypoints.json")
    assert [im["id"] for im in data["images"]] == [1]
    crop = cv2.imread(str(tmp_path / "one" / "images" / "1.jpg"))
    assert crop.shape == (480, 640, 3)
    subject = data["annotations"][0]
    x, y, w, h = subject["bbox"]
    assert 0.70 <= max(w / 640, h / 480) <= 0.95                 # fills 70-95 % of the frame
    assert data["annotations"][1]["num_keypoints"] == 0          # the tiny one: out, ignored


def test_the_output_may_not_lie_inside_the_images_folder(tmp_path, capsys):
    images, ann = write_set(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["--images", str(images), "--annotations", str(ann), "--out", str(images / "x")])
    assert info.value.code == 2 and "inside --images" in capsys.readouterr().err
    assert not (images / "x").exists()


def test_coco_in_memory_matches_the_limit(tmp_path):
    images, ann = write_set(tmp_path)
    coco, pictures = make_closeups(images, ann, limit=1)
    assert len(pictures) == 1 and len(coco["images"]) == 1
