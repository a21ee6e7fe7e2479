"""The batch run's keypoint table: Parquet files written by Ray Data's workers, not the driver.

``python -m posekit.apps.batch ... --table poses.parquet`` writes, once the frames
are done, a folder of Parquet files (one dataset: ``pandas.read_parquet``,
``pyarrow.dataset`` and Spark read it whole) with one row per frame x person x
keypoint: ``source`` (the item's output name, :mod:`posekit.io.sources`) and the
demo's columns (:mod:`posekit.io.table`): ``frame``, ``time`` (seconds on the
video's clock; NaN for an image), ``person_id`` (the track id, or the person's
index in the frame with ``--no-track`` and for images), ``keypoint``, ``x``,
``y`` (NaN when missing) and ``score``; -1 in a tracked video for a person
without an id yet (``TrackerParams.confirm_frames``), as in the demo's table. Rows are in no particular order across
files; sort by ``source, frame``.

The rows are made from the run's OpenPose JSON files (tracked, complete,
checked), so the table and the JSON always agree and items finished by an
earlier run are included. Ray Data tasks read the files in chunks of
:data:`FRAMES_PER_TASK` frames and ``Dataset.write_parquet`` writes them from
the workers; the driver lists the items and renames one folder. On a
cluster the output folder and the table must be on storage every node sees
(the same path on each), as for reading the inputs.

The table is complete or absent: the files go to a hidden sibling folder,
renamed to the table's name at the end (an earlier table there is moved aside
first, then deleted, with SIGINT and SIGTERM held back between the two
renames); a failed or interrupted write leaves no table. The hidden folders
carry the driver's process id (``.T.parquet.<pid>-<hex>.part`` and
``.part.old``); a run killed outright leaves them, and the next table written
at that place removes those whose process is gone (and those of versions
before the id, ``.T.parquet.tmp-<hex>`` / ``.old-<hex>``), nothing else.
Items are packed into tasks of about :data:`FRAMES_PER_TASK` frames, whatever
their size: a collection of one-frame images is as few tasks as one long video.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from pathlib import Path, PurePosixPath
from typing import Dict, Iterable, List, Sequence

import numpy as np

from posekit.lab.config import NUM_PARTS

from posekit.io.atomic import signals_held, stale_temporaries, temporary_name
from posekit.io.sources import RESERVED, Item
from posekit.io.table import COLUMNS, frame_rows, parquet_schema

#: Frames one table task reads (about 1-2 MB of JSON with a few people per frame).
FRAMES_PER_TASK = 256
#: Ray's CPU share of a table task (reading JSON; light).
TABLE_CPUS = 0.5
SUFFIX = ".parquet"


def table_schema():
    """``source`` followed by the demo's table columns (:func:`posekit.io.table.parquet_schema`)."""
    import pyarrow as pa

    schema = parquet_schema()
    return pa.schema([("source", pa.string()), *[(f.name, f.type) for f in schema]])


def check_table_path(table: Path, out: Path, inputs: Sequence[str],
                     items: Sequence[Item]) -> Path:
    """Make sure the table can be written at ``table`` without harming anything.

    Refused: a symbolic link; a FIFO, device or socket (not a regular file or
    folder); another extension than ``.parquet``; an existing file, or a folder holding anything but ``.parquet`` files (an earlier
    table is replaced); a missing or unwritable parent folder; the output
    folder or a folder holding it; a place inside an input folder, or holding
    an input; inside the output folder, a name an item's output or the
    manifest takes.

    Raises:
        ValueError: naming the reason.
    """
    if table.is_symlink():
        raise ValueError(f"--table {table} is a symbolic link")
    if table.exists() and not table.is_dir() and not table.is_file():
        raise ValueError(f"--table {table} is not a regular file or folder (a FIFO, a device "
                         "or a socket); the table is a folder of Parquet files: choose "
                         "another name")
    if table.suffix.lower() != SUFFIX:
        raise ValueError(f"--table must end with {SUFFIX} (the batch command writes Parquet), "
                         f"got {table.name}")
    if table.exists():
        if not table.is_dir():
            raise ValueError(f"--table {table} exists and is not a table folder; choose "
                             "another name or remove it")
        strangers = [p.name for p in table.iterdir()
                     if p.is_symlink() or not p.is_file() or p.suffix != SUFFIX]
        if strangers:
            raise ValueError(f"--table {table} is a folder with other files than a table's "
                             f"(such as {strangers[0]}); choose another name")
    parent = table.parent
    resolved_out = out.resolve()          # resolve(): links and '..' as far as the path exists
    new_out = not out.exists() and parent.resolve() == resolved_out    # created by the run
    if not new_out and (not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK)):
        raise ValueError(f"--table {table}: {parent} is not a writable folder")
    where = table.resolve()
    if where == resolved_out or where in resolved_out.parents:
        raise ValueError(f"--table {table} is the output folder {out} or holds it; choose "
                         "another name")
    for source in inputs:
        folder = Path(source)
        if folder.is_dir() and folder.resolve() in [where, *where.parents]:
            raise ValueError(f"--table {table} is inside the input folder {source}; choose a "
                             "place outside it")
    for item in items:
        if where in Path(os.path.realpath(item.path)).parents or \
                Path(os.path.realpath(item.path)) == where:
            raise ValueError(f"--table {table} would replace the input {item.path}")
    if resolved_out in where.parents:
        top = where.relative_to(resolved_out).parts[0].lower()
        taken = {name.lower() for name in RESERVED}
        for item in items:
            taken.add(PurePosixPath(item.output(0)).parts[0].lower())
        if top in taken:
            raise ValueError(f"--table {table} takes a name that an output in {out} needs; "
                             "choose another name")
    return table


def _frame_people(doc: dict, tracked: bool = False) -> tuple:
    """(ids, (K, 18, 3) keypoints) of one OpenPose JSON document; ``tracked``: a tracked
    video's frame, whose -1 (a person without an id yet) stays -1."""
    people = doc.get("people", [])
    keypoints = np.array([p["pose_keypoints_2d"] for p in people],
                         np.float64).reshape(-1, NUM_PARTS, 3)
    ids = np.array([p.get("person_id", [-1])[0] for p in people], np.int64)
    untracked = ids < 0                  # as the demo's table: the index in the frame
    if not tracked:
        ids[untracked] = np.flatnonzero(untracked)
    return ids, keypoints


def table_rows(batch: Dict[str, np.ndarray]):
    """Ray Data ``map_batches`` function: chunks of an item's frames in, table rows out.

    Args:
        batch: columns ``out`` (the output folder), ``name`` and ``kind`` (the
            item's), ``first`` and ``count`` (its frames to read), optionally
            ``tracked`` (a tracked video: its -1 ids stay -1; default False).

    Returns:
        A ``pyarrow.Table`` of :func:`table_schema` (K * 18 rows per frame).

    Raises:
        OSError / ValueError: a JSON file is missing or malformed (the table then fails).
    """
    import pyarrow as pa

    blocks: List[Dict[str, np.ndarray]] = []
    tracked = batch.get("tracked", np.zeros(len(batch["out"]), bool))
    for out, name, kind, first, count, track in zip(batch["out"], batch["name"], batch["kind"],
                                                    batch["first"], batch["count"], tracked):
        item = Item(0, "", str(kind), str(name))
        for frame in range(int(first), int(first) + int(count)):
            path = Path(str(out)) / item.output(frame)
            doc = json.loads(path.read_text(encoding="utf-8"))
            ids, keypoints = _frame_people(doc, bool(track))
            rows = frame_rows(frame, float(doc.get("time", np.nan)), ids, keypoints)
            rows["source"] = np.full(len(rows["frame"]), str(name), object)
            blocks.append(rows)
    schema = table_schema()
    columns = ("source", *COLUMNS)
    if not blocks:
        return schema.empty_table()
    return pa.table({c: np.concatenate([b[c] for b in blocks]) for c in columns},
                    schema=schema)


def table_task(batch: Dict[str, np.ndarray]):
    """Ray Data ``map_batches`` function: one task row (several items' chunks) in, its rows out.

    Args:
        batch: columns ``out`` (the output folder) and ``segments`` (JSON: a list of
            ``[name, kind, first, count, tracked]``, the chunks :func:`table_rows` reads).

    Returns:
        A ``pyarrow.Table`` of :func:`table_schema`.

    Raises:
        OSError / ValueError: as :func:`table_rows`.
    """
    columns: Dict[str, list] = {"out": [], "name": [], "kind": [], "first": [], "count": [],
                                "tracked": []}
    for out, segments in zip(batch["out"], batch["segments"]):
        for name, kind, first, count, *tracked in json.loads(str(segments)):
            for column, value in zip(columns, (str(out), name, kind, first, count,
                                               bool(tracked and tracked[0]))):
                columns[column].append(value)
    return table_rows({k: np.array(v, object) for k, v in columns.items()})


def _tasks(out: Path, done: Iterable[tuple], tracked: bool = False) -> List[dict]:
    """Task rows: the items' frames in chunks of at most :data:`FRAMES_PER_TASK`, several
    small items packed into one task (a task per one-frame image cost about 24 ms of Ray's
    own time each: 2,000 images took 48 s)."""
    rows: List[dict] = []
    segments: List[list] = []
    frames_in_task = 0
    for item, frames in done:
        for first in range(0, frames, FRAMES_PER_TASK):
            count = min(FRAMES_PER_TASK, frames - first)
            if segments and frames_in_task + count > FRAMES_PER_TASK:
                rows.append({"out": str(out.resolve()), "segments": json.dumps(segments)})
                segments, frames_in_task = [], 0
            segments.append([item.name, item.kind, first, count,
                             tracked and item.kind == "video"])
            frames_in_task += count
    if segments:
        rows.append({"out": str(out.resolve()), "segments": json.dumps(segments)})
    return rows


def _owned_by(table: Path):
    """``owns`` of :func:`posekit.io.atomic.stale_temporaries` for ``table``'s temporaries."""
    return lambda name, cut: name == table.name or (cut and table.name.startswith(name))


def remove_stale_temporaries(table: Path) -> List[Path]:
    """Remove the hidden folders that runs killed while writing ``table`` left beside it.

    Only this table's names count, carrying the id of a process that is gone
    (``.T.parquet.<pid>-<hex>.part`` and ``.part.old``), and those of versions
    without the id (``.T.parquet.tmp-<hex>``, ``.T.parquet.old-<hex>``).

    Returns:
        What was removed.
    """
    legacy = re.compile(re.escape(f".{table.name}.") + r"(tmp|old)-[0-9a-f]{8}", re.DOTALL)
    found = stale_temporaries(table.parent, _owned_by(table), suffixes=("", ".old"))
    try:
        found += [p for p in table.parent.iterdir()
                  if legacy.fullmatch(p.name) and not p.is_symlink()]
    except OSError:
        pass
    removed = []
    for path in found:
        with contextlib.suppress(OSError):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
    return removed


def write_table(table: Path, out: Path, done: Sequence[tuple], tracked: bool = False) -> int:
    """Write the table of ``done`` items' JSON outputs; returns its rows.

    Removes first what killed runs left beside it (:func:`remove_stale_temporaries`).

    Args:
        table: the table folder (checked by :func:`check_table_path`).
        out: the run's output folder.
        done: ``(item, frames)`` of each complete item.
        tracked: whether the run tracked its videos (their -1 ids stay -1).

    Raises:
        Exception: whatever Ray or the file system raised; no table is left then.
    """
    import pyarrow.parquet as pq
    import ray.data

    remove_stale_temporaries(table)
    tmp = temporary_name(table)
    old = temporary_name(table, ".old")
    try:
        tasks = _tasks(out, done, tracked)
        if tasks:
            dataset = ray.data.from_items(tasks, override_num_blocks=len(tasks))
            rows = dataset.map_batches(table_task, batch_size=1, batch_format="numpy",
                                       num_cpus=TABLE_CPUS)
            rows.write_parquet(str(tmp))
        tmp.mkdir(exist_ok=True)
        if not any(tmp.iterdir()):      # no people at all: one empty file keeps the columns
            pq.write_table(table_schema().empty_table(), str(tmp / f"empty{SUFFIX}"))
        count = sum(pq.ParquetFile(str(p)).metadata.num_rows for p in tmp.glob(f"*{SUFFIX}"))
        with signals_held():            # never the earlier table moved aside and no new one
            moved = table.exists()
            if moved:
                os.rename(table, old)
            try:
                os.rename(tmp, table)
            except BaseException:
                if moved:                   # the earlier table goes back
                    os.rename(old, table)
                raise
    finally:
        for leftover in (tmp, old):
            with contextlib.suppress(OSError):
                shutil.rmtree(leftover)
    return count
