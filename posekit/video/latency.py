"""Latency figures of a live run in bounded memory: a histogram of 1 ms bins, its percentiles.

An endless run cannot keep every frame's latency; :class:`LatencyStats` counts them in
:data:`BINS` bins of :data:`BIN_SECONDS` (the last bin takes everything longer), so its
memory is fixed (under 0.5 MB) and its median and 95th percentile are exact to the bin.
"""

from __future__ import annotations

import math
from typing import Dict, Optional

import numpy as np

#: Width of one bin, seconds.
BIN_SECONDS = 0.001
#: Bins: 0 to 60 s; longer latencies fall in the last bin.
BINS = 60_000


class LatencyStats:
    """Counts of latencies (seconds) with their percentiles, in fixed memory."""

    def __init__(self) -> None:
        self._counts = np.zeros(BINS, dtype=np.int64)
        self.count = 0
        self.total = 0.0

    def add(self, seconds: float) -> None:
        """Count one latency.

        Raises:
            ValueError: ``seconds`` not a finite number >= 0.
        """
        if not (isinstance(seconds, (int, float, np.number)) and math.isfinite(seconds)
                and seconds >= 0):
            raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
        self._counts[min(BINS - 1, int(seconds / BIN_SECONDS))] += 1
        self.count += 1
        self.total += float(seconds)

    def percentile(self, q: float) -> Optional[float]:
        """The ``q``-th percentile (0..100) in seconds, the middle of its bin; None when empty.

        Raises:
            ValueError: ``q`` outside [0, 100].
        """
        if not (isinstance(q, (int, float)) and 0 <= q <= 100):
            raise ValueError(f"q must be a number in [0, 100], got {q!r}")
        if self.count == 0:
            return None
        rank = max(1, math.ceil(q / 100 * self.count))        # nearest-rank percentile
        index = int(np.searchsorted(np.cumsum(self._counts), rank))
        return (index + 0.5) * BIN_SECONDS

    def summary(self) -> Dict[str, Optional[float]]:
        """``{"latency_p50": s, "latency_p95": s}`` (None when nothing was counted)."""
        p50, p95 = self.percentile(50), self.percentile(95)
        return {"latency_p50": None if p50 is None else round(p50, 4),
                "latency_p95": None if p95 is None else round(p95, 4)}
