"""The demo's video run: each frame's people drawn into an H.264 video, with per-frame JSON.

:func:`run_video` reads a video with its frames' times, estimates and tracks
the people of each frame and writes, for every frame, together: its OpenPose
JSON (and map pictures), its COCO results (``--json``), its table rows
(``--table``) and its drawn picture into the video, at the source's own time
(a variable frame rate is kept). SIGINT and SIGTERM wait while one frame's
outputs go out (``Run.gate``), so after Ctrl-C the video, the JSON files, the table
and ``--json`` all end at the same frame. ``--jsonl -`` writes each frame's JSON line
last; ``--max-frames`` and ``--duration`` stop the run (then not called truncated);
:func:`failing_sinks` and :func:`_frame` serve the live run too
(``posekit.apps.demo_live``). Problems end as one
:class:`CommandError` line: a frame size the encoder refuses (before any work), a
full disk, a truncated video (the check the batch command makes, after the
frames it has).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, TextIO, Tuple

import numpy as np

from posekit.video.smoothing import OneEuroParams

from posekit.io import images as imageio
from posekit.video.reader import VideoInfo, VideoReader
from posekit.apps.command import CommandError, Interrupted
from posekit.apps.demo_inputs import check_size, fit_frame
from posekit.apps.demo_run import Run
from posekit.apps.outputs import same_file, video_output_is_file
from posekit.video.stream import PoseStream, coco_with_ids, draw_people, openpose_with_ids
from posekit.io.table import TableWriter
from posekit.video.writer import H264Writer, check_frame_size


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


class _Sinks:
    """The drawn video, the table and the JSON lines (``--jsonl -``) of one run; each frame
    goes to all of them or to none."""

    def __init__(self, target: Path, info: VideoInfo, table: Optional[str],
                 jsonl: Optional[str] = None) -> None:
        self.lines: Optional[TextIO] = sys.stdout if jsonl == imageio.STDOUT else None
        #: Seconds subtracted from the frames' times in the video (a live segment's start).
        self.offset = 0.0
        try:
            self.video = H264Writer(target, info.fps, (info.width, info.height))
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot write the output: {_one_line(exc)}") from None
        try:
            self.table = TableWriter(table) if table else None
        except (OSError, ValueError) as exc:
            self.video.discard()
            raise CommandError(f"cannot write the output: {_one_line(exc)}") from None

    def frames_written(self) -> int:
        """Frames in the video so far."""
        return self.video.frames

    def discard(self) -> None:
        """Drop both (nothing at their destinations)."""
        self.video.discard()
        if self.table is not None:
            self.table.discard()

    def commit(self) -> Tuple[Optional[Path], List[str]]:
        """Finish both: ``(the video's path or None, a line per output that failed)``."""
        path, failed = None, []
        try:
            path = self.video.commit()
        except (OSError, ValueError) as exc:
            failed.append(f"the video: {_one_line(exc)}")
        if self.table is not None:
            try:
                self.table.commit()
            except (OSError, ValueError) as exc:
                failed.append(f"the table {self.table.path}: {_one_line(exc)}")
        return path, failed


def run_video(run: Run, source: Path, out: Path, name: Optional[str] = None) -> int:
    """Every frame of a video: the drawn H.264 video, people tracked across frames.

    ``out`` is the video file (``-o NAME.mp4``) or a folder that receives
    ``NAME.mp4`` and ``NAME_<frame:012d>_keypoints.json`` per frame (``name``:
    the output name, default the file's stem). COCO image ids continue from
    ``run.next_image_id``.

    Raises:
        CommandError: the video cannot be read or written, a frame size the network or the
            encoder cannot take (before any work), frames skipped, or the video ended
            before the frames its header announced (the outputs of the frames read are
            kept).
        Interrupted: Ctrl-C or SIGTERM; the frames done are kept, all outputs alike.
    """
    name = name or source.stem
    try:
        reader = VideoReader(source)
    except (OSError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    args = run.args
    as_file = video_output_is_file(out)
    target = out if as_file else out / f"{name}.mp4"
    with reader:
        info = reader.info
        check_size(info.height, info.width, source, run.max_side(), run.scales())
        try:
            check_frame_size(info.width, info.height)
        except ValueError as exc:
            raise CommandError(f"{source}: {exc}") from None
        if target.exists() and same_file(target, source):
            raise CommandError(f"the output video would overwrite the input {source}; choose "
                           "another name with -o")
        run.load(None if as_file else out)
        smooth = OneEuroParams(min_cutoff=args.min_cutoff, beta=args.beta) \
            if args.smooth else None
        stream = PoseStream(run.estimator, track=args.track, smooth=smooth)
        sinks = _Sinks(target, info, args.table, getattr(args, "jsonl", None))
        first_id, frames, skipped, stopped = run.next_image_id, 0, 0, False
        total = info.frame_count
        if total and getattr(args, "max_frames", None):
            total = min(total, args.max_frames)
        run.progress = run.progress_bar(total, "frame")
        start = time.perf_counter()
        with failing_sinks(run, sinks, out, as_file):
            for frame_index, (seconds, frame) in enumerate(reader.timed()):
                frames = frame_index + 1
                if _frame(run, stream, sinks, source, out, as_file, name, frame_index,
                          first_id + frame_index, seconds, frame):
                    skipped += 1
                run.next_image_id = first_id + frames     # the next video's ids follow
                if run.progress is not None:
                    run.progress.update(1)
                if limit_reached(args, frames, time.perf_counter() - start):
                    stopped = True
                    break
        elapsed = time.perf_counter() - start       # the frames' time, as the bar measures it
        run.close_progress()
        try:
            if not stopped:
                reader.check_complete(frames)
            truncated = ""
        except ValueError as exc:
            truncated = _one_line(exc)
        path, failed = sinks.commit()
        if failed:
            sinks.discard()
            raise CommandError(f"cannot write {failed[0]}")
    run.finish_json()
    run.summary(sinks.frames_written(), "frames", elapsed, path)
    kept = f"the video and the outputs of its {frames} frames are in {path.parent}"
    if truncated:
        raise CommandError(f"{truncated}; {kept}")
    if skipped:
        raise CommandError(f"{skipped} of {frames} frames were skipped (see above); {kept}")
    return 0


def limit_reached(args: object, frames: int, seconds: float) -> bool:
    """Whether ``--max-frames`` or ``--duration`` ends the run after ``frames`` frames and
    ``seconds`` seconds."""
    most, duration = getattr(args, "max_frames", None), getattr(args, "duration", None)
    return bool((most and frames >= most) or (duration and seconds >= duration))


@contextlib.contextmanager
def failing_sinks(run: Run, sinks: _Sinks, out: Path, as_file: bool,
                  figures: Callable[[], str] = str) -> Iterator[None]:
    """The frames' loop of a run: Ctrl-C / SIGTERM commits what was done and raises
    :class:`Interrupted` (``figures()``: a live run's rate, drops and latency, said on its
    line); a write error or any other failure discards the outputs.

    Raises:
        Interrupted: after a signal, the finished frames kept.
        CommandError: the encoder or the table failed (outputs discarded); standard output
            closed under ``--jsonl -`` (the frames done kept, as after a signal).
    """
    try:
        yield
    except (KeyboardInterrupt, BrokenPipeError) as exc:
        closed = isinstance(exc, BrokenPipeError)       # the --jsonl reader went away
        if closed:
            _stdout_to_null()
        run.close_progress()
        path, failed = sinks.commit()
        failed += _json_failure(run)
        earlier = len(getattr(sinks, "kept", ()))
        kept = f"kept {path}" + (f" and the {earlier} segments before it" if earlier else "") \
            + ("" if as_file else f" and their JSON files in {out}") \
            if path else f"their JSON files are in {out}"
        said = figures()
        line = (f"after {sinks.frames_written()} frames" + (f" ({said})" if said else "")
                + f"; {kept}" + "".join(f"; could not write {f}" for f in failed))
        if closed:
            raise CommandError(f"standard output was closed (the --jsonl reader went away) "
                               f"{line}") from None
        raise Interrupted(f"interrupted {line}") from None
    except OSError as exc:               # the encoder, the table's disk or --jsonl failed
        sinks.discard()
        run.close_progress()
        raise CommandError(f"cannot write the output: {_one_line(exc)}") from None
    except BaseException:
        sinks.discard()
        run.close_progress()
        raise


def _frame(run: Run, stream: PoseStream, sinks: _Sinks, source: object, out: Path,
           as_file: bool, name: str, index: int, image_id: int, seconds: float,
           frame: np.ndarray, stamp: Optional[Callable[[], Dict[str, object]]] = None) -> bool:
    """One frame: estimate, track, then every output of the frame at once (signals held).

    ``stamp`` (a live run's) is called once the frame's result is ready; what it returns
    goes into the frame's OpenPose JSON and its ``--jsonl`` line as ``"live"``.
    Returns whether the frame was skipped (one line said why; the video shows it
    undrawn). Raises OSError when the video, the table or ``--jsonl`` cannot be written.
    """
    args = run.args
    stem = f"{name}_{index:012d}"
    drawn, files, tracked, result, openpose = frame, [], None, None, {}
    try:
        result = run.estimate(frame, f"{source} frame {index}", seconds)
        tracked = stream.follow(result, seconds)
        result = tracked.result             # without the fragments joined to their people
        ids = tracked.ids if args.track else np.full(len(tracked.ids), -1)
        openpose = openpose_with_ids(tracked.keypoints, ids, seconds)
        if stamp is not None:
            openpose["live"] = stamp()
        drawn = draw_people(run.config, frame, tracked.keypoints,
                            tracked.ids if args.track else None, result.scores,
                            **run.drawing())
        files = [] if as_file else [
            (out / f"{stem}_keypoints.json", imageio.json_bytes(openpose))]
        files += run.maps_outputs(result, stem)
    except (ValueError, OSError, MemoryError) as exc:
        problem = exc
    else:
        problem = None
    picture = fit_frame(drawn if problem is None else frame, *sinks.video.size)
    with run.gate.held():           # Ctrl-C lands between frames, never inside one
        if problem is None:
            try:
                imageio.write_group(files)
            except (ValueError, OSError) as exc:
                problem, picture = exc, fit_frame(frame, *sinks.video.size)
        if problem is None:
            run.add_coco(coco_with_ids(tracked.keypoints, result.scores, image_id, ids,
                                       seconds))
            if sinks.table is not None:
                sinks.table.add(index, seconds, tracked.ids, tracked.keypoints)
        sinks.video.write(picture, seconds - sinks.offset)
        if problem is None and sinks.lines is not None:     # last: a closed pipe loses no frame
            sinks.lines.write(json.dumps({"frame": index, **openpose},
                                         separators=(",", ":")) + "\n")
            sinks.lines.flush()
    if problem is not None:
        run.note(f"skipped: {source} frame {index} ({frame.shape[1]}x{frame.shape[0]}): "
                 f"{_one_line(problem)}", always=True)
    return problem is not None


def _stdout_to_null() -> None:
    """Standard output (a closed pipe) pointed at /dev/null, so that nothing fails on it
    again, at exit included (the command's choice: descriptor 1 is process-wide)."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass                                 # not a real descriptor (a test's buffer)


def _json_failure(run: Run) -> List[str]:
    """``--json`` written after Ctrl-C: ``[]``, or the line saying why it could not be."""
    try:
        run.finish_json()
    except CommandError as exc:
        return [_one_line(exc).replace("cannot write ", "", 1)]
    return []
