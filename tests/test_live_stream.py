"""The demo command on live sources: a stream served on loopback by the bundled ffmpeg in real time
(30 frames/s), killed and restarted mid-run, ended by SIGTERM; a fake camera injected in place
of OpenCV's (never a real device). Only 127.0.0.1, free ports, every wait bounded; the
assertions are counts and bounds that hold however loaded the machine is, never speeds."""

import csv
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks.loopback import LoopbackStream, free_port, make_clip
from posekit.video import live as live_module
from tests.test_demo_image import DEMO, IMAGES, cli, cli_here, needs_network

pytestmark = needs_network
#: The longest any run here may take (it ends sooner; the bound only keeps a broken run from
#: hanging the suite).
LIMIT = 240


@pytest.fixture(scope="module")
def still_clip(tmp_path_factory):
    """Two seconds of zidane.jpg, still, 640x360 at 30 frames/s (served in a loop)."""
    return make_clip(tmp_path_factory.mktemp("clip") / "still.mkv", frames=60, step=0)


def frame_count(path: Path) -> int:
    """Frames of a video, counted by decoding them all."""
    cap = cv2.VideoCapture(str(path))
    count = 0
    while cap.read()[0]:
        count += 1
    cap.release()
    return count


def table_frames(path: Path) -> list:
    with open(path, newline="") as handle:
        return sorted({(int(r["frame"]), float(r["time"])) for r in csv.DictReader(handle)})


def main_ids(line: dict) -> set:
    """Ids of the people with at least 10 keypoints found (the two players of zidane.jpg)."""
    return {p["person_id"][0] for p in line["people"]
            if sum(v > 0 for v in p["pose_keypoints_2d"][2::3]) >= 10}


class LiveRun:
    """``demo_image.py ARGS`` running, its stdout JSON lines and stderr lines collected."""

    def __init__(self, *args, cwd: Path) -> None:
        self.process = subprocess.Popen([sys.executable, str(DEMO), *map(str, args)], cwd=cwd,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        self.lines, self.errors = [], []
        self._readers = [threading.Thread(target=self._collect, args=(stream, store),
                                          daemon=True)
                         for stream, store in ((self.process.stdout, self.lines),
                                               (self.process.stderr, self.errors))]
        for thread in self._readers:
            thread.start()

    @staticmethod
    def _collect(stream, store) -> None:
        for line in stream:
            store.append(line)

    def wait_for(self, predicate, what: str) -> None:
        deadline = time.monotonic() + LIMIT
        while not predicate():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"the run ended or took too long waiting for {what}: "
                            f"{''.join(self.errors)[-2000:]}")
            time.sleep(0.05)

    def finish(self) -> int:
        try:
            status = self.process.wait(timeout=LIMIT)
        finally:
            self.kill()
        for thread in self._readers:
            thread.join(timeout=10)
        return status

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def records(self) -> list:
        return [json.loads(line) for line in self.lines]


def test_a_loopback_stream_is_read_live_newest_first_with_ids_times_and_latency(tmp_path,
                                                                              still_clip):
    with LoopbackStream(still_clip) as server:
        proc = cli(server.url, "-o", "drawn.mp4", "--table", "t.csv", "--jsonl", "-",
                   "--max-frames", "12", cwd=tmp_path, timeout=LIMIT)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["frame"] for line in lines] == list(range(12))
    live = [line["live"] for line in lines]
    # newest first: every frame taken is newer than the one before, and every source frame
    # skipped since the first was counted dropped (when we are slower than 30 frames/s, as
    # on the 2-core machines, that is most of them; on a faster machine maybe none)
    numbers = [f["source_frame"] for f in live]
    assert all(b > a for a, b in zip(numbers, numbers[1:]))
    assert all(f["dropped"] >= n - numbers[0] - k for k, (f, n) in enumerate(zip(live, numbers)))
    assert all(b["dropped"] >= a["dropped"] for a, b in zip(live, live[1:]))
    for f in live:
        assert f["latency"] == pytest.approx(f["result_time"] - f["capture_time"], abs=2e-3)
        assert 0 <= f["latency_p50"] <= f["latency_p95"] and f["fps"] > 0
    # tracking and the outputs run on the capture clock
    times = [line["time"] for line in lines]
    assert times[0] == 0 and all(b > a for a, b in zip(times, times[1:]))
    for line, f in zip(lines, live):
        assert line["time"] == pytest.approx(f["capture_time"] - live[0]["capture_time"],
                                             abs=2e-3)
    # the still players keep their ids in every frame
    ids = main_ids(lines[0])
    assert len(ids) == 2 and all(main_ids(line) == ids for line in lines)
    assert frame_count(tmp_path / "drawn.mp4") == 12
    assert [t for _, t in table_frames(tmp_path / "t.csv")] == pytest.approx(times, abs=1e-5)
    summary = proc.stderr.splitlines()
    assert any(line.startswith("live: ") and "dropped, latency p50" in line
               for line in summary), proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["drawn.mp4", "t.csv"]


def test_a_stream_killed_and_restarted_is_reconnected_and_sigterm_keeps_complete_outputs(
        tmp_path, still_clip):
    with LoopbackStream(still_clip) as server:
        run = LiveRun(server.url, "-o", "out", "--table", "t.csv", "--jsonl", "-",
                      "--reconnect", "20", "--max-frames", "100000", cwd=tmp_path)
        run.wait_for(lambda: len(run.lines) >= 3, "3 frames")
        server.stop()                                   # the stream dies mid-run
        run.wait_for(lambda: any("stopped or stalled" in e for e in run.errors),
                     "the reconnect line")
        before = len(run.lines)
        server.start()                                  # and comes back on the same port
        run.wait_for(lambda: any(e.startswith("demo_image.py: reconnected to ")
                                 for e in run.errors), "the reconnection")
        run.wait_for(lambda: len(run.lines) >= before + 3, "frames after the reconnection")
        run.process.send_signal(signal.SIGTERM)
        status = run.finish()
    assert status == 130, "".join(run.errors)
    last = run.errors[-1]
    records = run.records()
    done = len(records)
    assert last.startswith(f"demo_image.py: interrupted after {done} frames ("), last
    assert "dropped, latency p50" in last and "Traceback" not in "".join(run.errors)
    # every output is complete and ends at the same frame
    assert frame_count(tmp_path / "out" / "stream.mp4") == done
    assert [f for f, _ in table_frames(tmp_path / "t.csv")] == list(range(done))
    files = sorted((tmp_path / "out").glob("stream_*_keypoints.json"))
    assert len(files) == done
    per_frame = json.loads(files[-1].read_text())
    assert per_frame["live"]["source_frame"] == records[-1]["live"]["source_frame"]
    assert [p.name for p in tmp_path.rglob(".*")] == []      # no temporary file left
    times = [r["time"] for r in records]
    assert all(b > a for a, b in zip(times, times[1:]))


def test_a_jsonl_reader_that_goes_away_ends_the_run_with_its_outputs_complete(tmp_path,
                                                                           still_clip):
    with LoopbackStream(still_clip) as server:
        process = subprocess.Popen(
            [sys.executable, str(DEMO), server.url, "-o", "s.mp4", "--table", "t.csv",
             "--jsonl", "-", "--max-frames", "100000", "-q"], cwd=tmp_path,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            first = json.loads(process.stdout.readline())     # like `| head -n 1`
            process.stdout.close()
            status = process.wait(timeout=LIMIT)
            errors = process.stderr.read()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert first["frame"] == 0 and status == 1, errors
    lines = errors.splitlines()
    assert len(lines) == 1 and "Traceback" not in errors and "Exception ignored" not in errors
    assert lines[0].startswith("demo_image.py: error: standard output was closed (the --jsonl "
                               "reader went away) after "), lines[0]
    done = int(lines[0].split(" after ")[1].split()[0])
    assert done >= 1 and frame_count(tmp_path / "s.mp4") == done
    assert [f for f, _ in table_frames(tmp_path / "t.csv")] == list(range(done))

def test_a_stream_that_never_opens_fails_in_one_line_before_the_network_loads(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/live"           # nothing listens there
    proc = cli(url, "-o", "out.mp4", "--open-timeout", "1", cwd=tmp_path, timeout=60)
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert lines == [f"demo_image.py: error: cannot open {url}: refused, timed out or not a "
                     "video (OpenCV's FFmpeg backend); gave up after 1 s"]
    assert list(tmp_path.iterdir()) == []


class FakeCamera:
    """What OpenCV's capture of a 30 frames/s camera gives: zidane.jpg, a frame per read."""

    def __init__(self) -> None:
        self.image = cv2.resize(cv2.imread(str(IMAGES / "zidane.jpg")), (640, 360))
        self.reads = 0
        self.released = False

    def read(self):
        time.sleep(1 / 30)
        self.reads += 1
        return True, self.image.copy()

    def get(self, prop):
        return 30.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def release(self):
        self.released = True


def test_a_fake_camera_runs_through_the_command(tmp_path, monkeypatch):
    cameras, opened = [], []

    def opener(source, timeout):
        opened.append(source)
        cameras.append(FakeCamera())
        return cameras[-1]

    monkeypatch.setattr(live_module, "open_capture", opener)
    proc = cli_here("0", "-o", "out", "--max-frames", "3", "--jsonl", "-", "--smooth",
                    "--json", "all.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [(s.kind, s.target) for s in opened] == [("camera", 0)]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["frame"] for line in lines] == [0, 1, 2]
    assert all(len(main_ids(line)) == 2 for line in lines)
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "camera0.mp4", *(f"camera0_{k:012d}_keypoints.json" for k in range(3))]
    assert frame_count(out / "camera0.mp4") == 3
    stored = json.loads((out / "camera0_000000000002_keypoints.json").read_text())
    assert stored["live"] == lines[2]["live"] and stored["time"] == lines[2]["time"]
    coco = json.loads((tmp_path / "all.json").read_text())
    assert sorted({c["image_id"] for c in coco}) == [0, 1, 2]
    assert "live: " in proc.stderr and "0 reconnects" in proc.stderr
    deadline = time.monotonic() + 30                # the reader thread lets the camera go
    while not cameras[0].released and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cameras[0].released


@pytest.mark.parametrize("flags, half", [((), 2), (("--full-size",), 0)])
def test_live_frames_run_at_half_size_while_everyone_is_large(tmp_path, monkeypatch, flags,
                                                               half):
    """zidane.jpg's two men are large: after the first (full) frame the others run at half
    size (``full_every`` raised so that no full check falls in this short run, however slow
    the machine); ``--full-size`` keeps every frame full. The ids hold either way."""
    from posekit.apps import demo_live
    from posekit.video.adaptive import FrameSizer, HalfSizeParams

    monkeypatch.setattr(live_module, "open_capture", lambda source, timeout: FakeCamera())
    monkeypatch.setattr(demo_live, "FrameSizer",
                        lambda: FrameSizer(HalfSizeParams(full_every=1e6)))
    proc = cli_here("0", "-o", "out.mp4", "--max-frames", "3", "--jsonl", "-", *flags,
                    cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    ids = main_ids(lines[0])
    assert len(ids) == 2 and all(main_ids(line) == ids for line in lines)
    summary = [line for line in proc.stderr.splitlines() if line.startswith("live: ")]
    assert len(summary) == 1, proc.stderr
    assert (f", {half} of 3 frames at half size" in summary[0]) == (half > 0), summary
    assert ("at half size" in summary[0]) == (half > 0), summary


@pytest.mark.parametrize("full_size", [False, True])
def test_the_library_tracks_a_live_camera_at_half_size_while_everyone_is_large(monkeypatch,
                                                                            full_size):
    """``PoseEstimator.track(0)``, as the demo's live runs: after the first (full) frame,
    each frame runs at half size exactly while every person of the frame before was large
    (both men are, on a full frame, with every runtime); ``full_size=True`` keeps every
    frame full. The ids hold either way, and the camera is let go when the caller stops."""
    import itertools

    from posekit import PoseEstimator
    from posekit import estimator as estimator_module
    from posekit.video.adaptive import FrameSizer, HalfSizeParams, all_large

    params = HalfSizeParams(full_every=1e6)    # no full check in this short run, however slow
    seen, cameras = [], []

    class Recording(FrameSizer):
        def update(self, keypoints, height, now, half):
            seen.append(all_large(keypoints, height, params))
            return super().update(keypoints, height, now, half)

    def opener(source, timeout):
        cameras.append(FakeCamera())
        return cameras[-1]

    monkeypatch.setattr(live_module, "open_capture", opener)
    monkeypatch.setattr(estimator_module, "FrameSizer", lambda: Recording(params))
    frames = PoseEstimator().track(0, full_size=full_size)
    results = list(itertools.islice(frames, 4))
    frames.close()
    half = [r.heatmaps.shape[0] < 30 for r in results]     # 360 px: 45 cells full, 23 half
    if full_size:
        assert half == [False] * 4 and seen == []
    else:
        assert half[:2] == [False, True] and half[1:] == seen[:3]
    ids = [{p.track_id for p in r.people} - {None} for r in results]
    assert len(ids[0]) == 2 and all(i == ids[0] for i in ids), ids
    deadline = time.monotonic() + 30                # the reader thread lets the camera go
    while not cameras[0].released and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cameras[0].released


def test_a_library_track_refuses_a_full_size_that_is_not_a_bool():
    from posekit import PoseEstimator

    with pytest.raises(ValueError, match="full_size"):
        PoseEstimator().track([np.zeros((64, 64, 3), np.uint8)], full_size="no")


def test_max_frames_also_ends_a_video_file_without_calling_it_truncated(tmp_path, still_clip):
    proc = cli(still_clip, "-o", "drawn.mp4", "--max-frames", "2", "--jsonl", "-",
               cwd=tmp_path, timeout=LIMIT)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["frame"] for line in lines] == [0, 1] and "live" not in lines[0]
    assert lines[1]["time"] == pytest.approx(1 / 30, abs=1e-3)
    assert frame_count(tmp_path / "drawn.mp4") == 2


@pytest.mark.parametrize("args, fragment", [
    (["rtsp://", "-o", "x.mp4"], "input: the stream URL rtsp:// names no host"),
    (["images/bus.jpg", "--jsonl", "-"], "--jsonl is for a video or live input"),
    (["0", "--jsonl", "-", "--json", "-"], "both write to standard output"),
])
def test_live_usage_errors_are_one_line(args, fragment):
    root = Path(__file__).resolve().parents[1]
    proc = cli(*args, cwd=root, timeout=60)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert fragment in proc.stderr


def test_the_library_tracks_a_camera_on_its_capture_times(monkeypatch):
    from posekit import PoseEstimator

    cameras = []
    monkeypatch.setattr(live_module, "open_capture",
                        lambda source, timeout: cameras.append(FakeCamera()) or cameras[-1])
    results = PoseEstimator().track(0)
    taken = [next(results) for _ in range(3)]
    results.close()                                 # the camera is let go
    assert [r.path for r in taken] == ["camera 0"] * 3
    frames = [r.frame for r in taken]
    assert frames[0] < frames[1] < frames[2]           # newest first: numbers may skip
    ids = [{p.track_id for p in r.people if (p.keypoints[:, 2] > 0).sum() >= 10} for r in taken]
    assert len(ids[0]) == 2 and ids[1] == ids[0] == ids[2]
    deadline = time.monotonic() + 30
    while not cameras[0].released and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cameras[0].released
    with pytest.raises(ValueError, match=r"source\[1\]: a camera or stream"):
        PoseEstimator()(["images/bus.jpg", "rtsp://127.0.0.1/x"])


def test_segments_are_complete_files_cut_on_the_capture_clock(tmp_path, monkeypatch):
    monkeypatch.setattr(live_module, "open_capture", lambda source, timeout: FakeCamera())
    proc = cli_here("/dev/video7", "-o", "cam.mp4", "--table", "t.csv", "--segment", "1",
                    "--duration", "4", "--jsonl", "-", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    videos = sorted(tmp_path.glob("cam_*.mp4"))
    tables = sorted(tmp_path.glob("t_*.csv"))
    assert len(videos) == len(tables) >= 2
    assert [v.name for v in videos] == [f"cam_{k:05d}.mp4" for k in range(len(videos))]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [v.name for v in videos] + [t.name for t in tables])
    assert sum(frame_count(v) for v in videos) == len(lines)
    segments = [table_frames(t) for t in tables]
    assert [f for rows in segments for f, _ in rows] == list(range(len(lines)))
    starts = [rows[0][1] for rows in segments]
    for rows, start in zip(segments, starts):        # each segment holds up to 1 s of capture
        assert all(start <= t < start + 1 for _, t in rows)
    assert all(b - a >= 1 for a, b in zip(starts, starts[1:]))
    assert f"written to {videos[-1].name}" in proc.stdout + proc.stderr


def test_segment_is_refused_for_a_file(tmp_path, still_clip):
    proc = cli(still_clip, "--segment", "5", cwd=tmp_path, timeout=60)
    assert proc.returncode == 1 and "--segment is for a live input" in proc.stderr


def test_without_json_a_run_keeps_no_coco_results(monkeypatch):
    """An endless live run must not grow: the COCO results are kept only for ``--json``
    (10 minutes of a 22 frames/s stream grew by 49 MB when every frame's were kept)."""
    import argparse

    from posekit.apps.demo_run import Run
    from posekit.lab.config import get_default_configuration

    person = [{"image_id": 0, "category_id": 1, "keypoints": [0.0] * 51, "score": 0.5}]
    run = Run(argparse.Namespace(json=None), get_default_configuration())
    for _ in range(3):
        run.add_coco(person)
    assert run.coco == []
    run = Run(argparse.Namespace(json="all.json"), get_default_configuration())
    run.add_coco(person)
    run.add_coco(person)
    assert run.coco == person * 2
