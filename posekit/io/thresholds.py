"""Score thresholds: the one check and the one rule of ``conf`` and ``kpt_conf``.

People's confidences and keypoints' scores are in [0, 1]
(:mod:`posekit.decode.confidence`); a threshold keeps what is found (score >
0) and at least the threshold: a score equal to it is kept. ``PoseResult.filtered``,
the drawing (:mod:`posekit.io.drawing`), the estimator and the ``posekit``
command all use these two functions.
"""

from __future__ import annotations

import math

import numpy as np


def check_conf(value: object, name: str = "conf") -> float:
    """``value`` as a float when it is a number in [0, 1] (not a bool, not NaN).

    Args:
        value: the threshold.
        name: the argument's name in the message.

    Raises:
        ValueError: naming ``name``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)) \
            or not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def kept(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Which scores pass a ``conf`` / ``kpt_conf`` threshold: found (> 0) and at least the
    threshold (a score equal to it is kept).

    Args:
        scores: any shape, float.
        threshold: in [0, 1].

    Returns:
        bool array of the shape of ``scores``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    return (scores > 0) & (scores >= threshold)
