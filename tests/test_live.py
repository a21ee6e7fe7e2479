"""Live sources without a camera or a network: what is live, the newest-frame reader on a fake
capture (dropped frames counted, reconnects with a bounded backoff, a source that never opens),
and the latency histogram. Nothing here depends on speed: fake captures hand out frames only
when the test says so."""

import threading
import time

import numpy as np
import pytest

from posekit.video import live as live_module
from posekit.video.latency import LatencyStats
from posekit.video.live import LiveReader, LiveSourceError, backoff
from posekit.video.sources import LiveSource, hide_password, live_source

#: Longest a test waits for the reader thread to reach a state (never reached when healthy:
#: the waits end as soon as the state is there).
PATIENCE = 30.0


class FakeCapture:
    """A capture whose frames come one per :meth:`give` (``read`` waits for it); after
    :meth:`end` every read fails, as a stopped stream's does."""

    def __init__(self, first=1, shape=(48, 64, 3)):
        self.ready = threading.Semaphore(first)
        self.ended = threading.Event()
        self.shape = shape
        self.served = 0
        self.released = False

    def give(self, n=1):
        for _ in range(n):
            self.ready.release()

    def end(self):
        self.ended.set()
        self.ready.release()

    def read(self):
        while not self.ready.acquire(timeout=0.05):
            if self.ended.is_set():
                return False, None
        if self.ended.is_set():
            return False, None
        image = np.full(self.shape, self.served % 256, np.uint8)
        self.served += 1
        return True, image

    def get(self, prop):
        return 0.0

    def release(self):
        self.released = True


def wait_until(predicate):
    deadline = time.monotonic() + PATIENCE
    while not predicate():
        assert time.monotonic() < deadline, "the reader thread did not get there"
        time.sleep(0.005)


@pytest.fixture
def quick_backoff(monkeypatch):
    monkeypatch.setattr(live_module, "BACKOFF_FIRST", 0.001)
    monkeypatch.setattr(live_module, "BACKOFF_MAX", 0.002)


# --- what is a live source -------------------------------------------------------------

@pytest.mark.parametrize("value, kind, target, name", [
    (0, "camera", 0, "camera0"),
    ("2", "camera", 2, "camera2"),
    ("/dev/video1", "device", "/dev/video1", "video1"),
    ("rtsp://cam.local:554/live", "stream", "rtsp://cam.local:554/live", "stream"),
    ("HTTP://127.0.0.1:8080/x.mjpg", "stream", "HTTP://127.0.0.1:8080/x.mjpg", "stream"),
    ("udp://127.0.0.1:5000", "stream", "udp://127.0.0.1:5000", "stream"),
    ("tcp://127.0.0.1:5000", "stream", "tcp://127.0.0.1:5000", "stream"),
    ("rtmp://host/app/key", "stream", "rtmp://host/app/key", "stream"),
])
def test_live_sources_are_recognised(value, kind, target, name):
    assert live_source(value) == LiveSource(kind, target, name)


@pytest.mark.parametrize("value", [True, 1.0, None, "clip.mp4", "/dev/null", "file:///x.mp4",
                                   "images/bus.jpg", "٣"])
def test_files_and_other_values_are_not_live(value):
    assert live_source(value) is None


def test_a_digit_name_that_exists_is_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "0").write_bytes(b"x")
    assert live_source("0") is None and live_source("1").kind == "camera"


@pytest.mark.parametrize("value, fragment", [(-1, "must be >= 0"), ("rtsp://", "no host"),
                                             ("udp:///x", "no host")])
def test_bad_live_sources_name_the_argument(value, fragment):
    with pytest.raises(ValueError, match=fragment) as info:
        live_source(value, "input")
    assert str(info.value).startswith("input")


def test_passwords_are_never_printed():
    source = live_source("rtsp://admin:s3cret@10.0.0.2/stream")
    assert "s3cret" not in source.label and source.label == "rtsp://admin:***@10.0.0.2/stream"
    assert hide_password("http://host/a@b") == "http://host/a@b"


# --- the newest-frame reader ---------------------------------------------------------------

def test_the_consumer_gets_the_newest_frame_and_the_others_are_counted_dropped():
    cap = FakeCapture()
    with LiveReader(0, opener=lambda source, timeout: cap) as reader:
        assert (reader.info.width, reader.info.height) == (64, 48)
        first = reader.next_frame()
        assert first.index == 0 and first.image.shape == (48, 64, 3)
        cap.give(5)                                # five frames arrive while we are busy
        wait_until(lambda: reader.read == 6)
        newest = reader.next_frame()
        assert newest.index == 5 and int(newest.image[0, 0, 0]) == 5
        assert reader.dropped == 4                 # frames 1-4: replaced, never queued
        assert newest.clock >= first.clock and newest.wall > 0
        cap.give(1)
        wait_until(lambda: reader.read == 7)
        assert reader.next_frame().index == 6 and reader.dropped == 4
        assert reader.next_frame(timeout=0.01) is None       # nothing new: no frame twice
    cap.end()                                      # what a real capture's read timeout does
    wait_until(lambda: cap.released)               # the thread released the capture


def test_frames_replaced_before_the_first_is_taken_are_not_dropped():
    cap = FakeCapture(first=4)                      # the network loads meanwhile
    with LiveReader("0", opener=lambda source, timeout: cap) as reader:
        wait_until(lambda: reader.read == 4)
        assert reader.next_frame().index == 3 and reader.dropped == 0


def test_a_stream_that_stops_is_reconnected_and_goes_on(quick_backoff):
    events, caps, attempts = [], [FakeCapture(), FakeCapture(first=0)], []

    def opener(source, timeout):
        attempts.append(timeout)
        if len(attempts) in (2, 3):                # the server is down for two attempts
            raise OSError("connection refused")
        return caps[0] if len(attempts) == 1 else caps[1]

    with LiveReader("udp://127.0.0.1:9", reconnect=3, open_timeout=2.0, opener=opener,
                    on_event=events.append) as reader:
        assert reader.next_frame().index == 0
        caps[0].end()                              # the stream stops
        caps[1].give()
        assert reader.next_frame().index == 1     # the numbering goes on
        caps[1].give()
        assert reader.next_frame().index == 2
        assert reader.error is None and reader.reconnects == 1 and reader.dropped == 0
    assert len(attempts) == 4 and attempts[1:] == [2.0, 2.0, 2.0]
    assert [e.split(";")[0] for e in events[:3]] == ["udp://127.0.0.1:9 stopped or stalled"] * 3
    assert "attempt 3 of 3" in events[2] and events[3] == "reconnected to udp://127.0.0.1:9"


def test_a_stream_that_does_not_come_back_ends_with_one_reason(quick_backoff):
    cap, events = FakeCapture(), []
    opened = []

    def opener(source, timeout):
        opened.append(1)
        if len(opened) > 1:
            raise OSError("connection refused")
        return cap

    with LiveReader("tcp://127.0.0.1:9", reconnect=2, opener=opener,
                    on_event=events.append) as reader:
        assert reader.next_frame() is not None
        cap.end()
        assert list(reader) == []                  # iteration ends; it does not raise
        assert reader.error == ("tcp://127.0.0.1:9 stopped and did not come back after 2 "
                                "reconnect attempts")
    assert len(opened) == 3 and len(events) == 2


def test_no_reconnect_ends_with_the_stream():
    cap = FakeCapture()
    with LiveReader("tcp://127.0.0.1:9", reconnect=0, opener=lambda s, t: cap) as reader:
        reader.next_frame()
        cap.end()
        assert reader.next_frame() is None and "--reconnect 0" in reader.error


def test_the_backoff_doubles_and_is_bounded():
    assert [backoff(k) for k in range(1, 8)] == [0.5, 1, 2, 4, 8, 8, 8]


def test_a_stream_that_never_opens_fails_in_one_line_within_its_timeout(quick_backoff):
    tries = []

    def opener(source, timeout):
        tries.append(timeout)
        raise OSError(f"cannot open {source.label}")

    with pytest.raises(LiveSourceError) as info:
        LiveReader("rtsp://user:pw@127.0.0.1:9/x", open_timeout=0.05, opener=opener)
    message = str(info.value)
    assert "\n" not in message and "gave up after 0.05 s" in message and "pw" not in message
    assert len(tries) >= 1 and all(t <= 0.1 for t in tries)


def test_a_missing_camera_fails_at_once():
    tries = []

    def opener(source, timeout):
        tries.append(1)
        raise OSError("cannot open camera 3")

    with pytest.raises(LiveSourceError, match="^cannot open camera 3$"):
        LiveReader(3, opener=opener)
    assert tries == [1]


@pytest.mark.parametrize("kwargs, fragment", [({"source": "clip.mp4"}, "source must be"),
                                              ({"reconnect": -1}, "reconnect must"),
                                              ({"open_timeout": 0}, "open_timeout must")])
def test_bad_reader_arguments_are_named(kwargs, fragment):
    args = {"source": 0, **kwargs}
    with pytest.raises(ValueError, match=fragment):
        LiveReader(args.pop("source"), opener=lambda s, t: FakeCapture(), **args)


def test_frames_too_large_are_refused_before_decoding_more():
    cap = FakeCapture(shape=(1, 1, 3))
    cap.read = lambda: (True, np.zeros((20000, 20000), np.uint8))   # 400 Mpx, grey
    with pytest.raises(LiveSourceError, match="exceed"):
        LiveReader(0, opener=lambda s, t: cap)


# --- latency figures -----------------------------------------------------------------------

def test_latency_percentiles_are_nearest_rank_to_the_millisecond():
    stats = LatencyStats()
    assert stats.percentile(50) is None
    for ms in list(range(1, 101)):
        stats.add(ms / 1000 + 0.0002)
    assert stats.percentile(50) == pytest.approx(0.0505)
    assert stats.percentile(95) == pytest.approx(0.0955)
    stats.add(3600.0)                              # beyond the histogram: its last bin
    assert stats.percentile(100) == pytest.approx(59.9995)
    assert stats.summary() == {"latency_p50": 0.0515, "latency_p95": 0.0965}


@pytest.mark.parametrize("bad", [-0.1, float("nan"), "1"])
def test_latency_refuses_bad_values(bad):
    with pytest.raises(ValueError, match="seconds"):
        LatencyStats().add(bad)
