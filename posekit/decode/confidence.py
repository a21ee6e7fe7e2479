"""Person confidence: a decoder's raw person score mapped to a probability in [0, 1].

A person's confidence is the predicted probability that it matches a true
person at COCO's OKS >= 0.5 (detections taken by score, each true person
matched once, as COCO's evaluation matches them). The map is a logistic
function of the raw score and its log (Platt scaling on two terms)::

    confidence = 1 / (1 + exp(-(slope * log(r) + linear * r + intercept)))
    r = max(raw, floor)

with ``slope > 0`` and ``linear >= 0``, so it is strictly increasing in the
raw score above ``floor``: ranking people by confidence is ranking them by
raw score, and COCO's AP is unchanged. The three numbers of each (decoder,
network, runtime) live in ``confidence.json`` next to this file, with their provenance
(the dev images fitted and held out, the fit date, the models' hashes, the
raw scores the decoder gave on ``images/bus.jpg`` when fitted); refit them
with ``python -m tools.fit_confidence --write``. Their reliability on held-out
dev images is in ``docs/records/confidence.md``.

The one check and rule of the ``conf`` and ``kpt_conf`` thresholds, which
results, drawings and commands all use, are :mod:`posekit.io.thresholds`'
(re-exported here).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, Optional

import numpy as np

from posekit.io.thresholds import check_conf, kept

__all__ = ["AVERAGED", "FLOOR", "SAME_MAPS", "TABLE_PATH", "UNFITTED", "Calibration",
           "calibration", "check_conf", "kept", "load_table", "table_key"]

#: The committed maps and their provenance.
TABLE_PATH = Path(__file__).with_name("confidence.json")
#: Raw scores below this are taken as this (a log must be defined).
FLOOR = 1e-6
#: Runtimes whose maps equal another runtime's (TensorFlow runs the float32 graph
#: that the float32 TFLite model was converted from).
SAME_MAPS = {"tensorflow": "tflite"}
#: A network averaged over scales and a mirror (``posekit.networks.accurate``) is named
#: its network's name and this. Its raw scores are lower for better people: it needs
#: maps of its own (its network's map on its people: ECE 0.157, docs/records/confidence.md).
AVERAGED = "+accurate"


def table_key(decoder: str, network: Optional[str], runtime: Optional[str]) -> str:
    """``"decoder/network/runtime"``, the key of a map in ``confidence.json``."""
    runtime = SAME_MAPS.get(runtime, runtime) if runtime is not None else None
    return f"{decoder}/{network}/{runtime}"


@dataclass(frozen=True)
class Calibration:
    """A strictly increasing map of raw person scores to confidences in [0, 1].

    Attributes:
        slope: > 0, on the log raw score.
        intercept: the logit at raw score 1 less ``linear``.
        linear: >= 0, on the raw score itself.
        key: the map's ``decoder/network/runtime`` (``""``: not fitted).
        fitted: False for the stand-in of an unfitted combination (``raw / (1 + raw)``:
            in [0, 1], same ranking, no probability meaning).
    """

    slope: float
    intercept: float
    linear: float = 0.0
    key: str = ""
    fitted: bool = True

    def __post_init__(self) -> None:
        """Refuse a map that would not be strictly increasing.

        Raises:
            ValueError: ``slope`` not a finite number > 0, ``linear`` not a finite
                number >= 0, or ``intercept`` not finite.
        """
        if not (math.isfinite(self.slope) and self.slope > 0):
            raise ValueError(f"slope must be a finite number > 0, got {self.slope!r}")
        if not (math.isfinite(self.linear) and self.linear >= 0):
            raise ValueError(f"linear must be a finite number >= 0, got {self.linear!r}")
        if not math.isfinite(self.intercept):
            raise ValueError(f"intercept must be finite, got {self.intercept!r}")

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        """Confidences of raw person scores.

        Args:
            raw: (K,) raw decoder scores (any real; below :data:`FLOOR` counts as it).

        Returns:
            (K,) float64 in [0, 1], in the order of ``raw``.
        """
        r = np.maximum(np.asarray(raw, np.float64), FLOOR)
        with np.errstate(over="ignore"):
            logit = self.slope * np.log(r) + self.linear * r + self.intercept
        return 0.5 * (1.0 + np.tanh(0.5 * logit))            # the logistic, without overflow


#: The stand-in for a combination without a fitted map: ``raw / (1 + raw)``.
UNFITTED = Calibration(1.0, 0.0, 0.0, "", False)


@lru_cache(maxsize=1)
def load_table() -> Dict[str, object]:
    """``confidence.json`` (read once)."""
    return json.loads(TABLE_PATH.read_text())


def calibration(decoder: str, network: Optional[str], runtime: Optional[str]) -> Calibration:
    """The fitted map of ``decoder`` on ``network`` run by ``runtime``.

    Args:
        decoder: a decoder's registry name (``"best"``, ``"lab"``, ``"handout"``).
        network: the network's name (``"mobilenet_thin"``), None for a duck-typed model.
        runtime: ``"int8"``, ``"tflite"``, ``"tensorflow"``, or None.

    Returns:
        The fitted :class:`Calibration`; where this runtime has none, the same
        decoder and network's map on another runtime (int8 and float32 maps were
        interchangeable within the noise where both were measured); else
        :data:`UNFITTED` (a custom decoder or network).
    """
    maps = load_table()["maps"]
    key = table_key(decoder, network, runtime)
    if key not in maps:
        others = sorted(k for k in maps if k.rsplit("/", 1)[0] == f"{decoder}/{network}")
        key = others[0] if others else key
    entry = maps.get(key)
    if entry is None:
        return UNFITTED
    return Calibration(float(entry["slope"]), float(entry["intercept"]),
                       float(entry["linear"]), key)
