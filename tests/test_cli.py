"""Tests of posekit.apps.demo run in-process (the subprocess tests of the same command line, as
the lab runs it, are in test_demo_image.py)."""

from __future__ import annotations

import cv2
import numpy as np

from posekit.apps import demo as cli


def test_network_is_loaded_once_and_run_once_per_frame(tmp_path, monkeypatch, capsys):
    """A video run loads the network once and calls it once per frame (no re-initialisation)."""
    from posekit.networks.inference import PoseNetwork

    calls = {"load": 0, "frames": 0}

    def backend(batch):
        calls["frames"] += 1
        _, hp, wp, _ = batch.shape
        return (np.zeros((1, hp // 8, wp // 8, 19), np.float32),
                np.zeros((1, hp // 8, wp // 8, 38), np.float32))

    def fake_load(model, weights, skip_hash_check=False, runtime="auto"):
        calls["load"] += 1
        return PoseNetwork("fake", backend)

    monkeypatch.setattr(cli, "load_pose_network", fake_load)
    writer = cv2.VideoWriter(str(tmp_path / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 5,
                             (64, 48))
    for k in range(7):
        writer.write(np.full((48, 64, 3), 30 * k, np.uint8))
    writer.release()
    status = cli.main([str(tmp_path / "clip.avi"), "-o", str(tmp_path / "out"), "-q"])
    assert status == 0
    assert calls == {"load": 1, "frames": 7}
    assert len(list((tmp_path / "out").glob("clip_*_keypoints.json"))) == 7
    assert capsys.readouterr().out == ""                 # --quiet
