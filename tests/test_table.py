"""Tests of posekit.io.table: one row per frame x person x keypoint, CSV and Parquet."""

import csv
import math

import numpy as np
import pyarrow.parquet as pq
import pytest

from posekit.io import table
from posekit.io.table import KEYPOINT_NAMES, TableWriter


def people(k):
    out = np.zeros((k, 18, 3))
    out[..., 0] = np.arange(18) + 100 * np.arange(k)[:, None]
    out[..., 1] = 2.5
    out[..., 2] = 0.5
    out[:, 4] = 0  # right wrist missing
    return out


def test_parquet_rows_and_values(tmp_path):
    path = tmp_path / "t.parquet"
    writer = TableWriter(path)
    writer.add(0, 0.0, [7, 3], people(2))
    writer.add(1, 1 / 30, [], people(0))
    writer.add(2, 2 / 30, [3], people(1))
    assert not path.exists()
    writer.commit()
    rows = pq.read_table(path).to_pylist()
    assert len(rows) == 3 * 18
    assert rows[0] == dict(frame=0, time=0.0, person_id=7, keypoint="nose", x=0.0, y=2.5,
                           score=0.5)
    assert [r["keypoint"] for r in rows[:18]] == list(KEYPOINT_NAMES)
    assert rows[18 + 1]["person_id"] == 3 and rows[18 + 1]["x"] == 101.0
    wrist = rows[4]
    assert wrist["keypoint"] == "right_wrist" and math.isnan(wrist["x"]) and wrist["score"] == 0
    assert rows[-1]["frame"] == 2 and rows[-1]["time"] == pytest.approx(2 / 30)
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]


def test_csv_matches_and_streams_in_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(table, "BLOCK_ROWS", 20)  # several blocks
    path = tmp_path / "t.csv"
    writer = TableWriter(path)
    for f in range(3):
        writer.add(f, f * 0.5, [f, f + 10], people(2))
    writer.commit()
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3 * 2 * 18 == writer.rows
    assert list(rows[0]) == ["frame", "time", "person_id", "keypoint", "x", "y", "score"]
    assert rows[0] == dict(frame="0", time="0.000000", person_id="0", keypoint="nose",
                           x="0.000", y="2.500", score="0.50000")
    assert rows[4]["x"] == "" and rows[4]["score"] == "0.00000"
    assert rows[-1]["person_id"] == "12" and rows[-1]["time"] == "1.000000"


def test_discard_leaves_nothing_and_bad_arguments(tmp_path):
    writer = TableWriter(tmp_path / "t.csv")
    writer.add(0, 0.0, [1], people(1))
    writer.discard()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="path"):
        TableWriter(tmp_path / "t.xlsx")
    with pytest.raises(ValueError, match="path"):
        TableWriter(tmp_path)
    writer = TableWriter(tmp_path / "t.parquet")
    with pytest.raises(ValueError, match="ids"):
        writer.add(0, 0.0, [1, 2], people(1))
    writer.discard()
