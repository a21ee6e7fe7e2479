"""The service's metrics as Prometheus text (exposition format 0.0.4), kept by hand.

Requests and errors by route and status, a latency histogram by route, the queue depth and
the images in work, and the stream's frames (done, dropped, failed). Routes are a fixed set
(anything else counts as ``other``), so the number of series stays bounded.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Callable, Dict, Tuple

#: Latency histogram bounds, seconds.
BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: The routes counted by name.
ROUTES = ("/", "/page", "/healthz", "/readyz", "/metrics", "/v1/pose", "/v1/stream",
          "/v1/skeleton", "/docs", "/openapi.json")


def route_of(path: str) -> str:
    """The label of a request path: one of :data:`ROUTES` or ``"other"``."""
    if path.startswith("/page/"):
        return "/page"
    return path if path in ROUTES else "other"


class Metrics:
    """Counters, a histogram and gauges; safe from several threads.

    Args:
        gauges: ``name -> (help, function)`` read at each :meth:`render` (queue depth...).
    """

    def __init__(self, gauges: Dict[str, Tuple[str, Callable[[], float]]]) -> None:
        self.gauges = gauges
        self._lock = threading.Lock()
        self._requests: Dict[Tuple[str, int], int] = defaultdict(int)
        self._buckets: Dict[str, list] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self._sums: Dict[str, float] = defaultdict(float)
        self._frames: Dict[str, int] = defaultdict(int)

    def observe(self, route: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency."""
        with self._lock:
            self._requests[(route, status)] += 1
            counts = self._buckets[route]
            for k, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    counts[k] += 1
            counts[-1] += 1
            self._sums[route] += seconds

    def frame(self, outcome: str, count: int = 1) -> None:
        """Count stream frames: ``"done"``, ``"dropped"`` or ``"failed"``."""
        with self._lock:
            self._frames[outcome] += count

    def count(self, route: str, status: int) -> int:
        """Requests answered so far on ``route`` with ``status``."""
        with self._lock:
            return self._requests.get((route, status), 0)

    def render(self) -> str:
        """Everything, as Prometheus text."""
        lines = ["# HELP posekit_requests_total HTTP requests answered, by route and status.",
                 "# TYPE posekit_requests_total counter"]
        with self._lock:
            requests = sorted(self._requests.items())
            buckets = {r: list(c) for r, c in sorted(self._buckets.items())}
            sums = dict(self._sums)
            frames = sorted(self._frames.items())
        for (route, status), n in requests:
            lines.append(f'posekit_requests_total{{route="{route}",status="{status}"}} {n}')
        lines += ["# HELP posekit_request_errors_total Requests answered with a 4xx or 5xx "
                  "status (503: overloaded), by route and status.",
                  "# TYPE posekit_request_errors_total counter"]
        for (route, status), n in requests:
            if status >= 400:
                lines.append(f'posekit_request_errors_total{{route="{route}",status="{status}"}}'
                             f' {n}')
        lines += ["# HELP posekit_request_seconds Time from a request's start to its answer.",
                  "# TYPE posekit_request_seconds histogram"]
        for route, counts in buckets.items():
            for bound, n in zip(BUCKETS, counts):
                lines.append(f'posekit_request_seconds_bucket{{route="{route}",le="{bound}"}} {n}')
            lines.append(f'posekit_request_seconds_bucket{{route="{route}",le="+Inf"}} '
                         f'{counts[-1]}')
            lines.append(f'posekit_request_seconds_sum{{route="{route}"}} {sums[route]:.6f}')
            lines.append(f'posekit_request_seconds_count{{route="{route}"}} {counts[-1]}')
        lines += ["# HELP posekit_stream_frames_total WebSocket frames: done, dropped (a newer "
                  "one came first) or failed.", "# TYPE posekit_stream_frames_total counter"]
        for outcome, n in frames:
            lines.append(f'posekit_stream_frames_total{{outcome="{outcome}"}} {n}')
        for name, (help_text, read) in self.gauges.items():
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge",
                      f"{name} {read()}"]
        return "\n".join(lines) + "\n"
