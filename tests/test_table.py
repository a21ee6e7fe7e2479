"""Tests of posekit.io.table: one row per frame x person x keypoint, CSV and Parquet."""

import csv
import math
import os

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


def test_commit_twice_returns_the_table_and_late_calls_are_clear(tmp_path):
    writer = TableWriter(tmp_path / "t.csv")
    writer.add(0, 0.0, [1], people(1))
    assert writer.commit() == tmp_path / "t.csv"
    assert writer.commit() == tmp_path / "t.csv"           # once committed, stays so
    with pytest.raises(RuntimeError, match="already committed"):
        writer.add(1, 0.1, [1], people(1))
    writer.discard()                                       # a committed table stays
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]
    dropped = TableWriter(tmp_path / "u.parquet")
    dropped.discard()
    with pytest.raises(RuntimeError, match="already discarded"):
        dropped.commit()
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


def test_a_second_ctrl_c_during_a_commit_leaves_no_temporary(tmp_path, monkeypatch):
    """The first SIGINT comes while the file is closed in commit(), the second while
    discard() closes it again: the temporary file still goes."""
    import signal

    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT is not Python's KeyboardInterrupt here")
    close = table._Csv.close

    def interrupted_close(self):
        signal.raise_signal(signal.SIGINT)
        close(self)

    writer = TableWriter(tmp_path / "t.csv")
    writer.add(0, 0.0, [1], people(1))
    monkeypatch.setattr(table._Csv, "close", interrupted_close)
    with pytest.raises(KeyboardInterrupt):
        writer.commit()
    assert list(tmp_path.iterdir()) == []


def test_a_new_writer_removes_the_temporaries_of_killed_writers_only(tmp_path):
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()                                            # a pid that is no process now
    names = [f".t.csv.{gone.pid}-0123abcd.part.csv",      # a killed writer of t.csv: removed
             f".t.csv.{os.getpid()}-0123abcd.part.csv",   # a live writer's: kept
             f".u.csv.{gone.pid}-0123abcd.part.csv",      # another table's: kept
             f".t.csv.{gone.pid}-0123abcd.part.txt",      # not a table temporary: kept
             ".t.csv.notapid-0123abcd.part.csv", "t.csv.bak"]
    for name in names:
        (tmp_path / name).write_text("x")
    TableWriter(tmp_path / "t.csv").discard()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[1:])
