"""Tests of posekit.apps.batch.manifest: the journal, the manifest and the check of complete outputs."""

from __future__ import annotations

import hashlib
import json
import os

from posekit.apps.batch import manifest
from posekit.io.sources import Item


def make_done(tmp_path, frames=3):
    """A video item with its outputs and the record a run would have written."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    source = tmp_path / "clip.avi"
    source.write_bytes(b"video")
    out = tmp_path / "out"
    item = Item(0, str(source), "video", "clip")
    hashes = []
    for frame in range(frames):
        path = out / item.output(frame)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps({"frame": frame}).encode()
        path.write_bytes(data)
        hashes.append(hashlib.sha256(data).digest())
    record = {"path": item.path, "name": item.name, "kind": item.kind, "status": "done",
              "frames": frames, "sha256": manifest.combined_digest(hashes),
              "source": manifest.fingerprint(item.path)}
    return out, item, record


def test_complete_outputs_are_recognised(tmp_path):
    out, item, record = make_done(tmp_path)
    assert manifest.is_complete(out, item, record)
    assert manifest.is_complete(out, item, dict(record, status="skipped"))


def test_damaged_missing_or_stale_outputs_are_not_complete(tmp_path):
    out, item, record = make_done(tmp_path)
    assert not manifest.is_complete(out, item, None)
    assert not manifest.is_complete(out, item, dict(record, status="failed"))
    assert not manifest.is_complete(out, item, dict(record, name="other"))
    assert not manifest.is_complete(out, item, dict(record, frames=0))
    first = out / item.output(0)
    first.write_bytes(first.read_bytes()[:-1])                      # truncated
    assert not manifest.is_complete(out, item, record)
    out, item, record = make_done(tmp_path / "b")
    (out / item.output(2)).unlink()                                 # missing frame
    assert not manifest.is_complete(out, item, record)
    out, item, record = make_done(tmp_path / "c")
    stat = os.stat(item.path)
    os.utime(item.path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))   # source changed
    assert not manifest.is_complete(out, item, record)


def test_journal_survives_a_cut_line_and_overrides_the_manifest(tmp_path):
    manifest.write_manifest(tmp_path, [{"path": "/a", "status": "failed"},
                                       {"path": "/b", "status": "done"}], {"items": 2})
    journal = manifest.Journal(tmp_path)
    journal.add({"path": "/a", "status": "done"})
    journal.close()
    with open(tmp_path / manifest.JOURNAL, "a") as handle:
        handle.write('{"path": "/c", "sta')                        # killed mid-line
    records = manifest.load_records(tmp_path)
    assert {k: v["status"] for k, v in records.items()} == {"/a": "done", "/b": "done"}
    journal = manifest.Journal(tmp_path)
    journal.close(remove=True)
    assert not (tmp_path / manifest.JOURNAL).exists()
    assert json.loads((tmp_path / manifest.MANIFEST).read_text())["summary"] == {"items": 2}


def test_unreadable_manifest_means_no_records(tmp_path):
    (tmp_path / manifest.MANIFEST).write_text("{not json")
    assert manifest.load_records(tmp_path) == {}


def test_each_field_of_a_record_is_checked(tmp_path):
    """A record differing from the item or its outputs in any one field proves nothing."""
    out, item, record = make_done(tmp_path)
    assert manifest.is_complete(out, item, record)
    for field, value in (("kind", "image"), ("name", "clip2"), ("status", None),
                         ("frames", "3"), ("frames", 2), ("frames", 4), ("sha256", "0" * 64),
                         ("source", {"bytes": 6, "mtime_ns": record["source"]["mtime_ns"]})):
        assert not manifest.is_complete(out, item, dict(record, **{field: value})), field
    for field in ("kind", "name", "status", "frames", "sha256", "source"):
        partial = {k: v for k, v in record.items() if k != field}
        assert not manifest.is_complete(out, item, partial), field


def test_outputs_made_with_other_settings_are_not_complete(tmp_path):
    out, item, record = make_done(tmp_path)
    settings = {"decoder": "best", "max_side": 640, "track": True}
    assert not manifest.is_complete(out, item, record, settings)     # none recorded
    record["settings"] = dict(settings)
    assert manifest.is_complete(out, item, record, settings)
    assert not manifest.is_complete(out, item, record, dict(settings, decoder="lab"))
    assert manifest.is_complete(out, item, record)                  # settings not asked
