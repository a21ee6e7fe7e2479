"""Tests of posekit.apps.batch.ray_stages without Ray: the decoding generator and the network actor."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from posekit.io import images as imageio

from posekit.apps.batch import ray_stages
from posekit.pipeline import PoseEstimator

from conftest import ROOT

WEIGHTS = ROOT / "model_weights" / "mobilenet_thin" / "graph_opt.pb"


def decode(path, kind):
    return list(ray_stages.decode_items({"item": np.array([3]), "path": np.array([str(path)]),
                                         "kind": np.array([kind])}))


def write_video(path, frames, size=(96, 64), fourcc="MJPG"):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10, size)
    noise = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), np.uint8)
    for k in range(frames):
        writer.write(np.roll(noise, k, axis=1))   # large frames: a cut falls among them
    writer.release()


def test_an_image_gives_one_frame_row_then_its_end_row(tmp_path, small_bus):
    cv2.imwrite(str(tmp_path / "a.png"), small_bus)
    frame, end = decode(tmp_path / "a.png", "image")
    assert list(frame["frame"]) == [0] and list(frame["item"]) == [3]
    pixels = np.frombuffer(frame["pixels"][0], np.uint8).reshape(
        frame["height"][0], frame["width"][0], 3)
    np.testing.assert_array_equal(pixels, small_bus)
    assert list(end["frame"]) == [-1] and list(end["total"]) == [1] and end["error"][0] == ""


def test_a_video_streams_in_chunks(tmp_path):
    write_video(tmp_path / "v.avi", 10)
    batches = decode(tmp_path / "v.avi", "video")
    assert [list(b["frame"]) for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9], [-1]]
    assert batches[-1]["total"][0] == 10 and batches[-1]["error"][0] == ""


def test_failures_become_end_rows_with_the_error(tmp_path, monkeypatch):
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    [end] = decode(tmp_path / "bad.jpg", "image")
    assert end["frame"][0] == -1 and "truncated or corrupt" in end["error"][0]
    [end] = decode(tmp_path / "missing.mp4", "video")
    assert "no such file" in end["error"][0]
    write_video(tmp_path / "v.avi", 10)
    data = (tmp_path / "v.avi").read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[:len(data) // 2])
    *frames, end = decode(tmp_path / "cut.avi", "video")
    assert "truncated" in end["error"][0] and end["total"][0] == sum(len(f["frame"])
                                                                     for f in frames)
    monkeypatch.setattr(ray_stages, "MAX_PIXELS", 1000)
    [end] = decode(tmp_path / "v.avi", "video")
    assert "too large" in end["error"][0]


@pytest.mark.skipif(not WEIGHTS.is_file(), reason="weights not fetched (make setup)")
def test_the_actor_writes_what_the_demo_writes(tmp_path, small_bus):
    cv2.imwrite(str(tmp_path / "a.png"), small_bus)
    frame, end = decode(tmp_path / "a.png", "image")
    tiny = ray_stages._frame_rows(3, 1, [np.zeros((4, 4, 3), np.uint8)])
    batch = {k: np.concatenate([frame[k], tiny[k], end[k]]) for k in frame}
    actor = ray_stages.actor_class(threads=1)()
    out = actor(batch)
    expected = PoseEstimator(actor.estimator.network)(small_bus)
    assert out["json"][0] == imageio.json_bytes(expected.openpose())
    assert out["people"][0] == len(expected.skeletons) > 0
    assert out["error"][1].startswith("frame 1: ") and out["json"][1] == b""
    assert out["frame"][2] == -1 and out["total"][2] == 1 and out["json"][2] == b""
    assert json.loads(out["json"][0])["version"] == 1.3


@pytest.mark.skipif(not WEIGHTS.is_file(), reason="weights not fetched (make setup)")
def test_an_actor_whose_network_is_not_the_runs_fails_its_frames(tmp_path, small_bus):
    """A node with other weights or another converted model than the driver's."""
    cv2.imwrite(str(tmp_path / "a.png"), small_bus)
    frame, end = decode(tmp_path / "a.png", "image")
    batch = {k: np.concatenate([frame[k], end[k]]) for k in frame}
    actor = ray_stages.actor_class(threads=1, network_sha256="0" * 64)()
    out = actor(batch)
    assert "loaded another network" in out["error"][0] and out["json"][0] == b""
    assert out["frame"][1] == -1 and out["error"][1] == ""
