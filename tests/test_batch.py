"""Tests of ``python -m posekit.apps.batch`` on a local Ray with 2 CPUs, shared by the whole module.

A small tree (three images, two short videos, a corrupt image and a cut video)
is written here; the batch outputs are compared with the demo's on the same
inputs (track ids and times included); the Parquet table written by the
workers is compared with the JSON outputs; a rerun skips what is complete and
redoes what was damaged, and its progress bar and summary give one frames/s.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.apps.batch import run as batch
from posekit.apps import demo as cli
from posekit.apps.batch import manifest
from posekit.apps.batch.settings import item_settings

from conftest import IMAGES, ROOT

WEIGHTS = ROOT / "model_weights" / "mobilenet_thin" / "graph_opt.pb"
pytestmark = pytest.mark.skipif(not (WEIGHTS.is_file() and (IMAGES / "zidane.jpg").is_file()),
                                reason="weights or sample images missing (make setup)")


def write_video(path: Path, image: np.ndarray, frames: int, fourcc: str) -> None:
    height, width = image.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10, (width, height))
    for k in range(frames):
        writer.write(np.roll(image, 6 * k, axis=1))
    writer.release()


@pytest.fixture(scope="module")
def tree(tmp_path_factory, small_bus):
    """in/ with a.jpg, sub/b.png, sub/c.jpg, v1.avi (5 frames), sub/v2.mp4 (4 frames),
    bad.jpg (not an image) and sub/cut.avi (a video cut in half)."""
    root = tmp_path_factory.mktemp("batch")
    src = root / "in"
    (src / "sub").mkdir(parents=True)
    zidane = cv2.resize(cv2.imread(str(IMAGES / "zidane.jpg")), (320, 180),
                        interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(src / "a.jpg"), small_bus)
    cv2.imwrite(str(src / "sub" / "b.png"), zidane)
    cv2.imwrite(str(src / "sub" / "c.jpg"), np.flip(small_bus, axis=1))
    write_video(src / "v1.avi", small_bus, 5, "MJPG")
    write_video(src / "sub" / "v2.mp4", zidane, 4, "mp4v")
    (src / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    write_video(root / "whole.avi", zidane, 10, "MJPG")
    data = (root / "whole.avi").read_bytes()
    (src / "sub" / "cut.avi").write_bytes(data[:len(data) // 2])
    return root


@pytest.fixture(scope="module")
def first_run(tree, local_ray):
    out = tree / "out"
    status = batch.main([str(tree / "in"), "-o", str(out), "-q",
                         "--table", str(tree / "poses.parquet")])
    return status, out, json.loads((out / manifest.MANIFEST).read_text())


def read_table(path: Path) -> dict:
    """The table folder's rows, sorted, NaN as None (so that tables compare equal)."""
    import pyarrow.parquet as pq

    assert path.is_dir() and all(p.suffix == ".parquet" for p in path.iterdir())
    table = pq.read_table(str(path)).sort_by([("source", "ascending"), ("frame", "ascending"),
                                              ("person_id", "ascending")]).to_pydict()
    return {c: [None if v != v else v for v in values] for c, values in table.items()}


def person_ids(path: Path) -> list:
    return [p["person_id"][0] for p in json.loads(path.read_text())["people"]]


def by_name(doc: dict) -> dict:
    return {record["name"]: record for record in doc["items"]}


def keypoints(path: Path) -> np.ndarray:
    people = json.loads(path.read_text())["people"]
    return np.array([p["pose_keypoints_2d"] for p in people], float).reshape(-1, 54)


def test_outputs_equal_the_demo_on_the_same_inputs(tree, first_run):
    status, out, doc = first_run
    demo = tree / "demo"
    demo.mkdir()
    assert cli.main([str(tree / "in"), "-o", str(demo / "top"), "-q"]) == 1   # bad.jpg skipped
    # sub/cut.avi fails in the demo as in the batch (VideoReader.check_complete)
    assert cli.main([str(tree / "in" / "sub"), "-o", str(demo / "sub"), "-q"]) == 1
    assert cli.main([str(tree / "in" / "v1.avi"), "-o", str(demo / "v1"), "-q"]) == 0
    assert cli.main([str(tree / "in" / "sub" / "v2.mp4"), "-o", str(demo / "v2"), "-q"]) == 0
    pairs = [(out / "a_keypoints.json", demo / "top" / "a_keypoints.json"),
             (out / "sub" / "b_keypoints.json", demo / "sub" / "b_keypoints.json"),
             (out / "sub" / "c_keypoints.json", demo / "sub" / "c_keypoints.json")]
    pairs += [(out / "v1" / f"v1_{k:012d}_keypoints.json", demo / "v1" / f"v1_{k:012d}_keypoints.json")
              for k in range(5)]
    pairs += [(out / "sub" / "v2" / f"v2_{k:012d}_keypoints.json",
               demo / "v2" / f"v2_{k:012d}_keypoints.json") for k in range(4)]
    found = 0
    tracked = 0
    for ours, theirs in pairs:
        assert set(json.loads(ours.read_text())) == set(json.loads(theirs.read_text()))
        assert json.loads(ours.read_text()).get("time") == json.loads(theirs.read_text()).get("time")
        assert person_ids(ours) == person_ids(theirs)      # the demo's track ids (-1: images)
        tracked += sum(pid >= 0 for pid in person_ids(ours))
        a, b = keypoints(ours), keypoints(theirs)
        assert a.shape == b.shape, ours
        np.testing.assert_allclose(a, b, atol=1e-3)   # same network, decoder and settings
        found += len(a)
    assert found > 0 and tracked > 0
    assert json.loads(pairs[-1][0].read_text())["time"] == 0.3     # frame 3 at 10 frames/s
    records = by_name(doc)
    assert records["v1"]["frames"] == 5 and records["sub/v2"]["frames"] == 4
    assert {n: r["status"] for n, r in records.items()} == {
        "a": "done", "bad": "failed", "sub/b": "done", "sub/c": "done", "sub/cut": "failed",
        "sub/v2": "done", "v1": "done"}


def test_bad_files_are_recorded_and_the_run_goes_on(first_run):
    status, out, doc = first_run
    assert status == 1
    summary = doc["summary"]  # the progress bar's rate (start to last frame) is recorded too
    assert summary["steady_frames_per_second"] > 0 and summary["frames_per_second"] > 0
    records = by_name(doc)
    assert "truncated or corrupt" in records["bad"]["error"]
    assert "sub/cut.avi" in records["sub/cut"]["error"]
    assert not (out / "bad_keypoints.json").exists() and not (out / "sub" / "cut").exists()
    assert doc["summary"]["failed"] == 2 and doc["summary"]["done"] == 5
    processed = sum(r["frames"] for r in doc["items"])        # failed ones: before the error
    assert doc["summary"]["frames"] == processed >= 3 + 5 + 4
    assert not (out / manifest.JOURNAL).exists()
    assert not [p for p in out.rglob(".*")]                       # no temporary files


def test_a_rerun_skips_complete_items_and_redoes_damaged_ones(tree, first_run, capsys):
    _, first_out, first_doc = first_run
    out = tree / "rerun"
    shutil.copytree(first_out, out)
    damaged = out / "sub" / "b_keypoints.json"
    original = damaged.read_bytes()
    damaged.write_bytes(original[:-5])                            # present but incomplete
    (out / "v1" / "v1_000000000003_keypoints.json").unlink()      # a frame missing
    earlier = tree / "rerun.parquet"                              # an earlier table, replaced
    shutil.copytree(tree / "poses.parquet", earlier)
    shutil.copy(next(earlier.iterdir()), earlier / "stale.parquet")
    status = batch.main([str(tree / "in"), "-o", str(out), "--table", str(earlier)])
    doc = json.loads((out / manifest.MANIFEST).read_text())
    assert not (earlier / "stale.parquet").exists()
    assert read_table(earlier) == read_table(tree / "poses.parquet")   # skipped items included
    statuses = {n: r["status"] for n, r in by_name(doc).items()}
    assert statuses == {"a": "skipped", "bad": "failed", "sub/b": "done", "sub/c": "skipped",
                        "sub/cut": "failed", "sub/v2": "skipped", "v1": "done"}
    assert status == 1
    assert doc["summary"]["frames"] == 1 + 5 + by_name(doc)["sub/cut"]["frames"]
    assert damaged.read_bytes() == original
    for name in ("sub/b", "v1"):
        assert by_name(doc)[name]["sha256"] == by_name(first_doc)[name]["sha256"]
    captured = capsys.readouterr()
    assert "7 items: 2 done, 3 skipped (already complete), 2 failed" in captured.out
    bar = re.findall(r"(\d+) frames, ([\d.]+) frames/s", captured.err)[-1]
    summary = re.search(r"; ([\d.]+) frames/s up to the last frame", captured.out).group(1)
    assert int(bar[0]) == doc["summary"]["frames"] and bar[1] == summary   # one figure
    assert float(summary) == pytest.approx(doc["summary"]["steady_frames_per_second"], abs=0.006)
    assert captured.err.count("skipped: ") == 2


def test_a_list_file_of_complete_items_needs_no_work(tree, first_run, tmp_path):
    """Names are relative to the listed files' common folder, so a list of a.jpg and
    sub/v2.mp4 finds the outputs of the folder run complete; Ray is not even needed."""
    _, first_out, _ = first_run
    out = tmp_path / "again"
    shutil.copytree(first_out, out)
    listing = tree / "in" / "some.txt"
    listing.write_text("a.jpg\nsub/v2.mp4\n")
    try:
        status = batch.main([str(listing), "-o", str(out), "-q"])
    finally:
        listing.unlink()
    doc = json.loads((out / manifest.MANIFEST).read_text())
    assert status == 0
    assert [(r["name"], r["status"]) for r in doc["items"]] == [("a", "skipped"),
                                                                 ("sub/v2", "skipped")]
    assert doc["summary"]["frames"] == 0


def test_user_errors_are_one_line_before_any_work(tree, capsys):
    assert batch.main([str(tree / "missing"), "-o", str(tree / "x")]) == 1
    assert batch.main([str(tree / "in"), "-o", str(tree / "in" / "out")]) == 1
    assert batch.main([str(tree / "in"), "-o", str(tree / "x"),
                       "--table", str(tree / "in" / "t.parquet")]) == 1
    assert batch.main([str(tree / "in"), "-o", str(tree / "x.parquet"),
                       "--table", str(tree / "x.parquet")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 4 and all(line.startswith("posekit-batch: error: ")
                                 for line in err)
    assert "inside the input folder" in err[2] and "is the output folder" in err[3]
    assert not (tree / "x").exists() and not (tree / "in" / "out").exists()
    assert not (tree / "in" / "t.parquet").exists() and not (tree / "x.parquet").exists()


def test_the_table_holds_every_keypoint_of_the_json_outputs(tree, first_run):
    _, out, doc = first_run
    table = read_table(tree / "poses.parquet")
    assert list(table) == ["source", "frame", "time", "person_id", "keypoint", "x", "y", "score"]
    done = {r["name"]: r for r in doc["items"] if r["status"] == "done"}
    assert set(table["source"]) <= set(done) and "bad" not in table["source"]
    assert len(table["source"]) == 18 * sum(r["people"] for r in done.values()) \
        == doc["summary"]["table_rows"]
    assert doc["summary"]["table"] == str((tree / "poses.parquet").resolve())
    rows = list(zip(*(table[c] for c in ("source", "frame", "time", "person_id", "x", "score"))))
    for k in range(5):                              # v1's frames: ids, times, keypoints
        frame = json.loads((out / "v1" / f"v1_{k:012d}_keypoints.json").read_text())
        mine = [r for r in rows if r[0] == "v1" and r[1] == k]
        assert sorted(r[3] for r in mine) == \
            sorted(p["person_id"][0] for p in frame["people"] for _ in range(18))
        assert {r[2] for r in mine} <= {frame["time"]}
        triples = zip(*[iter(v for p in frame["people"] for v in p["pose_keypoints_2d"])] * 3)
        expected = sorted((x if score > 0 else 0.0, score) for x, _, score in triples)
        assert sorted((0.0 if x is None else x, s) for _, _, _, _, x, s in mine) == expected
    images = [r for r in rows if r[0] == "a"]
    assert images and all(r[2] is None for r in images)      # an image: time NaN
    assert not list(tree.glob(".poses.parquet*"))            # no temporary folder left


def test_no_track_writes_minus_one_and_the_table_numbers_people_per_frame(tree, local_ray):
    out, table = tree / "untracked", tree / "untracked.parquet"
    assert batch.main([str(tree / "in" / "v1.avi"), "-o", str(out), "-q", "--no-track",
                       "--table", str(table)]) == 0
    rows = read_table(table)
    assert rows["person_id"]                                  # the bus has people
    for k in range(5):
        ids = person_ids(out / "v1" / f"v1_{k:012d}_keypoints.json")
        assert ids == [-1] * len(ids)
        assert sorted({p for f, p in zip(rows["frame"], rows["person_id"]) if f == k}) \
            == list(range(len(ids)))
    doc = json.loads((out / manifest.MANIFEST).read_text())
    assert doc["summary"]["tracked"] is False and doc["items"][0]["tracked"] is False
    # the same folder with tracking: the video is redone, not taken as complete
    assert batch.main([str(tree / "in" / "v1.avi"), "-o", str(out), "-q"]) == 0
    doc = json.loads((out / manifest.MANIFEST).read_text())
    assert doc["items"][0]["status"] == "done" and doc["items"][0]["tracked"] is True
    assert min(person_ids(out / "v1" / "v1_000000000000_keypoints.json")) >= 0


def test_a_table_write_interrupted_in_the_workers_leaves_the_earlier_table(tree, first_run,
                                                                           monkeypatch):
    import ray.data

    from posekit.apps.batch.table import write_table
    from posekit.io.sources import collect

    _, out, doc = first_run
    kept = tree / "kept.parquet"
    shutil.copytree(tree / "poses.parquet", kept)
    before = read_table(kept)

    def interrupted(self, path, **kwargs):           # a part file written, then Ctrl-C
        Path(path).mkdir()
        (Path(path) / "half.parquet").write_bytes(b"PAR1")
        raise KeyboardInterrupt

    monkeypatch.setattr(ray.data.Dataset, "write_parquet", interrupted)
    records = by_name(doc)
    done = [(it, records[it.name]["frames"]) for it in collect([str(tree / "in")], out)
            if records[it.name]["status"] == "done"]
    with pytest.raises(KeyboardInterrupt):
        write_table(kept, out, done)
    assert read_table(kept) == before
    assert not list(tree.glob(".kept.parquet*"))


def test_a_rerun_with_other_settings_redoes_the_items_and_the_table_never_mixes(
        tree, local_ray, tmp_path, capsys):
    """Issue 31: a.jpg done with the lab decoder and --min-parts 18 (no one passes), then the
    folder a.jpg is in, with the defaults and a table: a.jpg is redone (it was skipped, its
    empty result kept and put in the table beside sub/c's default one)."""
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(tree / "in" / "a.jpg", src / "a.jpg")
    shutil.copy(tree / "in" / "sub" / "c.jpg", src / "c.jpg")
    out, table = tmp_path / "out", tmp_path / "t.parquet"
    assert batch.main([str(src / "a.jpg"), "-o", str(out), "-q", "--decoder", "lab",
                       "--min-parts", "18"]) == 0
    assert json.loads((out / "a_keypoints.json").read_text())["people"] == []
    assert batch.main([str(src), "-o", str(out), "--table", str(table)]) == 0
    captured = capsys.readouterr()
    assert "2 items: 2 done, 0 skipped" in captured.out
    assert "1 item(s) done earlier with other settings (decoder, decoder_params)" in captured.err
    doc = json.loads((out / manifest.MANIFEST).read_text())
    assert len(json.loads((out / "a_keypoints.json").read_text())["people"]) > 0
    settings = [r["settings"] for r in doc["items"]]
    assert settings[0] == settings[1] == item_settings(doc["summary"]["settings"], "image")
    assert settings[0]["decoder"] == "best" and settings[0]["decoder_params"]["min_parts"] == 4
    assert set(read_table(table)["source"]) == {"a", "c"}          # both with the defaults
    # the default given explicitly is the same setting: nothing to redo
    assert batch.main([str(src), "-o", str(out), "--min-parts", "4", "--table", str(table)]) == 0
    assert "2 items: 0 done, 2 skipped" in capsys.readouterr().out


def test_a_signal_while_the_run_ends_still_writes_the_manifest(tree, local_ray, tmp_path,
                                                               monkeypatch, capsys):
    """The killed-node cluster test once found no manifest: its SIGTERM came while the run
    was ending by itself (Ray shutting down), and the KeyboardInterrupt left the ending half
    done. Here a SIGINT comes while the progress bar is closed, at the same point."""
    import signal

    from posekit.apps.batch.results import Tracker

    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT is not Python's KeyboardInterrupt here")
    close = Tracker.close

    def interrupted_close(self):
        signal.raise_signal(signal.SIGINT)
        close(self)

    monkeypatch.setattr(Tracker, "close", interrupted_close)
    out = tmp_path / "out"
    status = batch.main([str(tree / "in" / "a.jpg"), "-o", str(out), "-q"])
    assert status == 130
    doc = json.loads((out / manifest.MANIFEST).read_text())
    assert [r["status"] for r in doc["items"]] == ["done"]            # the work was done
    assert not (out / manifest.JOURNAL).exists()
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "posekit-batch: interrupted; rerun the same command to finish")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler   # put back


def test_the_process_entry_flushes_and_ends_with_mains_status(monkeypatch, capsys):
    """``posekit-batch`` ends with ``os._exit(main())`` after flushing (Ray's core worker can
    abort in the interpreter's teardown after a SIGTERM: status -6 instead of 130)."""
    ended = []

    class Ended(Exception):
        pass

    def fake_exit(status):
        ended.append((status, capsys.readouterr().err))
        raise Ended

    def fake_main():
        print("posekit-batch: interrupted; rerun the same command to finish", file=sys.stderr)
        return 130

    monkeypatch.setattr(batch, "main", fake_main)
    monkeypatch.setattr(batch.os, "_exit", fake_exit)
    with pytest.raises(Ended):
        batch.entry()
    assert ended == [(130, "posekit-batch: interrupted; rerun the same command to finish\n")]
