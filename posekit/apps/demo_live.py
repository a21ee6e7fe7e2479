"""The demo's live run: a camera or a network stream, newest frame first, its latency measured.

:func:`run_live` reads a live source through :class:`posekit.video.live.LiveReader`
(a thread keeping only the newest frame; the frames that arrive while the network
is busy are dropped and counted) and writes each processed frame as the video run
does (:func:`posekit.apps.demo_video._frame`: the drawn H.264 video, the per-frame
OpenPose JSON, ``--table``, ``--json``, ``--jsonl -``), all at the frame's capture
time, so tracking, smoothing and the video follow the real clock whatever was
dropped. Each frame's JSON gets ``"live"``: the source's frame number, the capture
and result times, the latency and the run's figures so far. The run ends with
``--max-frames``, ``--duration``, Ctrl-C / SIGTERM (exit status 130, outputs
complete), or a source that stopped and did not come back (exit status 1, outputs
complete).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from posekit.apps.command import CommandError, one_line
from posekit.apps.demo_inputs import check_size
from posekit.apps.demo_run import Run
from posekit.apps.demo_video import _frame, _Sinks, failing_sinks, limit_reached
from posekit.apps.outputs import video_output_is_file
from posekit.video.adaptive import FrameSizer
from posekit.video.latency import LatencyStats
from posekit.video.live import LiveFrame, LiveReader
from posekit.video.reader import VideoInfo
from posekit.video.smoothing import OneEuroParams
from posekit.video.sources import LiveSource
from posekit.video.stream import PoseStream
from posekit.video.writer import check_frame_size

#: Smallest step between two frames' times in the video (its clock counts microseconds).
MIN_STEP = 2e-6


class LiveFigures:
    """Processed frames, dropped frames and latencies of one live run (bounded memory)."""

    def __init__(self, reader: LiveReader) -> None:
        self.reader = reader
        self.latency = LatencyStats()
        self.frames = 0
        self.started: Optional[float] = None

    def stamp(self, live: LiveFrame) -> Dict[str, object]:
        """Count ``live``'s result as ready now; its ``"live"`` JSON fields."""
        ready, wall = time.monotonic(), time.time()
        if self.started is None:
            self.started = live.clock
        latency = max(0.0, ready - live.clock)
        self.latency.add(latency)
        self.frames += 1
        return {"source_frame": live.index, "capture_time": round(live.wall, 6),
                "result_time": round(wall, 6), "latency": round(latency, 4),
                "dropped": self.reader.dropped, "fps": round(self.rate(ready), 3),
                **self.latency.summary()}

    def rate(self, now: Optional[float] = None) -> float:
        """Processed frames per second since the first frame's capture."""
        if self.started is None:
            return 0.0
        elapsed = (time.monotonic() if now is None else now) - self.started
        return self.frames / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        """``12.3 frames/s, 45 dropped, latency p50 80 ms, p95 120 ms``."""
        if not self.frames:
            return f"no frame processed, {self.reader.dropped} dropped"
        p50, p95 = self.latency.percentile(50), self.latency.percentile(95)
        return (f"{self.rate():.2f} frames/s, {self.reader.dropped} dropped, latency p50 "
                f"{p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms")


class Segments:
    """A live run's video and table, cut every ``seconds`` of capture time (None: never).

    Segment ``k`` of ``-o cam.mp4 --table t.csv`` is ``cam_0000k.mp4`` and ``t_0000k.csv``;
    its video starts at 0 s, its table keeps the run's frame numbers and times. A segment
    is committed (complete under its name) when the next one begins, so a crash loses
    only the segment in progress. The per-frame JSON files and ``--jsonl`` are not cut.
    Has :class:`posekit.apps.demo_video._Sinks`'s interface: :attr:`current` is the
    segment being written.
    """

    def __init__(self, target: Path, info: VideoInfo, table: Optional[str],
                 jsonl: Optional[str], seconds: Optional[float]) -> None:
        self.target, self.info, self.table_name = target, info, table
        self.jsonl, self.seconds = jsonl, seconds
        self.number, self.done = 0, 0
        self.kept: List[Path] = []
        self.current = self._open(0.0)

    def _name(self, path: Path) -> Path:
        if self.seconds is None:
            return path
        return path.with_name(f"{path.stem}_{self.number:05d}{path.suffix}")

    def _open(self, start: float) -> _Sinks:
        table = str(self._name(Path(self.table_name))) if self.table_name else None
        sinks = _Sinks(self._name(self.target), self.info, table, self.jsonl)
        sinks.offset = start
        return sinks

    def roll(self, seconds: float) -> None:
        """Before a frame at ``seconds``: when the segment is full, commit it and begin the
        next at ``seconds``.

        Raises:
            OSError: the finished segment could not be written (it is discarded).
        """
        current = self.current
        if self.seconds is None or not current.frames_written() \
                or seconds - current.offset < self.seconds:
            return
        path, failed = current.commit()
        if failed:
            current.discard()
            raise OSError(f"could not write {failed[0]}")
        self.kept.append(path)
        self.done += current.frames_written()
        self.number += 1
        self.current = self._open(seconds)

    def frames_written(self) -> int:
        """Frames in every segment so far."""
        return self.done + self.current.frames_written()

    def commit(self) -> Tuple[Optional[Path], List[str]]:
        """Finish the segment in progress (see ``_Sinks.commit``)."""
        return self.current.commit()

    def discard(self) -> None:
        """Drop the segment in progress (the finished ones stay)."""
        self.current.discard()


def run_live(run: Run, source: LiveSource, out: Path) -> int:
    """A live source until ``--max-frames``, ``--duration``, a signal or its end.

    ``out`` is the video file (``-o NAME.mp4``) or a folder receiving ``NAME.mp4`` and
    ``NAME_<frame:012d>_keypoints.json`` per processed frame (``NAME``: ``camera0``,
    ``video0``, ``stream``).

    Raises:
        CommandError: the source did not open within ``--open-timeout`` (before the
            network loads), a frame size the network or the encoder cannot take, an
            output that cannot be written, or the source stopped and did not come back
            after ``--reconnect`` attempts (the outputs of the frames done are kept).
        Interrupted: Ctrl-C or SIGTERM; the frames done are kept, all outputs alike.
    """
    args = run.args
    try:
        reader = LiveReader(source, args.reconnect, args.open_timeout,
                            on_event=lambda line: run.note(line, always=True))
    except (OSError, ValueError) as exc:
        raise CommandError(one_line(exc)) from None
    as_file = video_output_is_file(out)
    target = out if as_file else out / f"{source.name}.mp4"
    with reader:
        info = reader.info
        check_size(info.height, info.width, source.label, run.max_side(), run.scales())
        try:
            check_frame_size(info.width, info.height)
        except ValueError as exc:
            raise CommandError(f"{source.label}: {exc}") from None
        run.load(None if as_file else out)
        # half-size frames while everyone is large; --accurate keeps every frame as asked
        run.sizer = FrameSizer() if args.half_size and not args.accurate else None
        smooth = OneEuroParams(min_cutoff=args.min_cutoff, beta=args.beta) \
            if args.smooth else None
        stream = PoseStream(run.estimator, track=args.track, smooth=smooth)
        sinks = Segments(target, info, args.table, args.jsonl, args.segment)
        figures = LiveFigures(reader)
        first_id, frames, skipped = run.next_image_id, 0, 0
        run.progress = run.progress_bar(args.max_frames, "frame")
        start = time.monotonic()
        first_clock: Optional[float] = None
        last = -1.0
        with failing_sinks(run, sinks, out, as_file, figures.line):
            while not limit_reached(args, frames, time.monotonic() - start):
                wait = None if not args.duration else \
                    max(0.0, args.duration - (time.monotonic() - start))
                live = reader.next_frame(timeout=wait)
                if live is None:
                    if reader.error is not None or not args.duration:
                        break
                    continue                               # --duration is checked again
                if first_clock is None:
                    first_clock = live.clock
                seconds = max(live.clock - first_clock, last + MIN_STEP)  # capture time
                last = seconds
                with run.gate.held():
                    sinks.roll(seconds)
                if _frame(run, stream, sinks.current, source.label, out, as_file, source.name,
                          frames, first_id + frames, seconds, live.image,
                          lambda live=live: figures.stamp(live)):
                    skipped += 1
                frames += 1
                run.next_image_id = first_id + frames
                if run.progress is not None:
                    run.progress.update(1)
        elapsed = time.monotonic() - start
        run.close_progress()
        if not frames and reader.error is not None:       # nothing to keep
            sinks.discard()
            raise CommandError(reader.error)
        path, failed = sinks.commit()
        if failed:
            sinks.discard()
            raise CommandError(f"cannot write {failed[0]}")
        error = reader.error
    run.finish_json()
    sized = "" if run.sizer is None else \
        f", {run.sizer.half_frames} of {frames} frames at half size"
    run.say(f"live: {figures.line()} (capture to result), {reader.reconnects} reconnects"
            f"{sized}")
    run.summary(sinks.frames_written(), "frames", elapsed, path)
    kept = f"the video and the outputs of its {frames} frames are in {path.parent}"
    if sinks.kept:
        kept = f"the last of {len(sinks.kept) + 1} segments is {path}"
    if error is not None:
        raise CommandError(f"{error}; {kept}")
    if skipped:
        raise CommandError(f"{skipped} of {frames} frames were skipped (see above); {kept}")
    return 0
