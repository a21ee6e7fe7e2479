"""The batch driver's side of the results: frames written as JSON, items recorded, outputs checked."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import re
import sys
import time
from pathlib import Path, PurePosixPath
from typing import Dict, Optional, Sequence

from posekit.io import images as imageio
from posekit.apps.batch import manifest
from posekit.io.atomic import stale_temporaries
from posekit.apps.batch.settings import item_settings
from posekit.io.sources import Item


class Tracker:
    """The driver's side: writes each frame's JSON, notices finished items, records them."""

    def __init__(self, items: Sequence[Item], out: Path, journal: manifest.Journal,
                 quiet: bool, prog: str = "posekit-batch",
                 video_fields: Optional[dict] = None, settings: Optional[dict] = None) -> None:
        self.prog = prog
        self.video_fields = dict(video_fields or {})   # recorded with each finished video
        self.settings = settings                        # the run's, recorded per done item
        self.items = {it.index: it for it in items}
        self.out, self.journal, self.quiet = out, journal, quiet
        self.state: Dict[int, dict] = {}
        self.records: Dict[int, dict] = {}
        self.frames = 0
        self.start = time.perf_counter()
        self.first: Optional[float] = None  # when the first frame came back (start-up over)
        self.last: Optional[float] = None   # when the latest frame came back
        self.bar = None
        if not quiet:
            from tqdm import tqdm

            self.bar = tqdm(total=len(items), unit="item", file=sys.stderr, dynamic_ncols=True,
                            smoothing=0.1)

    def row(self, item: int, frame: int, total: int, error: str, payload: bytes,
            people: int, node: str = "") -> None:
        """One result row: a frame (``frame >= 0``) or an item's end row."""
        state = self.state.setdefault(item, {"seen": 0, "hashes": {}, "people": 0,
                                             "errors": [], "total": None, "nodes": set()})
        if node and frame >= 0:
            state["nodes"].add(node)
        if error:
            state["errors"].append(error)
        if frame >= 0:
            state["seen"] += 1
            if not error:
                target = self.out / self.items[item].output(frame)
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    imageio.write_bytes(target, payload)
                except (OSError, ValueError) as exc:    # this item fails, the run goes on
                    state["errors"].append(f"cannot write {target}: "
                                           f"{getattr(exc, 'strerror', None) or exc}")
                    error = state["errors"][-1]
            if not error:
                state["hashes"][frame] = hashlib.sha256(payload).digest()
                state["people"] += people
                self.frames += 1
                self.last = time.perf_counter()
                if self.first is None:
                    self.first = self.last
                self._show()
        else:
            state["total"] = total
        if state["total"] is not None and state["seen"] == state["total"]:
            self._finish(self.items[item], self.state.pop(item))

    def _finish(self, item: Item, state: dict) -> None:
        record = {"path": item.path, "name": item.name, "kind": item.kind,
                  "source": manifest.fingerprint(item.path),
                  "outputs": item.output(0) if item.kind == "image" else f"{item.name}/"}
        if state["errors"] or not state["total"]:
            for frame in state["hashes"]:                  # a failed item leaves nothing
                (self.out / item.output(frame)).unlink(missing_ok=True)
            if item.kind == "video":
                with contextlib.suppress(OSError):         # its folder, when empty
                    (self.out / item.name).rmdir()
            error = state["errors"][0] if state["errors"] else "no frames"
            # frames: how many were processed before the failure (their outputs are removed)
            record.update(status="failed", frames=len(state["hashes"]), people=0, sha256=None,
                          error=error)
            self.note(f"skipped: {item.path}: {error}")
        else:
            hashes = [state["hashes"][f] for f in range(state["total"])]
            record.update(status="done", frames=state["total"], people=state["people"],
                          sha256=manifest.combined_digest(hashes), error=None,
                          nodes=sorted(state.get("nodes", ())))
            if item.kind == "video":
                record.update(self.video_fields)
            if self.settings is not None:
                record["settings"] = item_settings(self.settings, item.kind)
        self.records[item.index] = record
        self.journal.add(record)
        if self.bar is not None:
            self.bar.update(1)
            self._show(force=True)

    def refuse(self, item: Item, error: str) -> None:
        """Record ``item`` as failed before any work (its outputs cannot be written)."""
        self.items[item.index] = item
        if self.bar is not None:
            self.bar.total += 1
        self._finish(item, {"errors": [error], "hashes": {}, "total": 0})

    def steady_rate(self) -> float:
        """Frames per second from the run's start to the latest frame (0 before one): the
        progress bar's figure, and the summary's after the last frame (so they agree; the
        time after the last frame, shutting Ray down, counts only in the overall rate).
        Frames come back in chunks, many at one instant, so the time between the first
        and the last frame says nothing of the rate (2 frames of one chunk: 1000 frames/s)."""
        if self.last is None or self.frames < 1:
            return 0.0
        return self.frames / max(self.last - self.start, 1e-9)

    def _show(self, force: bool = False) -> None:
        if self.bar is not None and (force or self.frames % 10 == 0):
            self.bar.set_postfix_str(f"{self.frames} frames, {self.steady_rate():.2f} frames/s")

    def note(self, text: str) -> None:
        """One line on stderr (always shown, above the bar)."""
        line = f"{self.prog}: {text}"
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def remove_stale_outputs(out: Path, item: Item) -> None:
    """Delete what an unfinished earlier run left for ``item`` (only this item's file names):
    its outputs, and the temporary files of its outputs whose writer was killed
    (:func:`posekit.io.atomic.stale_temporaries`: ``.NAME.<pid>-<hex>.part.json`` of a
    process that is gone).

    Raises:
        OSError: a file could not be removed.
    """
    target = out / item.output(0)
    folder = target.parent
    stem = Path(item.name).name
    frame = re.compile(re.escape(f"{stem}_") + r"[0-9]{12}_keypoints\.json")

    def owns(name: str, cut: bool) -> bool:
        """Whether a temporary's destination name is one of this item's outputs."""
        if item.kind == "image":
            return name == target.name or (cut and target.name.startswith(name))
        return bool(frame.fullmatch(name)) or (cut and name.startswith(f"{stem}_"))

    if item.kind == "image":
        target.unlink(missing_ok=True)
    elif folder.is_dir() and not folder.is_symlink():
        for path in folder.glob(glob.escape(f"{stem}_") + "[0-9]" * 12 + "_keypoints.json"):
            path.unlink(missing_ok=True)
    if folder.is_dir() and not folder.is_symlink():
        for path in stale_temporaries(folder, owns, suffixes=(".json",)):
            if path.is_file():
                path.unlink(missing_ok=True)


def unwritable(out: Path, item: Item) -> str:
    """Why ``item``'s outputs cannot be written into ``out`` (``""`` when they can).

    The demo's output rules, per item: every part of the output path fits in
    :data:`posekit.io.images.NAME_MAX` bytes; no folder on the way is a
    symbolic link or a file; an image's output is not a folder, a link or a
    special file (batch outputs are regular files).
    """
    relative = PurePosixPath(item.output(0))
    for part in relative.parts:
        if len(os.fsencode(part)) > imageio.NAME_MAX:
            return (f"the output name {part[:40]}... is {len(os.fsencode(part))} bytes long, "
                    f"more than the file system's {imageio.NAME_MAX}; rename the file")
    path = out
    for part in relative.parent.parts:
        path = path / part
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            return f"{path} is a symbolic link or a file, not a folder"
    if item.kind == "video":
        return ""
    target = out / relative
    try:
        kind = imageio.destination_kind(target)
    except ValueError as exc:
        return str(exc)
    return f"{target} is a special file (FIFO, device, socket)" if kind == "special" else ""
