"""posekit serve's HTTP API on a real uvicorn on 127.0.0.1 (httpx as the client): good
images, each bad input, the body limit, overload (503 + Retry-After), a client that leaves
mid-upload, the token, health, metrics, the OpenAPI description; the bind rule and the
command's start and stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import zlib

import cv2
import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from posekit.results import KEYPOINT_NAMES  # noqa: E402
from posekit.serve.engine import Engine  # noqa: E402
from posekit.serve.settings import ServeSettings  # noqa: E402
from posekit.serve.uploads import UploadError, decode_upload  # noqa: E402

from conftest import IMAGES, ROOT  # noqa: E402
from serve_server import serving, wait_until  # noqa: E402

WEIGHTS = ROOT / "model_weights" / "mobilenet_thin" / "graph_opt.pb"
needs_network = pytest.mark.skipif(not (WEIGHTS.is_file() and (IMAGES / "bus.jpg").is_file()),
                                   reason="weights or sample images missing (make setup)")
BUS = IMAGES / "bus.jpg"


@pytest.fixture(scope="module")
def service():
    """The real service (the default network), for the module."""
    if not (WEIGHTS.is_file() and BUS.is_file()):
        pytest.skip("weights or sample images missing (make setup)")
    with serving(ServeSettings(queue=8)) as (url, app):
        assert app.state.engine.ready, app.state.engine.error
        yield url, app


@pytest.fixture(scope="module")
def expected():
    """What the library finds in bus.jpg: the number of people, with the service's settings."""
    from posekit.serve.engine import load_estimator

    estimator = load_estimator(ServeSettings())
    return len(estimator(cv2.imread(str(BUS))).people)


def png_header(width: int, height: int) -> bytes:
    """A PNG's signature and IHDR (8-bit RGB), then nothing: the size is in the header."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr
            + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)))


# --- good images -----------------------------------------------------------------------------

@needs_network
@pytest.mark.parametrize("ext", [".jpg", ".png", ".webp"])
def test_an_image_gives_its_people_as_json(service, expected, ext):
    url, _ = service
    data = BUS.read_bytes() if ext == ".jpg" else cv2.imencode(ext, cv2.imread(str(BUS)))[1]
    answer = httpx.post(f"{url}/v1/pose", content=bytes(data), timeout=60)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["width"], body["height"]) == (810, 1080)
    assert len(body["people"]) == expected >= 3
    person = body["people"][0]
    assert set(person["keypoints"]) <= set(KEYPOINT_NAMES) and len(person["keypoints"]) >= 10
    x, y, score = person["keypoints"]["neck"]
    assert 0 <= x < 810 and 0 <= y < 1080 and 0 < score <= 1
    assert len(person["box"]) == 4 and person["track_id"] is None
    assert {"decode", "network"} <= set(body["timings_ms"])


@needs_network
def test_draw_or_accept_jpeg_gives_the_drawn_image(service, expected):
    url, _ = service
    plain = cv2.imread(str(BUS))
    for params, headers in (({"draw": "1"}, {}), ({}, {"Accept": "image/jpeg"})):
        answer = httpx.post(f"{url}/v1/pose", params=params, headers=headers,
                            content=BUS.read_bytes(), timeout=60)
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
        assert answer.headers["x-people"] == str(expected)
        drawn = cv2.imdecode(np.frombuffer(answer.content, np.uint8), cv2.IMREAD_COLOR)
        assert drawn.shape == plain.shape
        assert np.abs(drawn.astype(int) - plain).mean() > 1       # skeletons over it


@needs_network
def test_conf_and_max_side_apply(service, expected):
    url, _ = service
    everyone = httpx.post(f"{url}/v1/pose", content=BUS.read_bytes(), timeout=60).json()
    best = max(p["score"] for p in everyone["people"])
    some = httpx.post(f"{url}/v1/pose", params={"conf": best}, content=BUS.read_bytes(),
                      timeout=60).json()
    assert len(some["people"]) == 1 and some["people"][0]["score"] == best
    small = httpx.post(f"{url}/v1/pose", params={"max_side": 320, "kpt_conf": 0.5},
                       content=BUS.read_bytes(), timeout=60).json()
    assert (small["width"], small["height"]) == (810, 1080)        # keypoints in the original
    assert all(s >= 0.5 for p in small["people"] for _, _, s in p["keypoints"].values())


# --- bad input: JSON errors, 4xx -------------------------------------------------------------

@needs_network
@pytest.mark.parametrize("body, params, status, words", [
    (b"", {}, 400, "empty"),
    (b"hello, this is text", {}, 415, "not a JPEG, PNG or WebP"),
    (None, {}, 400, "truncated"),                       # bus.jpg cut in half
    (png_header(20000, 20000), {}, 413, "too large"),   # refused from its header
    (png_header(64, 64), {}, 400, "truncated"),         # no chunk after the header
    (b"\xff\xd8\xff\xe0" + b"\x00" * 40, {}, 400, "no size"),
    ("bus", {"conf": "abc"}, 400, "conf"),
    ("bus", {"conf": "-1"}, 400, "conf"),
    ("bus", {"conf": "1.5"}, 400, "conf"),
    ("bus", {"kpt_conf": "2"}, 400, "kpt_conf"),
    ("bus", {"max_side": "5"}, 400, "max_side"),
    ("bus", {"draw": "maybe"}, 400, "draw"),
], ids=["empty", "text", "cut-jpeg", "huge-png", "cut-png", "jpeg-no-frame", "conf-text",
        "conf-negative", "conf-over-1", "kpt-conf-2", "max-side-5", "draw-maybe"])
def test_each_bad_input_is_one_json_line_with_a_4xx(service, body, params, status, words):
    url, app = service
    if body is None:
        body = BUS.read_bytes()[: BUS.stat().st_size // 2]
    elif body == "bus":
        body = BUS.read_bytes()
    answer = httpx.post(f"{url}/v1/pose", params=params, content=body, timeout=60)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    message = answer.json()["error"]
    assert words in message and "\n" not in message and len(message) < 300
    assert httpx.get(f"{url}/healthz").status_code == 200       # the service goes on


@needs_network
def test_wrong_method_and_unknown_path_are_json_errors(service):
    url, _ = service
    for answer, status in ((httpx.get(f"{url}/v1/pose"), 405), (httpx.get(f"{url}/nope"), 404),
                           (httpx.get(f"{url}/page/secret.py"), 404)):
        assert answer.status_code == status and "error" in answer.json()


def test_an_upload_is_checked_from_its_header_before_decoding():
    with pytest.raises(UploadError, match="too large") as info:
        decode_upload(png_header(10_000, 6_000))                # 60 Mpx > 50 Mpx
    assert info.value.status == 413
    image = np.full((40, 60, 3), 200, np.uint8)
    for ext in (".png", ".jpg", ".webp"):
        assert decode_upload(cv2.imencode(ext, image)[1].tobytes()).shape == (40, 60, 3)


# --- limits ----------------------------------------------------------------------------------

class Blocked:
    """A stand-in estimator that waits until released (tests of admission)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.max_side = 640

    def __call__(self, image, half_size=False):
        assert self.release.wait(120)
        from posekit.results import PoseResult
        return PoseResult((), image, "bgr", image, 1.0, np.zeros((1, 1, 19), np.float32),
                          np.zeros((1, 1, 38), np.float32), {}, np.zeros((0, 20)))


def tiny_jpeg() -> bytes:
    return cv2.imencode(".jpg", np.full((64, 64, 3), 90, np.uint8))[1].tobytes()


def test_beyond_the_queue_a_503_with_retry_after_and_no_pile_up():
    blocked = Blocked()
    engine = Engine(ServeSettings(), loader=lambda s: blocked)
    settings = ServeSettings(workers=1, queue=1, retry_after=3)
    with serving(settings, engine) as (url, app):
        answers = []

        def post():
            answers.append(httpx.post(f"{url}/v1/pose", content=tiny_jpeg(), timeout=120))

        threads = [threading.Thread(target=post) for _ in range(2)]
        for thread in threads:
            thread.start()
        admission = app.state.admission
        wait_until(lambda: admission.running == 1 and admission.waiting == 1, 60, "two admitted")
        refused = httpx.post(f"{url}/v1/pose", content=tiny_jpeg(), timeout=60)
        assert refused.status_code == 503 and refused.headers["retry-after"] == "3"
        assert "busy" in refused.json()["error"]
        assert "posekit_queue_depth 1" in httpx.get(f"{url}/metrics").text
        blocked.release.set()
        for thread in threads:
            thread.join(60)
        assert [a.status_code for a in answers] == [200, 200]
        assert admission.running == admission.waiting == 0
        metrics = httpx.get(f"{url}/metrics").text
        assert 'posekit_request_errors_total{route="/v1/pose",status="503"} 1' in metrics


def test_the_body_limit_holds_with_and_without_a_length():
    engine = Engine(ServeSettings(), loader=lambda s: Blocked())
    with serving(ServeSettings(max_body=10_000), engine) as (url, _):
        big = b"\xff\xd8\xff" + b"\x00" * 20_000
        answer = httpx.post(f"{url}/v1/pose", content=big, timeout=60)
        assert answer.status_code == 413 and "10,000-byte limit" in answer.json()["error"]

        def chunks():                                           # no Content-Length: chunked
            for _ in range(5):
                yield b"\x00" * 4000

        answer = httpx.post(f"{url}/v1/pose", content=chunks(), timeout=60)
        assert answer.status_code == 413 and "limit" in answer.json()["error"]


def test_a_client_that_leaves_mid_upload_blocks_nobody():
    blocked = Blocked()
    blocked.release.set()
    engine = Engine(ServeSettings(), loader=lambda s: blocked)
    with serving(ServeSettings(workers=1, queue=0), engine) as (url, app):
        port = int(url.rsplit(":", 1)[1])
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", port)) as raw:
                raw.sendall(b"POST /v1/pose HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
                            b"Content-Length: 1000000\r\n\r\n" + b"\xff\xd8\xff" + b"\0" * 5000)
        metrics = app.state.metrics
        wait_until(lambda: metrics.count("/v1/pose", 499) == 3, 60, "three uploads given up")
        assert app.state.admission.running == app.state.admission.waiting == 0
        answer = httpx.post(f"{url}/v1/pose", content=tiny_jpeg(), timeout=60)
        assert answer.status_code == 200, answer.text         # queue 0: the place is free


def test_a_slow_client_holds_no_place_and_is_cut_off():
    """Its body is read before it takes a place: with one worker and no queue another client
    is served meanwhile; past ``body_seconds`` the slow one gets 408."""
    blocked = Blocked()
    blocked.release.set()
    engine = Engine(ServeSettings(), loader=lambda s: blocked)
    with serving(ServeSettings(workers=1, queue=0, body_seconds=2), engine) as (url, app):
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as raw:
            raw.sendall(b"POST /v1/pose HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
                        + b"\xff\xd8\xff" + b"\0" * 1000)
            answer = httpx.post(f"{url}/v1/pose", content=tiny_jpeg(), timeout=60)
            assert answer.status_code == 200, answer.text
            raw.settimeout(60)
            reply = b""
            while b"}" not in reply:                           # the JSON body's end
                chunk = raw.recv(4096)
                assert chunk, reply
                reply += chunk
            reply = reply.decode("latin-1")
        assert reply.startswith("HTTP/1.1 408"), reply
        assert "did not arrive within 2 s" in reply


# --- token, health, metrics, docs ------------------------------------------------------------

def test_the_token_guards_the_api_not_the_page_or_health():
    blocked = Blocked()
    engine = Engine(ServeSettings(), loader=lambda s: blocked)
    with serving(ServeSettings(token="s3cret"), engine) as (url, _):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cre"}):
            answer = httpx.post(f"{url}/v1/pose", content=tiny_jpeg(), headers=headers)
            assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
            assert "token" in answer.json()["error"]
        assert httpx.get(f"{url}/metrics").status_code == 401
        for path in ("/", "/page/page.js", "/healthz", "/readyz", "/openapi.json"):
            assert httpx.get(f"{url}{path}").status_code == 200, path
        blocked.release.set()
        answer = httpx.post(f"{url}/v1/pose", content=tiny_jpeg(),
                            headers={"Authorization": "Bearer s3cret"}, timeout=60)
        assert answer.status_code == 200, answer.text


def test_readyz_waits_for_the_network_and_says_why_not():
    gate = threading.Event()

    def slow(settings):
        assert gate.wait(120)
        return Blocked()

    engine = Engine(ServeSettings(), loader=slow)
    with serving(ServeSettings(), engine, wait_ready=False) as (url, _):
        assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
        answer = httpx.get(f"{url}/readyz")
        assert answer.status_code == 503 and "loading" in answer.json()["error"]
        assert httpx.post(f"{url}/v1/pose", content=tiny_jpeg()).status_code == 503
        gate.set()
        wait_until(lambda: engine.ready, 60, "ready")
        assert httpx.get(f"{url}/readyz").json()["status"] == "ready"

    def broken(settings):
        raise ValueError("no weights at /x.pb")

    with serving(ServeSettings(), Engine(ServeSettings(), loader=broken)) as (url, _):
        answer = httpx.get(f"{url}/readyz")
        assert answer.status_code == 503 and "no weights at /x.pb" in answer.json()["error"]


@needs_network
def test_metrics_are_prometheus_text(service):
    url, _ = service
    httpx.post(f"{url}/v1/pose", content=BUS.read_bytes(), timeout=60)
    text = httpx.get(f"{url}/metrics").text
    for line in ("# TYPE posekit_requests_total counter", "# TYPE posekit_request_seconds "
                 "histogram", 'posekit_request_seconds_bucket{route="/v1/pose",le="+Inf"}',
                 "# TYPE posekit_queue_depth gauge", "posekit_ready 1"):
        assert line in text
    assert 'posekit_requests_total{route="/v1/pose",status="200"}' in text


@needs_network
def test_the_openapi_description_shows_the_api(service):
    url, _ = service
    spec = httpx.get(f"{url}/openapi.json").json()
    post = spec["paths"]["/v1/pose"]["post"]
    assert set(post["requestBody"]["content"]) == {"image/jpeg", "image/png", "image/webp"}
    assert {p["name"] for p in post["parameters"]} == {"draw", "conf", "kpt_conf", "max_side"}
    assert {"/healthz", "/readyz", "/metrics"} <= set(spec["paths"])
    assert httpx.get(f"{url}/docs").status_code == 200


# --- the one filter helper -------------------------------------------------------------------

# --- the command: the bind rule, start and stop ----------------------------------------------

def test_beyond_loopback_the_command_asks_for_a_token(capsys, monkeypatch):
    from posekit.apps import serve as command

    monkeypatch.delenv(command.TOKEN_ENV, raising=False)
    assert command.main(["--host", "0.0.0.0"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("posekit-serve: error: --host 0.0.0.0 can be "
                                               "reached from other machines: give --token")
    for host in ("127.0.0.1", "localhost", "::1", "127.1.2.3"):
        command.check_bind(host, None)
    command.check_bind("0.0.0.0", "tok")
    monkeypatch.setenv(command.TOKEN_ENV, "from-the-environment")
    with pytest.raises(SystemExit):
        command.main(["--help"])
    assert "from-the-environment" not in capsys.readouterr().out      # never shown


def test_posekit_serve_is_the_service_unless_a_file_named_serve_is_here(tmp_path, monkeypatch,
                                                                        capsys):
    from posekit.apps import demo

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        demo.main(["serve", "--help"])
    assert info.value.code == 0 and "usage: posekit serve" in capsys.readouterr().out
    (tmp_path / "serve").write_bytes(b"")
    assert demo.main(["serve"]) == 2
    assert "./serve for the file, or posekit-serve" in capsys.readouterr().err


@needs_network
def test_the_command_serves_then_stops_on_sigterm_leaving_no_file(tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(scratch))
    proc = subprocess.Popen([sys.executable, "-m", "posekit.apps.serve", "--port", "0"],
                            cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert line.startswith("posekit-serve: listening on http://127.0.0.1:"), line
        url = line.split("listening on ")[1].split("/ ")[0]
        wait_until(lambda: httpx.get(f"{url}/readyz").status_code == 200, 120, "ready")
        answer = httpx.post(f"{url}/v1/pose", content=BUS.read_bytes(), timeout=60)
        assert answer.status_code == 200 and len(answer.json()["people"]) >= 3
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=60)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert rest.strip().splitlines()[-1] == ("posekit-serve: stopped; the requests in flight "
                                             "were answered")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tmp"] and not any(scratch.iterdir())
    json.dumps(answer.json())
