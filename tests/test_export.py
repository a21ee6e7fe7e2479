"""Tests of posekit.io.export with hand-made coords and skeletons."""

import json

import numpy as np
import pytest

from estimation.config import NUM_PARTS, BodyPart
from posekit.io.export import COCO_ORDER, skeleton_keypoints, people_to_coco, to_coco, to_openpose

#: COCO's 17 keypoint names, in COCO's order (person_keypoints annotations).
COCO_NAMES = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
              "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
              "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")


def empty_coords():
    return {part.name: [] for part in BodyPart}


def skeleton(slots, score=5.0):
    """A (1, 20) skeleton row with ``slots`` = {slot: id}."""
    row = -np.ones((1, NUM_PARTS + 2))
    for slot, part_id in slots.items():
        row[0, slot] = part_id
    row[0, NUM_PARTS] = score
    row[0, NUM_PARTS + 1] = len(slots)
    return row


@pytest.fixture
def person():
    """One person: neck at cell (2, 3), left eye at (4, 1), right eye at (5.5, 1.25)."""
    coords = empty_coords()
    coords["neck"] = [(2, 3, 0.9, 0)]
    coords["right_eye"] = [(5.5, 1.25, 0.7, 1)]
    coords["left_eye"] = [(4, 1, 0.8, 2)]
    row = skeleton({BodyPart.neck: 0, BodyPart.right_eye: 1, BodyPart.left_eye: 2}, score=7.5)
    return coords, row


def test_cells_become_pixel_centres(person):
    coords, row = person
    kp = skeleton_keypoints(coords, row)
    assert kp.shape == (1, NUM_PARTS, 3)
    # cell i covers pixels [8i, 8i + 8): its centre is 8i + 3.5
    np.testing.assert_allclose(kp[0, BodyPart.neck], (2 * 8 + 3.5, 3 * 8 + 3.5, 0.9))
    np.testing.assert_allclose(kp[0, BodyPart.right_eye], (5.5 * 8 + 3.5, 1.25 * 8 + 3.5, 0.7))


def test_scale_maps_back_to_the_original_image(person):
    coords, row = person
    # the network saw the image at half size: pixel q of the small image is
    # pixel (q + 0.5) * 2 - 0.5 of the original (OpenCV's resize geometry)
    kp = skeleton_keypoints(coords, row, scale=2.0)
    np.testing.assert_allclose(kp[0, BodyPart.neck, :2], ((19.5 + 0.5) * 2 - 0.5,
                                                          (27.5 + 0.5) * 2 - 0.5))
    assert kp[0, BodyPart.neck, 2] == pytest.approx(0.9)  # scores are not scaled


def test_stride_one_is_the_identity(person):
    coords, row = person
    kp = skeleton_keypoints(coords, row, stride=1)
    np.testing.assert_allclose(kp[0, BodyPart.left_eye, :2], (4, 1))


def test_missing_parts_are_zero(person):
    coords, row = person
    kp = skeleton_keypoints(coords, row)
    found = {BodyPart.neck, BodyPart.right_eye, BodyPart.left_eye}
    for part in BodyPart:
        if part not in found:
            assert (kp[0, part] == 0).all(), part.name


def test_no_people_and_unknown_ids():
    assert skeleton_keypoints(empty_coords(), np.zeros((0, 20))).shape == (0, NUM_PARTS, 3)
    with pytest.raises(ValueError, match="id 9"):
        skeleton_keypoints(empty_coords(), skeleton({0: 9}))


def test_coco_order_drops_the_neck_and_puts_left_before_right(person):
    coords, row = person
    kp = skeleton_keypoints(coords, row)
    [result] = to_coco(kp, row[:, NUM_PARTS], image_id=139)
    assert set(result) == {"image_id", "category_id", "keypoints", "score"}
    assert result["image_id"] == 139 and result["category_id"] == 1
    assert result["score"] == pytest.approx(7.5)
    flat = result["keypoints"]
    assert len(flat) == 17 * 3
    assert [p.name for p in COCO_ORDER] == list(COCO_NAMES)
    triples = {name: flat[3 * i:3 * i + 3] for i, name in enumerate(COCO_NAMES)}
    # left eye (COCO index 1) comes before the right eye (index 2)
    assert flat[3:6] == pytest.approx([4 * 8 + 3.5, 1 * 8 + 3.5, 1])
    assert flat[6:9] == pytest.approx([5.5 * 8 + 3.5, 1.25 * 8 + 3.5, 1])
    # the neck is not a COCO keypoint: no triple carries its position
    neck = [19.5, 27.5]
    assert all(t[:2] != pytest.approx(neck) for t in triples.values())
    # everything else is missing: x = y = v = 0
    for name in set(COCO_NAMES) - {"left_eye", "right_eye"}:
        assert triples[name] == [0, 0, 0], name


def test_coco_results_are_plain_json(person):
    coords, row = person
    results = to_coco(skeleton_keypoints(coords, row), row[:, NUM_PARTS], np.int64(3))
    assert json.loads(json.dumps(results)) == results
    assert to_coco(np.zeros((0, NUM_PARTS, 3)), [], 1) == []


def test_openpose_layout_is_cmu_order_x_y_score(person):
    coords, row = person
    doc = to_openpose(skeleton_keypoints(coords, row))
    assert json.loads(json.dumps(doc)) == doc
    assert set(doc) == {"version", "people"}
    [p] = doc["people"]
    flat = p["pose_keypoints_2d"]
    assert len(flat) == 18 * 3
    assert flat[3 * BodyPart.neck:3 * BodyPart.neck + 3] == pytest.approx([19.5, 27.5, 0.9])
    assert flat[3 * BodyPart.left_eye:3 * BodyPart.left_eye + 3] == pytest.approx(
        [35.5, 11.5, 0.8])
    assert flat[3 * BodyPart.nose:3 * BodyPart.nose + 3] == [0, 0, 0]
    assert to_openpose(np.zeros((0, NUM_PARTS, 3)))["people"] == []


def test_people_to_coco_is_keypoints_then_coco_in_one_step():
    coords = {"nose": [(2.0, 3.0, 0.9, 0)], "neck": [(2.5, 5.0, 0.8, 1)]}
    skeletons = np.array([[0, 1] + [-1] * 16 + [1.7, 2]], dtype=float)
    got = people_to_coco(coords, skeletons, image_id=7, scale=0.5)
    assert got == to_coco(skeleton_keypoints(coords, skeletons, scale=0.5), [1.7], 7)
    # nose at cell (2, 3): centre (2.5 * 8 - 0.5, 3.5 * 8 - 0.5) = (19.5, 27.5) network px,
    # then ((19.5 + 0.5) * 0.5 - 0.5, (27.5 + 0.5) * 0.5 - 0.5) = (9.5, 13.5) image px
    assert got[0]["keypoints"][:3] == [9.5, 13.5, 1] and got[0]["score"] == 1.7
    assert people_to_coco(coords, np.zeros((0, 20)), image_id=7) == []
