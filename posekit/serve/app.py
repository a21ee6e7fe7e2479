"""The pose service's routes on FastAPI: the API, health, metrics, the page and the stream.

``create_app(settings)`` gives the ASGI application that ``posekit serve`` runs on uvicorn
and that :mod:`posekit.serve.ray_app` hands to Ray Serve. Every error is JSON
(``{"error": "one line"}``) with a 4xx status (503 when overloaded or not ready).
"""

from __future__ import annotations

import hmac
import time
from importlib import resources
from typing import Any, Callable, Dict, Optional

import cv2
from fastapi import FastAPI, Query, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from posekit.lab.config import get_default_configuration
from posekit.results import KEYPOINT_NAMES
from posekit.serve.engine import Engine, result_json
from posekit.serve.limits import Admission, BodyError, Overloaded, read_body
from posekit.serve.metrics import Metrics, route_of
from posekit.serve.settings import ServeSettings
from posekit.serve.stream import run_stream
from posekit.serve.uploads import MEDIA_TYPES, UploadError

#: The page's files (package data) and their media types.
PAGE_FILES = {"index.html": "text/html; charset=utf-8",
              "page.js": "text/javascript; charset=utf-8",
              "page.css": "text/css; charset=utf-8"}
#: Paths served without the token: the page, health, the API's description.
PUBLIC = ("/", "/healthz", "/readyz", "/docs", "/openapi.json", "/v1/skeleton")


def error(status: int, message: str, headers: Optional[Dict[str, str]] = None) -> JSONResponse:
    """A JSON error: ``{"error": message}`` with ``status``."""
    return JSONResponse({"error": " ".join(str(message).split())}, status, headers=headers)


def token_ok(settings: ServeSettings, given: Optional[str]) -> bool:
    """Whether ``given`` (``Authorization`` header or ``token`` query value) carries the
    token (always, when the service has none)."""
    if settings.token is None:
        return True
    if not given:
        return False
    value = given[7:] if given.lower().startswith("bearer ") else given
    return hmac.compare_digest(value.strip().encode(), settings.token.encode())


def read_page(name: str) -> bytes:
    """One of the page's files (:data:`PAGE_FILES`), from the package."""
    return resources.files("posekit.serve").joinpath("page", name).read_bytes()


def skeleton() -> Dict[str, Any]:
    """The keypoint names, the limbs as pairs of keypoint indices and their RGB colours."""
    config = get_default_configuration()
    slot_a, slot_b = config.limb_arrays[:2]
    limbs = [[int(a), int(b)] for a, b in zip(slot_a, slot_b)]
    colors = [list(c.color[::-1]) for c in config.connection_types]
    return {"keypoints": list(KEYPOINT_NAMES), "limbs": limbs, "colors": colors}


def create_app(settings: ServeSettings, engine: Optional[Engine] = None,
               start: bool = True) -> FastAPI:
    """The service.

    Args:
        settings: checked settings (:meth:`ServeSettings.checked`).
        engine: the network holder (default: one loading ``settings``' network).
        start: start loading the network now (in a thread).

    Returns:
        The FastAPI application; its ``state`` holds ``engine``, ``admission``, ``metrics``.

    Raises:
        ValueError: bad settings (named).
    """
    settings.checked()
    engine = engine or Engine(settings)
    admission = Admission(settings.workers, settings.queue)
    streams = {"open": 0}
    metrics = Metrics({
        "posekit_queue_depth": ("Requests admitted and waiting for a worker.",
                                lambda: admission.waiting),
        "posekit_in_work": ("Images being estimated now.", lambda: admission.running),
        "posekit_streams_open": ("WebSocket streams open.", lambda: streams["open"]),
        "posekit_ready": ("1 once the network is loaded.", lambda: int(engine.ready))})
    app = FastAPI(title="posekit", version="0.1.0",
                  description="Multi-person pose estimation: POST an image, get people.")
    app.state.engine, app.state.admission, app.state.metrics = engine, admission, metrics
    app.state.settings, app.state.streams = settings, streams
    pages = {name: read_page(name) for name in PAGE_FILES}

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable) -> Response:
        """Token check for everything not public; the metrics of every request."""
        started = time.perf_counter()
        path = request.url.path
        if path not in PUBLIC and not path.startswith("/page/") and not token_ok(
                settings, request.headers.get("authorization")):
            response: Response = error(401, "a valid token is needed: send the header "
                                       "'Authorization: Bearer TOKEN'",
                                       {"WWW-Authenticate": "Bearer"})
        else:
            response = await call_next(request)
        response.headers["X-Posekit-Server"] = engine.name
        metrics.observe(route_of(path), response.status_code, time.perf_counter() - started)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, exc.detail, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
        return error(400, f"{where}: {first.get('msg', 'invalid')}, got "
                          f"{str(first.get('input', ''))[:40]!r}")

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        return Response(pages["index.html"], media_type=PAGE_FILES["index.html"])

    @app.get("/page/{name}", include_in_schema=False)
    async def page_file(name: str) -> Response:
        if name not in PAGE_FILES:
            return error(404, f"no page file {name[:60]!r}")
        return Response(pages[name], media_type=PAGE_FILES[name])

    @app.get("/healthz", summary="The process answers")
    async def healthz() -> Dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="The network is loaded (503 until then)")
    async def readyz() -> Response:
        if engine.ready:
            return JSONResponse({"status": "ready", "model": settings.model,
                                 "runtime": settings.runtime, "server": engine.name})
        return error(503, engine.error or "the network is still loading",
                     {"Retry-After": str(settings.retry_after)})

    @app.get("/metrics", summary="Prometheus metrics")
    async def metrics_text() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/skeleton", summary="Keypoint names, limbs and their colours")
    async def skeleton_route() -> Dict[str, Any]:
        return skeleton()

    @app.post("/v1/pose", summary="The people in one image", openapi_extra={
        "requestBody": {"required": True, "content": {
            t: {"schema": {"type": "string", "format": "binary"}} for t in MEDIA_TYPES}}},
        responses={200: {"content": {"image/jpeg": {}},
                         "description": "JSON (people, keypoints, timings), or the drawn "
                                        "image with draw=1 or Accept: image/jpeg"}})
    async def pose(request: Request,
                   draw: bool = Query(False, description="answer the drawn image (JPEG)"),
                   conf: float = Query(0.0, ge=0.0, le=1.0,
                                       description="smallest person confidence kept (0..1)"),
                   kpt_conf: float = Query(0.0, ge=0.0, le=1.0,
                                           description="smallest keypoint score kept"),
                   max_side: Optional[int] = Query(None, ge=32, le=4096, description=(
                       "longest side fed to the network (default: the server's)"))) -> Response:
        try:
            data = await read_body(request.stream(), request.headers.get("content-length"),
                                   settings.max_body, settings.body_seconds)
        except BodyError as exc:
            return error(exc.status, str(exc))
        if not engine.ready:
            return error(503, engine.error or "the network is still loading",
                         {"Retry-After": str(settings.retry_after)})
        try:
            result, timings = await admission.run(engine.estimate, data, max_side)
        except Overloaded as exc:
            return error(503, str(exc), {"Retry-After": str(settings.retry_after)})
        except UploadError as exc:
            return error(exc.status, str(exc))
        except ValueError as exc:
            return error(400, str(exc))
        result = result.filtered(conf, kpt_conf)
        accept = request.headers.get("accept", "")
        if draw or (accept.startswith("image/jpeg") or
                    ("image/jpeg" in accept and "application/json" not in accept)):
            bgr = result.image if result.color == "bgr" else result.image[..., ::-1]
            ok, jpeg = cv2.imencode(".jpg", result.drawn(bgr, kpt_conf=kpt_conf),
                                    [cv2.IMWRITE_JPEG_QUALITY, 90])
            return Response(jpeg.tobytes(), media_type="image/jpeg",
                            headers={"X-People": str(len(result.people))})
        return JSONResponse(result_json(result, timings, model=settings.model,
                                        runtime=settings.runtime))

    @app.websocket("/v1/stream")
    async def stream(websocket: WebSocket) -> None:
        if not token_ok(settings, websocket.query_params.get("token")
                        or websocket.headers.get("authorization")):
            await websocket.close(code=1008, reason="a valid token is needed (?token=TOKEN)")
            return
        await run_stream(websocket, engine, admission, metrics, settings, streams)

    if start:
        engine.start()
    return app
