"""Tests of benchmarks/bench_batch_table.py's helper (the benchmark itself is not run here)."""

from __future__ import annotations

import json

from benchmarks.bench_batch_table import write_outputs
from posekit.apps.batch.table import table_rows


def test_the_fake_outputs_are_what_the_table_reads(tmp_path):
    done = write_outputs(tmp_path, videos=2, frames=3, people=2)
    assert [(item.name, frames) for item, frames in done] == [("v0", 3), ("v1", 3)]
    doc = json.loads((tmp_path / "v1" / "v1_000000000002_keypoints.json").read_text())
    assert doc["time"] == 0.08 and [p["person_id"] for p in doc["people"]] == [[0], [1]]
    batch = {"out": [str(tmp_path)] * 2, "name": ["v0", "v1"], "kind": ["video"] * 2,
             "first": [0, 1], "count": [3, 2]}
    table = table_rows(batch)
    assert table.num_rows == (3 + 2) * 2 * 18


def test_the_fake_images_are_one_frame_items(tmp_path):
    done = write_outputs(tmp_path, videos=1, frames=2, people=1, images=3)
    assert [(item.kind, item.name, frames) for item, frames in done][1:] == [
        ("image", "i0", 1), ("image", "i1", 1), ("image", "i2", 1)]
    doc = json.loads((tmp_path / "i2_keypoints.json").read_text())
    assert "time" not in doc and doc["people"][0]["person_id"] == [-1]
    batch = {"out": [str(tmp_path)] * 3, "name": ["i0", "i1", "i2"], "kind": ["image"] * 3,
             "first": [0] * 3, "count": [1] * 3}
    assert table_rows(batch).num_rows == 3 * 18
