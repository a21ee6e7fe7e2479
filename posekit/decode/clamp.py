"""np.clip's values without its per-call overhead, for the decoder's small per-wave arrays."""

from __future__ import annotations

import numpy as np


def clamp(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """``np.clip(values, low, high)`` for ``low <= high``: the same values (NaN stays NaN),
    as two ufunc calls instead of np.clip's Python-level wrapper, which costs more than
    the work on the few dozen values the decoder clips at a time.

    Args:
        values: an array (any shape, numeric).
        low: the smallest value kept.
        high: the largest value kept (>= ``low``).

    Returns:
        An array of ``values``' shape.
    """
    return np.minimum(np.maximum(values, low), high)
