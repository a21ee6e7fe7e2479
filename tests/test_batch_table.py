"""Tests of posekit.apps.batch.table without Ray: where a batch table may go, and its rows.

The Ray Data write itself (workers, temporary folder, rename) runs in
tests/test_batch.py on the shared local Ray.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from posekit.apps.batch.table import check_table_path, table_rows, table_schema, table_task
from posekit.io.sources import Item
from posekit.io.table import COLUMNS


def items(root: Path) -> list:
    (root / "in").mkdir(exist_ok=True)
    return [Item(0, str(root / "in" / "walk.mp4"), "video", "walk"),
            Item(1, str(root / "in" / "bus.jpg"), "image", "bus")]


def test_the_table_columns_are_the_demos_after_the_source():
    assert table_schema().names == ["source", *COLUMNS]


@pytest.mark.parametrize("name, reason", [
    ("poses.csv", "must end with .parquet"),
    ("in/poses.parquet", "inside the input folder"),
    ("out/walk.parquet", None),                               # a free name in the output folder
    ("out/WALK", "must end with .parquet"),
    ("out/manifest.json", "must end with .parquet"),
])
def test_where_the_table_may_go(tmp_path, name, reason):
    its = items(tmp_path)
    (tmp_path / "out").mkdir()
    call = lambda: check_table_path(tmp_path / name, tmp_path / "out", [str(tmp_path / "in")],
                                    its)
    if reason is None:
        assert call() == tmp_path / name
    else:
        with pytest.raises(ValueError, match=reason):
            call()


def test_a_name_an_output_needs_is_refused(tmp_path):
    its = [Item(0, str(tmp_path / "in" / "t.parquet.mp4"), "video", "t.parquet")]
    with pytest.raises(ValueError, match="takes a name that an output"):
        check_table_path(tmp_path / "out" / "T.parquet", tmp_path / "out", [], its)


def test_an_existing_file_link_or_foreign_folder_is_refused(tmp_path):
    its = items(tmp_path)
    (tmp_path / "file.parquet").write_bytes(b"PAR1")
    (tmp_path / "link.parquet").symlink_to(tmp_path / "file.parquet")
    (tmp_path / "mixed.parquet").mkdir()
    (tmp_path / "mixed.parquet" / "notes.txt").write_text("mine")
    (tmp_path / "earlier.parquet").mkdir()
    (tmp_path / "earlier.parquet" / "part_0.parquet").write_bytes(b"PAR1")
    for name, reason in [("file.parquet", "not a table folder"), ("link.parquet", "symbolic"),
                         ("mixed.parquet", "notes.txt")]:
        with pytest.raises(ValueError, match=reason):
            check_table_path(tmp_path / name, tmp_path / "out", [], its)
    # an earlier table (only .parquet files) may be replaced
    assert check_table_path(tmp_path / "earlier.parquet", tmp_path / "out", [], its)


def test_a_table_that_would_hold_an_input_is_refused(tmp_path):
    inside = tmp_path / "t.parquet"
    inside.mkdir()
    (inside / "clip.parquet").write_bytes(b"x")                 # listed as a video
    its = [Item(0, str(inside / "clip.parquet"), "video", "clip")]
    with pytest.raises(ValueError, match="would replace the input"):
        check_table_path(inside, tmp_path / "out", [], its)


def test_the_output_folder_or_one_above_it_is_refused(tmp_path):
    its = items(tmp_path)
    for out in ("x.parquet", "x.parquet/out"):               # not created yet: still refused
        with pytest.raises(ValueError, match="is the output folder"):
            check_table_path(tmp_path / "x.parquet", tmp_path / out, [], its)
    (tmp_path / "y.parquet").mkdir()                         # an empty folder, made by -o
    with pytest.raises(ValueError, match="is the output folder"):
        check_table_path(tmp_path / "y.parquet", tmp_path / "y.parquet", [], its)


def test_a_missing_parent_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not a writable folder"):
        check_table_path(tmp_path / "no" / "t.parquet", tmp_path / "out", [], items(tmp_path))


def write_frame(path: Path, people: list, time: float = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"version": 1.3, "people": people}
    if time is not None:
        doc["time"] = time
    path.write_text(json.dumps(doc))


def person(pid: int, x: float) -> dict:
    flat = []
    for k in range(18):
        flat += [x + k, 10.0 * k, 0.5] if k != 4 else [0.0, 0.0, 0.0]     # no right wrist
    return {"person_id": [pid], "pose_keypoints_2d": flat}


def test_rows_come_from_the_json_outputs(tmp_path):
    out = tmp_path / "out"
    write_frame(out / "clips" / "walk" / "walk_000000000000_keypoints.json",
                [person(7, 100.0), person(3, 300.0)], time=0.0)
    write_frame(out / "clips" / "walk" / "walk_000000000001_keypoints.json", [], time=0.04)
    write_frame(out / "clips" / "walk" / "walk_000000000002_keypoints.json",
                [person(3, 302.0)], time=0.08)
    write_frame(out / "bus_keypoints.json", [person(-1, 5.0), person(-1, 50.0)])
    batch = {"out": np.array([str(out)] * 2, object),
             "name": np.array(["clips/walk", "bus"], object),
             "kind": np.array(["video", "image"], object),
             "first": np.array([0, 0]), "count": np.array([3, 1])}
    table = table_rows(batch).to_pydict()
    assert len(table["source"]) == (2 + 0 + 1 + 2) * 18
    assert table["source"][:54] == ["clips/walk"] * 54 and table["source"][54:] == ["bus"] * 36
    assert table["frame"][:54] == [0] * 36 + [2] * 18
    assert table["time"][:54] == [0.0] * 36 + [0.08] * 18
    assert table["person_id"][:54] == [7] * 18 + [3] * 18 + [3] * 18
    assert table["person_id"][54:] == [0] * 18 + [1] * 18    # untracked: the index in the frame
    assert all(math.isnan(t) for t in table["time"][54:])    # an image has no clock
    assert table["keypoint"][:3] == ["nose", "neck", "right_shoulder"]
    assert table["x"][18 + 2] == 302.0 and table["y"][18 + 2] == 20.0
    assert table["score"][18 + 2] == 0.5
    assert math.isnan(table["x"][4]) and math.isnan(table["y"][4]) and table["score"][4] == 0.0


def test_a_missing_json_file_fails_the_task(tmp_path):
    batch = {"out": np.array([str(tmp_path)], object), "name": np.array(["walk"], object),
             "kind": np.array(["video"], object), "first": np.array([0]),
             "count": np.array([1])}
    with pytest.raises(OSError):
        table_rows(batch)
    empty = {key: value[:0] for key, value in batch.items()}
    assert table_rows(empty).num_rows == 0 and table_rows(empty).schema == table_schema()


def earlier_table(path: Path) -> bytes:
    import pyarrow.parquet as pq

    path.mkdir()
    pq.write_table(table_schema().empty_table(), str(path / "part.parquet"))
    return (path / "part.parquet").read_bytes()


def test_a_failed_rename_puts_the_earlier_table_back(tmp_path, monkeypatch):
    """No items (no Ray needed): the new table is one empty file; its rename fails."""
    from posekit.apps.batch import table as batch_table

    table = tmp_path / "t.parquet"
    before = earlier_table(table)
    real = os.rename

    def rename(src, dst):
        if Path(src).name.startswith(".t.parquet.") and Path(src).name.endswith(".part"):
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(batch_table.os, "rename", rename)
    with pytest.raises(OSError):
        batch_table.write_table(table, tmp_path / "out", [])
    assert [p.name for p in table.iterdir()] == ["part.parquet"]
    assert (table / "part.parquet").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.parquet"]     # nothing left over
    monkeypatch.setattr(batch_table.os, "rename", real)
    assert batch_table.write_table(table, tmp_path / "out", []) == 0        # replaced now
    assert [p.name for p in table.iterdir()] == ["empty.parquet"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.parquet"]


@pytest.mark.parametrize("name", ["f.csv", "t.parquet"])
def test_a_fifo_is_refused_as_not_a_regular_file(tmp_path, name):
    os.mkfifo(tmp_path / name)
    with pytest.raises(ValueError, match="is not a regular file or folder"):
        check_table_path(tmp_path / name, tmp_path / "out", [], items(tmp_path))


def dead_pid() -> int:
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    return gone.pid


def test_writing_a_table_removes_what_killed_runs_left_and_nothing_else(tmp_path):
    """Runs killed while writing t.parquet left hidden folders (no Ray needed: no items)."""
    from posekit.apps.batch.table import write_table

    pid = dead_pid()
    stale = [f".t.parquet.{pid}-0123abcd.part", f".t.parquet.{pid}-0123abcd.part.old",
             ".t.parquet.tmp-89abcdef", ".t.parquet.old-89abcdef"]      # the last two: older
    kept = [f".t.parquet.{os.getpid()}-0123abcd.part",                  # a live run's
            f".u.parquet.{pid}-0123abcd.part",                          # another table's
            ".t.parquet.tmp-mine", "t.parquet.bak"]                     # not our names
    for name in stale + kept:
        (tmp_path / name).mkdir()
        (tmp_path / name / "part-0.parquet").write_bytes(b"PAR1")
    assert write_table(tmp_path / "t.parquet", tmp_path / "out", []) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept + ["t.parquet"])


def test_small_items_are_packed_into_few_tasks(tmp_path, monkeypatch):
    """2,000 one-frame images and a video of 600 frames: tasks of at most 256 frames, every
    frame once, not one Ray task per image."""
    import ray.data

    from posekit.apps.batch import table as batch_table

    done = [(Item(k, f"/in/{k}.jpg", "image", f"i{k}"), 1) for k in range(2000)]
    done.append((Item(2000, "/in/v.mp4", "video", "v"), 600))
    seen = {}

    class Stop(Exception):
        pass

    def from_items(rows, override_num_blocks=None):
        seen.update(rows=rows, blocks=override_num_blocks)
        raise Stop

    monkeypatch.setattr(ray.data, "from_items", from_items)
    with pytest.raises(Stop):
        batch_table.write_table(tmp_path / "t.parquet", tmp_path / "out", done)
    assert seen["blocks"] == len(seen["rows"]) <= (2000 + 600) // batch_table.FRAMES_PER_TASK + 2
    frames = []
    for row in seen["rows"]:
        segments = json.loads(row["segments"])
        assert sum(count for _, _, _, count, _ in segments) <= batch_table.FRAMES_PER_TASK
        assert not any(tracked for *_, tracked in segments)    # write_table's default
        frames += [(name, f) for name, _, first, count, _ in segments
                   for f in range(first, first + count)]
    assert sorted(frames) == sorted([(f"i{k}", 0) for k in range(2000)]
                                    + [("v", f) for f in range(600)])
    assert not list(tmp_path.iterdir())                    # no temporary left after a failure


def test_a_task_row_reads_the_same_rows_as_its_segments(tmp_path):
    from posekit.apps.batch.table import table_task

    out = tmp_path / "out"
    write_frame(out / "walk" / "walk_000000000000_keypoints.json", [person(7, 1.0)], time=0.0)
    write_frame(out / "walk" / "walk_000000000001_keypoints.json", [person(7, 2.0)], time=0.1)
    write_frame(out / "bus_keypoints.json", [person(-1, 5.0)])
    segments = [["walk", "video", 0, 2], ["bus", "image", 0, 1]]
    got = table_task({"out": np.array([str(out)], object),
                      "segments": np.array([json.dumps(segments)], object)}).to_pydict()
    want = table_rows({"out": np.array([str(out)] * 2, object),
                       "name": np.array(["walk", "bus"], object),
                       "kind": np.array(["video", "image"], object),
                       "first": np.array([0, 0]), "count": np.array([2, 1])}).to_pydict()
    assert json.dumps(got) == json.dumps(want) and len(got["source"]) == 3 * 18


def test_a_tracked_videos_person_without_an_id_keeps_minus_1(tmp_path):
    """A tracked video: person_id -1 is a person not confirmed yet (the demo's table writes
    -1 too), not an index that could clash with track 0; untracked, -1 is the index."""
    out = tmp_path / "out"
    write_frame(out / "walk" / "walk_000000000000_keypoints.json",
                [person(0, 100.0), person(-1, 300.0)], time=0.0)
    batch = {"out": np.array([str(out)], object), "name": np.array(["walk"], object),
             "kind": np.array(["video"], object), "first": np.array([0]),
             "count": np.array([1]), "tracked": np.array([True])}
    assert table_rows(batch).to_pydict()["person_id"] == [0] * 18 + [-1] * 18
    batch["tracked"] = np.array([False])
    assert table_rows(batch).to_pydict()["person_id"] == [0] * 18 + [1] * 18
    segments = json.dumps([["walk", "video", 0, 1, True]])
    task = {"out": np.array([str(out)], object), "segments": np.array([segments], object)}
    assert table_task(task).to_pydict()["person_id"] == [0] * 18 + [-1] * 18
    old = json.dumps([["walk", "video", 0, 1]])              # a segment without the flag
    task["segments"] = np.array([old], object)
    assert table_task(task).to_pydict()["person_id"] == [0] * 18 + [1] * 18
