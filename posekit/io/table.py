"""One table of every keypoint: a row per frame x person x keypoint, CSV or Parquet.

Columns: ``frame`` (int64), ``time`` (seconds, float64), ``person_id`` (int64;
the track id, or the person's index in the frame without tracking), ``keypoint``
(name, CMU order), ``x``, ``y`` (pixels of the original image, NaN when the
keypoint is missing) and ``score`` (0 when missing). All 18 keypoints of every
person are written.

Rows are streamed to a hidden temporary file next to the destination (memory
stays bounded by one buffered block of :data:`BLOCK_ROWS` rows, whatever the
length of the video) and the file is renamed on :meth:`TableWriter.commit`, so the
table is complete or absent. Formats plug in through :data:`TABLE_FORMATS`.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Callable, Dict, List, Sequence, Union

import numpy as np

from posekit.lab.config import NUM_PARTS, BodyPart

from posekit.io.atomic import destination_kind, signals_held, stale_temporaries, temporary_name

PathLike = Union[str, "os.PathLike[str]"]
COLUMNS = ("frame", "time", "person_id", "keypoint", "x", "y", "score")
KEYPOINT_NAMES = tuple(part.name for part in BodyPart)
#: Rows buffered before a block is written: 64k rows of 7 columns stay under ~10 MB.
BLOCK_ROWS = 65536


def parquet_schema():
    """The Parquet table's columns and types (:data:`COLUMNS`), a ``pyarrow.Schema``."""
    import pyarrow as pa

    return pa.schema([("frame", pa.int64()), ("time", pa.float64()),
                      ("person_id", pa.int64()), ("keypoint", pa.string()),
                      ("x", pa.float64()), ("y", pa.float64()), ("score", pa.float64())])


def frame_rows(frame: int, time: float, ids: Sequence[int],
               keypoints: np.ndarray) -> Dict[str, np.ndarray]:
    """The table's rows of one frame's people: 18 per person, columns :data:`COLUMNS`.

    Args:
        frame: the frame's index.
        time: its time, seconds.
        ids: (K,) person ids.
        keypoints: (K, 18, 3) ``x, y, score``; score 0 marks a missing keypoint.

    Returns:
        Column arrays of ``K * 18`` rows (missing keypoints: x, y NaN and score 0).

    Raises:
        ValueError: shapes that disagree.
    """
    people = np.asarray(keypoints, dtype=np.float64).reshape(-1, NUM_PARTS, 3)
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    if len(ids) != len(people):
        raise ValueError(f"ids must have one id per person ({len(people)}), got {len(ids)}")
    n = len(people) * NUM_PARTS
    missing = people[..., 2] <= 0
    return {"frame": np.full(n, int(frame), np.int64),
            "time": np.full(n, float(time)),
            "person_id": np.repeat(ids, NUM_PARTS),
            "keypoint": np.tile(np.array(KEYPOINT_NAMES, dtype=object), len(people)),
            "x": np.where(missing, np.nan, people[..., 0]).reshape(-1),
            "y": np.where(missing, np.nan, people[..., 1]).reshape(-1),
            "score": np.where(missing, 0.0, people[..., 2]).reshape(-1)}


class _Csv:
    def __init__(self, path: Path) -> None:
        self._file = open(path, "w", encoding="utf-8", newline="")
        self._file.write(",".join(COLUMNS) + "\n")

    def write(self, columns: Dict[str, np.ndarray]) -> None:
        lines = []
        for f, t, p, k, x, y, s in zip(*(columns[c].tolist() for c in COLUMNS)):
            xs = "" if x != x else f"{x:.3f}"  # NaN: an empty field
            ys = "" if y != y else f"{y:.3f}"
            lines.append(f"{f},{t:.6f},{p},{k},{xs},{ys},{s:.5f}\n")
        self._file.write("".join(lines))

    def close(self) -> None:
        self._file.close()


class _Parquet:
    def __init__(self, path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._pa = pa
        self.schema = parquet_schema()
        self._writer = pq.ParquetWriter(os.fspath(path), self.schema)

    def write(self, columns: Dict[str, np.ndarray]) -> None:
        self._writer.write_table(self._pa.table(
            {c: columns[c] for c in COLUMNS}, schema=self.schema))

    def close(self) -> None:
        self._writer.close()


#: Table formats by file extension.
TABLE_FORMATS: Dict[str, Callable[[Path], object]] = {".csv": _Csv, ".parquet": _Parquet}


class TableWriter:
    """Streams people to a CSV or Parquet table; renamed into place on :meth:`commit`.

    Example::

        table = TableWriter("poses.parquet")
        table.add(frame=0, time=0.0, ids=[7], keypoints=people)   # people: (K, 18, 3)
        table.commit()
    """

    def __init__(self, path: PathLike) -> None:
        """Open the temporary file.

        Raises:
            ValueError: an extension other than those of :data:`TABLE_FORMATS`, or a
                destination that is a link, a folder or a special file.
            OSError: the temporary file cannot be created.
        """
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in TABLE_FORMATS:
            raise ValueError(f"path must end with {' or '.join(TABLE_FORMATS)}, "
                             f"got {self.path.name}")
        if destination_kind(self.path) != "file":
            raise ValueError(f"path {self.path} must be a regular file name")
        name = self.path.name
        for stale in stale_temporaries(self.path.parent, suffixes=(suffix,), owns=lambda n, cut:
                                       n == name or (cut and name.startswith(n))):
            with contextlib.suppress(OSError):      # a killed writer's: ours, and dead
                stale.unlink()
        self._tmp = temporary_name(self.path, suffix)
        self._sink = TABLE_FORMATS[suffix](self._tmp)
        self._blocks: List[Dict[str, np.ndarray]] = []
        self._buffered = 0
        self._state = "open"                        # then "committed" or "discarded"
        self.rows = 0

    def add(self, frame: int, time: float, ids: Sequence[int], keypoints: np.ndarray) -> None:
        """Add one frame's people; the arguments are :func:`frame_rows`'s.

        Raises:
            ValueError: shapes that disagree.
        """
        self._check_open("add to")
        block = frame_rows(frame, time, ids, keypoints)
        n = len(block["frame"])
        if n == 0:
            return
        self._blocks.append(block)
        self._buffered += n
        self.rows += n
        if self._buffered >= BLOCK_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._blocks:
            self._sink.write({c: np.concatenate([b[c] for b in self._blocks]) for c in COLUMNS})
        self._blocks, self._buffered = [], 0

    def _check_open(self, what: str) -> None:
        if self._state != "open":
            raise RuntimeError(f"cannot {what} the table {self.path}: it was already "
                               f"{self._state}")

    def commit(self) -> Path:
        """Write what is buffered, close and rename the file to :attr:`path`.

        A second call returns :attr:`path` again (the table is committed once).

        Raises:
            RuntimeError: the table was discarded.
            OSError: writing failed; the temporary file is removed (even when a second
                Ctrl-C comes while it is), :attr:`path` is untouched.
        """
        if self._state == "committed":
            return self.path
        self._check_open("commit")
        try:
            self._flush()
            self._sink.close()
            os.replace(self._tmp, self.path)
        except BaseException:
            self.discard()
            raise
        self._state = "committed"
        return self.path

    def discard(self) -> None:
        """Close and delete the temporary file; :attr:`path` is untouched (a committed
        table stays). SIGINT and SIGTERM wait until the file is gone."""
        if self._state == "committed":
            return
        self._state = "discarded"
        with signals_held():
            with contextlib.suppress(Exception):
                self._sink.close()
            with contextlib.suppress(OSError):
                self._tmp.unlink()
