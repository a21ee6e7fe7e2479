"""What the pose service fixes at start: network, runtime, limits and the token."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Optional

from posekit.io.images import check_max_side
from posekit.pipeline import DEFAULT_MAX_SIDE

#: Largest request body by default (bytes): a 50-megapixel JPEG camera photo fits.
DEFAULT_MAX_BODY = 32_000_000


@dataclass(frozen=True)
class ServeSettings:
    """The service's settings, checked by :meth:`checked`.

    Attributes:
        model, weights, runtime, skip_hash_check: the network (``load_pose_network``),
            loaded once at start; the runtime never changes afterwards.
        decoder: the decoder's name (``"best"``).
        max_side: the default longest side fed to the network (a request may give its own).
        token: the bearer token every API call must carry; None: no token (loopback only).
        max_body: largest request body or WebSocket message, in bytes.
        workers: images estimated at once.
        queue: requests waiting beyond those; one more is answered 503 with ``Retry-After``.
        retry_after: seconds a 503 asks the client to wait.
        body_seconds: time a client has to send its body (then 408: a slow client never
            holds a place for long).
        max_streams: WebSocket streams at once (more are closed with code 1013).
        max_connections: HTTP connections at once (uvicorn answers 503 beyond them).
    """

    # The library's defaults (posekit.pipeline): the network, the runtime auto picks, the decoder.
    model: str = "mobilenet_thin"
    weights: Optional[str] = None
    runtime: str = "auto"
    skip_hash_check: bool = False
    decoder: str = "best"
    # The demo's --max-side (what the network was measured at).
    max_side: Optional[int] = DEFAULT_MAX_SIDE
    # None: no token; the command refuses a non-loopback --host without one.
    token: Optional[str] = None
    # A 50-megapixel JPEG camera photo fits (DEFAULT_MAX_BODY).
    max_body: int = DEFAULT_MAX_BODY
    # One image at a time: the network already uses every core (TFLite threads).
    workers: int = 1
    # 4 waiting at ~80 ms each: a 4-client p99 of 339 ms measured (docs/records/serve.md).
    queue: int = 4
    # About the time the queue takes to drain at 13 requests/s (measured, one process).
    retry_after: int = 1
    # A 32 MB body over a 10 Mbit/s link takes about 26 s.
    body_seconds: float = 30.0
    # Each stream holds a tracker and one frame at a time: 4 bounds their memory.
    max_streams: int = 4
    # uvicorn's limit_concurrency: the HTTP clients beyond streams before its own 503.
    max_connections: int = 64

    def checked(self) -> "ServeSettings":
        """These settings, after checking each.

        Returns:
            ``self``.

        Raises:
            ValueError: a setting out of its range (named), an empty token.
        """
        check_max_side(self.max_side)
        for name, low in (("max_body", 1), ("workers", 1), ("queue", 0), ("retry_after", 1),
                          ("max_streams", 1), ("max_connections", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if not (isinstance(self.body_seconds, (int, float)) and math.isfinite(self.body_seconds)
                and self.body_seconds > 0):
            raise ValueError(f"body_seconds must be a number > 0, got {self.body_seconds!r}")
        if self.token is not None and (not isinstance(self.token, str) or not self.token.strip()):
            raise ValueError("token must be None or a non-empty string")
        return self

    def replace(self, **changes: object) -> "ServeSettings":
        """A copy with ``changes``, checked (``ValueError`` as :meth:`checked`)."""
        return dataclasses.replace(self, **changes).checked()
