"""``/v1/stream``: frames in over a WebSocket, tracked poses out, the newest frame first.

The client sends each frame as one binary message (a JPEG, PNG or WebP), at its own rate;
the server numbers them from 0 in arrival order. One task receives and keeps only the
newest frame not yet started; a frame replaced before its turn is dropped, and the next
answer lists it (``dropped``). Each answer is one JSON text message::

    {"frame": 7, "dropped": [5, 6], "width": 640, "height": 480,
     "people": [{"keypoints": {...}, "score": ..., "box": [...], "track_id": 1}, ...],
     "timings_ms": {...}, "half_size": false, "server_ms": 151.2}

or ``{"frame": 7, "dropped": [], "error": "one line"}`` for a frame that cannot be read (the
stream goes on). A text message ``{"conf": 0.2, "kpt_conf": 0.1}`` sets the filters. Each
connection has its own tracker (``posekit.video.stream.PoseStream``), so ids are stable
within it; the frame's time is its arrival time on the server. While every person of the
last frame was large, the next runs at half size (``half_size``: true; a quarter of the
work; ``posekit.video.adaptive``, as the demo's live runs).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import time
from typing import Dict, List, Optional, Tuple

from starlette.websockets import WebSocket, WebSocketDisconnect

from posekit.serve.engine import Engine, result_json
from posekit.serve.limits import Admission
from posekit.serve.metrics import Metrics
from posekit.serve.settings import ServeSettings
from posekit.video.adaptive import FrameSizer
from posekit.video.stream import PoseStream

#: WebSocket close codes: too many streams (try again later), message too big.
TRY_AGAIN_LATER = 1013
TOO_BIG = 1009


@dataclasses.dataclass
class Newest:
    """The newest frame not yet started, and the frames dropped since the last answer."""

    frame: Optional[Tuple[int, bytes, float]] = None
    dropped: List[int] = dataclasses.field(default_factory=list)
    options: Dict[str, float] = dataclasses.field(
        default_factory=lambda: {"conf": 0.0, "kpt_conf": 0.0})
    closed: bool = False


def parse_options(text: str, options: Dict[str, float]) -> Optional[str]:
    """Set ``conf`` / ``kpt_conf`` from a JSON text message; the error line, or None."""
    try:
        given = json.loads(text)
    except ValueError:
        return "a text message must be JSON, e.g. {\"conf\": 0.2, \"kpt_conf\": 0.1}"
    if not isinstance(given, dict) or set(given) - {"conf", "kpt_conf"}:
        return "a text message takes only the keys conf and kpt_conf"
    for key, value in given.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or not 0 <= value <= 1:
            return f"{key} must be a number between 0 and 1"
    options.update({k: float(v) for k, v in given.items()})
    return None


async def _receive(websocket: WebSocket, state: Newest, wake: asyncio.Event,
                   settings: ServeSettings, metrics: Metrics) -> None:
    """Take messages until the client leaves; keep only the newest frame."""
    count = 0
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            if message.get("bytes") is not None:
                data = message["bytes"]
                if len(data) > settings.max_body:
                    await websocket.close(TOO_BIG, f"a frame is more than {settings.max_body:,}"
                                                   " bytes")
                    break
                if state.frame is not None:
                    state.dropped.append(state.frame[0])
                    metrics.frame("dropped")
                state.frame = (count, data, time.perf_counter())
                count += 1
            elif message.get("text") is not None:
                problem = parse_options(message["text"], state.options)
                if problem:
                    await websocket.send_text(json.dumps({"error": problem}))
            wake.set()
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        state.closed = True
        wake.set()


async def run_stream(websocket: WebSocket, engine: Engine, admission: Admission,
                     metrics: Metrics, settings: ServeSettings, streams: Dict[str, int]) -> None:
    """Serve one WebSocket stream until the client leaves (see the module's text)."""
    await websocket.accept()
    if streams["open"] >= settings.max_streams:
        await websocket.close(TRY_AGAIN_LATER, f"{settings.max_streams} streams are open "
                                               "(the limit); retry later")
        return
    if not engine.ready:
        await websocket.close(TRY_AGAIN_LATER, engine.error or "the network is still loading")
        return
    streams["open"] += 1
    state, wake = Newest(), asyncio.Event()
    receiver = asyncio.ensure_future(_receive(websocket, state, wake, settings, metrics))
    tracker = PoseStream(engine.estimator(None), track=True)
    sizer = FrameSizer()                 # half-size frames while everyone is large
    last = -math.inf
    try:
        while True:
            await wake.wait()
            wake.clear()
            if state.closed:
                break
            if state.frame is None:
                continue
            (index, data, arrived), state.frame = state.frame, None
            dropped, state.dropped = state.dropped, []
            answer: Dict[str, object] = {"frame": index, "dropped": dropped}
            try:
                now = max(arrived, last + 1e-6)
                half = sizer.half(now)
                result, timings = await admission.run(engine.estimate, data, None, half,
                                                      refuse=False)
                last = now
                sizer.update(result.keypoints, result.image.shape[0], now, half)
                answer["half_size"] = half
                tracked = tracker.follow(result, last)
                result = dataclasses.replace(tracked.result, people=tuple(tracked.people))
                result = result.filtered(state.options["conf"], state.options["kpt_conf"])
                answer.update(result_json(result, timings))
                metrics.frame("done")
            except ValueError as exc:               # UploadError too: one line, go on
                answer["error"] = " ".join(str(exc).split())
                metrics.frame("failed")
            answer["server_ms"] = round((time.perf_counter() - arrived) * 1000, 1)
            try:
                await websocket.send_text(json.dumps(answer))
            except (WebSocketDisconnect, RuntimeError):
                break
            if state.frame is not None:
                wake.set()
    finally:
        streams["open"] -= 1
        receiver.cancel()
