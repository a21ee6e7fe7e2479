"""Tests of posekit.results: frozen per-person records, the result's views, colour order."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from estimation.config import NUM_PARTS, ROW_WIDTH
from tools.synthetic import render_maps
from posekit.networks.network import PoseNetwork
from posekit import KEYPOINT_NAMES, Person, PoseEstimator, PoseResult

from conftest import SCENE_SHAPE, scene_people


def test_a_person_from_keypoints_has_names_a_box_and_json():
    points = np.zeros((NUM_PARTS, 3))
    points[0] = 10.0, 20.0, 0.9          # nose
    points[10] = 30.0, 80.0, 0.5         # right ankle
    person = Person.from_keypoints(points, 0.25, raw_score=2.5)
    assert KEYPOINT_NAMES[0] == "nose" and KEYPOINT_NAMES[10] == "right_ankle"
    assert person.box == (10.0, 20.0, 30.0, 80.0)
    assert person.keypoint("nose") == (10.0, 20.0, 0.9) and person.keypoint("neck") is None
    assert person.to_json() == {"keypoints": {"nose": [10.0, 20.0, 0.9],
                                              "right_ankle": [30.0, 80.0, 0.5]},
                                "score": 0.25, "score_raw": 2.5, "box": [10.0, 20.0, 30.0, 80.0],
                                "track_id": None}
    json.dumps(person.to_json())
    with pytest.raises(dataclasses.FrozenInstanceError):
        person.score = 3.0
    with pytest.raises(ValueError):
        person.keypoints[0, 0] = 1.0                         # read-only array
    with pytest.raises(ValueError, match="name must be one of"):
        person.keypoint("head")
    with pytest.raises(ValueError, match=r"keypoints must have shape \(18, 3\)"):
        Person.from_keypoints(np.zeros((17, 3)), 1.0)


def scene_network(heatmaps, pafs):
    """A network that returns the synthetic scene's maps (the test image is sized to them);
    on a smaller input (the scale-aware half-size pass) all-zero maps."""

    def backend(batch):
        _, hp, wp, _ = batch.shape
        heat = np.zeros((1, hp // 8, wp // 8, 19), np.float32)
        paf = np.zeros((1, hp // 8, wp // 8, 38), np.float32)
        h, w = heatmaps.shape[:2]
        if hp // 8 >= h and wp // 8 >= w:
            heat[0, :h, :w], paf[0, :h, :w] = heatmaps, pafs
        return heat, paf

    return PoseNetwork("scene", backend)


@pytest.fixture
def scene():
    people = scene_people()
    heatmaps, pafs = render_maps(people, SCENE_SHAPE)
    image = np.zeros((SCENE_SHAPE[0] * 8, SCENE_SHAPE[1] * 8, 3), np.uint8)
    image[:, :, 2] = 200                                    # red in BGR
    return scene_network(heatmaps, pafs), image, len(people)


def test_the_result_is_frozen_and_holds_person_records(scene):
    network, image, _ = scene
    result = PoseEstimator(network, max_side=None)(image)
    count = len(result.skeletons)                              # one record per lab row
    assert isinstance(result, PoseResult) and len(result.people) == count >= 3
    assert result.keypoints.shape == (count, NUM_PARTS, 3)
    assert np.array_equal(result.scores, [p.score for p in result.people])
    assert list(result.scores) == sorted(result.scores, reverse=True)
    assert result.skeletons.shape == (count, ROW_WIDTH)        # the lab's rows stay
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.people = ()
    assert repr(result).startswith(f"PoseResult({count} people, 800x480 bgr")
    assert len(result.to_json()) == count
    table = result.table()
    rows = table.to_dict("records") if hasattr(table, "to_dict") else table
    assert [r["score"] for r in rows] == list(result.scores)
    assert rows[0]["nose_x"] == result.keypoints[0, 0, 0] or np.isnan(rows[0]["nose_x"])


def test_rgb_input_gives_the_same_people_and_a_plot_in_rgb(scene):
    network, image, _ = scene
    estimator = PoseEstimator(network, max_side=None)
    bgr = estimator(image)
    rgb = estimator(np.ascontiguousarray(image[..., ::-1]), color="rgb")
    assert np.array_equal(bgr.keypoints, rgb.keypoints)
    drawn_bgr, drawn_rgb = bgr.plot(), rgb.plot()
    assert np.array_equal(drawn_bgr, drawn_rgb[..., ::-1])
    assert not np.array_equal(drawn_bgr, image)                # skeletons were drawn ...
    assert (image[:, :, 2] == 200).all() and not image[:, :, :2].any()   # ... on a copy
    with pytest.raises(ValueError, match="color must be one of bgr, rgb"):
        estimator(image, color="BGR")


def test_the_table_is_a_list_of_records_without_pandas(scene, monkeypatch):
    network, image, _ = scene
    result = PoseEstimator(network, max_side=None)(image)
    monkeypatch.setitem(__import__("sys").modules, "pandas", None)     # import fails
    rows = result.table()
    assert isinstance(rows, list) and len(rows) == len(result.people)
    assert list(rows[0])[:8] == ["person", "score", "x0", "y0", "x1", "y1", "track_id",
                                 "score_raw"]
    assert len(rows[0]) == 8 + 3 * NUM_PARTS
    assert [row["score_raw"] for row in rows] == [p.raw_score for p in result.people]
