"""The record of a batch run: one manifest, a journal while it runs, and what a rerun may skip.

Every finished item (done or failed) is appended to ``manifest.journal.jsonl``
in the output folder as soon as it finishes, so a run killed by any signal
keeps what it did. At the end the whole picture is written atomically to
``manifest.json`` and the journal is removed. A record::

    {"path": "/data/a/bus.jpg", "name": "a/bus", "kind": "image",
     "status": "done" | "skipped" | "failed", "frames": 1, "people": 4,
     "outputs": "a/bus_keypoints.json", "sha256": "...", "error": null,
     "source": {"bytes": 137419, "mtime_ns": 1764...}, "nodes": ["<Ray node id>"],
     "settings": {"model": "mobilenet_thin", "runtime": "tflite", ...}}

``skipped`` means found complete by a previous run; ``nodes`` (done items) are the
Ray nodes whose actors ran the network on the item's frames; ``settings`` those
that made its outputs (:mod:`posekit.apps.batch.settings`). An item is complete
when a record says it was done, the source file still has the recorded size
and modification time, the SHA-256 of its output files, read back now,
matches the recorded one, and the run's settings are the recorded ones:
present but truncated, edited or missing outputs, and outputs made otherwise
(another decoder, threshold, size, network, runtime; a record without
settings), are redone.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from pathlib import Path
from typing import Dict, Iterable, List, Optional

from posekit.io import images as imageio
from posekit.io.atomic import stale_temporaries
from posekit.apps.batch.settings import item_settings
from posekit.io.sources import Item

MANIFEST = "manifest.json"
JOURNAL = "manifest.journal.jsonl"
#: Version of the manifest's layout.
FORMAT = 1


def fingerprint(path: str) -> Optional[Dict[str, int]]:
    """Size and modification time of a source file (None when it cannot be read)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return {"bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def combined_digest(hashes: Iterable[bytes]) -> str:
    """SHA-256 (hex) over the SHA-256 digests of an item's outputs, in frame order."""
    total = hashlib.sha256()
    for digest in hashes:
        total.update(digest)
    return total.hexdigest()


def _file_hash(path: Path) -> Optional[bytes]:
    try:
        return hashlib.sha256(path.read_bytes()).digest()
    except OSError:
        return None


def is_complete(out: Path, item: Item, record: Optional[dict],
                settings: Optional[dict] = None) -> bool:
    """Whether a previous run's ``record`` proves ``item``'s outputs in ``out`` complete.

    Checks the status, name and kind, the source's size and modification
    time, the settings (when ``settings``, the run's, are given: the record's
    must be the same, :func:`posekit.apps.batch.settings.item_settings`), and the
    SHA-256 of every output file read back now.
    """
    if not record or record.get("status") not in ("done", "skipped"):
        return False
    if record.get("name") != item.name or record.get("kind") != item.kind:
        return False
    if settings is not None and record.get("settings") != item_settings(settings, item.kind):
        return False
    if record.get("source") != fingerprint(item.path):
        return False
    frames = record.get("frames")
    if not isinstance(frames, int) or frames < 1:
        return False
    hashes = []
    for frame in range(frames):
        digest = _file_hash(out / item.output(frame))
        if digest is None:
            return False
        hashes.append(digest)
    return combined_digest(hashes) == record.get("sha256")


def load_records(out: Path) -> Dict[str, dict]:
    """The latest record of each source path from a previous run's manifest and journal.

    Unreadable files and lines (a journal line cut by a kill) are ignored.

    Raises:
        ValueError: either file is not a regular file (see :func:`check_record_files`).
    """
    records: Dict[str, dict] = {}
    check_record_files(out)
    try:
        data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        for record in data.get("items", []):
            records[record["path"]] = record
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        pass
    try:
        lines = (out / JOURNAL).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        lines = []
    for line in lines:
        try:
            record = json.loads(line)
            records[record["path"]] = record
        except (ValueError, TypeError, KeyError):
            continue
    return records


def check_record_files(out: Path) -> None:
    """Refuse a manifest or journal that is not a regular file (or absent), before any work.

    Raises:
        ValueError: ``manifest.json`` or ``manifest.journal.jsonl`` in ``out``
            is a symbolic link, a folder, a FIFO, a device or a socket.
    """
    for name in (MANIFEST, JOURNAL):
        path = out / name
        if path.is_symlink() or (path.exists() and not path.is_file()):
            raise ValueError(f"{path} is a symbolic link, a folder or a special file; the run "
                             "keeps its records in regular files (move it away)")


class FolderLock:
    """An exclusive lock on a run's output folder (``flock`` on the folder itself).

    The system drops it when the process ends, however it ends, so a killed
    run never leaves it stuck; nothing is written into the folder. Use as a
    context manager.

    Raises (on construction):
        ValueError: another process holds the lock, or the folder cannot be opened.
    """

    def __init__(self, out: Path) -> None:
        import fcntl

        try:
            self._fd = os.open(out, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError as exc:
            raise ValueError(f"cannot open the output folder {out}: {exc.strerror}") from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self._fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise ValueError(f"another batch run is writing into {out}; wait for it to "
                                 "end or choose another output folder") from None
            raise ValueError(f"cannot lock the output folder {out}: {exc.strerror}") from None

    def __enter__(self) -> "FolderLock":
        return self

    def __exit__(self, *exc_info: object) -> None:
        os.close(self._fd)          # closing the descriptor releases the lock


class Journal:
    """Append-only record of finished items (one JSON line each, flushed at once)."""

    def __init__(self, out: Path) -> None:
        self.path = out / JOURNAL
        # never through a link, never into a FIFO (checked before; O_NOFOLLOW closes the race)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT
                     | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0), 0o666)
        self._file = open(fd, "a", encoding="utf-8")

    def add(self, record: dict) -> None:
        """Append one record."""
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    def close(self, remove: bool = False) -> None:
        """Close; with ``remove`` delete the file (its records are in the manifest)."""
        self._file.close()
        if remove:
            self.path.unlink(missing_ok=True)


def remove_stale_temporaries(out: Path) -> None:
    """Remove the temporary files of ``manifest.json`` that a killed run left in ``out``
    (:func:`posekit.io.atomic.stale_temporaries`: their process is gone)."""
    for path in stale_temporaries(out, lambda name, cut: name == MANIFEST,
                                          suffixes=(".json",)):
        if path.is_file():
            path.unlink(missing_ok=True)


def write_manifest(out: Path, records: List[dict], summary: dict) -> Path:
    """Write ``manifest.json`` atomically; returns its path."""
    path = out / MANIFEST
    imageio.write_json(path, {"format": FORMAT, "summary": summary, "items": records})
    return path
