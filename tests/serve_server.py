"""The pose service on a real uvicorn, in a thread of the test process, on 127.0.0.1 and a
free port: shared by the service's API, stream and browser tests."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Callable, Iterator, Optional

import uvicorn

from posekit.serve.app import create_app
from posekit.serve.engine import Engine
from posekit.serve.settings import ServeSettings


def wait_until(check: Callable[[], bool], seconds: float = 60.0, what: str = "") -> None:
    """Poll ``check`` until true; fail after ``seconds`` (a bound, not a timing)."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.02)


@contextlib.contextmanager
def serving(settings: ServeSettings, engine: Optional[Engine] = None,
            wait_ready: bool = True) -> Iterator[tuple]:
    """``(base_url, app)`` of the service running on 127.0.0.1 and a free port."""
    app = create_app(settings, engine)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="error", access_log=False, lifespan="off",
                            limit_concurrency=settings.max_connections,
                            ws_max_size=settings.max_body)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, 60, "uvicorn started")
        if wait_ready:
            wait_until(lambda: app.state.engine.ready or app.state.engine.error, 120,
                       "the network loaded")
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
