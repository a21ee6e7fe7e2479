"""Learned person score: a person's decoder features mapped to a predicted OKS.

COCO AP ranks every detection of every image by its score, so a person that
is wrong or fragmentary but scored above a right one costs AP. This module
describes each person by what the decoder already knows (which parts it has
and their heatmap peaks, which limbs and their PAF scores, its size, the
heuristic score) and maps that to the OKS it is expected to reach with the
ground truth, by a small network (dense layers, tanh between them, a sigmoid
at the end) whose weights live in ``rescore_weights.json`` next to this file.
``tools/fit_rescore.py`` fits them (seeded) on the COCO dev set and reports
the AP out of fold (k-fold by image); the figures are in the README.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np

from posekit.lab.config import NUM_PARTS

#: Number of limb types of the COCO-18 layout.
NUM_LIMBS = 19
#: Feature columns, in order (see :func:`person_features`).
FEATURE_NAMES: Tuple[str, ...] = (
    tuple(f"peak_{s}" for s in range(NUM_PARTS))
    + tuple(f"limb_{k}" for k in range(NUM_LIMBS))
    + ("parts_share", "mean_peak", "mean_limb", "log_diag", "log_heuristic",
       "max_iou", "max_inside", "relative_diag", "relative_heuristic"))
NUM_FEATURES = len(FEATURE_NAMES)
#: The committed weights.
WEIGHTS_PATH = Path(__file__).with_name("rescore_weights.json")


def person_features(slots: np.ndarray, limb_scores: np.ndarray, part_scores: np.ndarray,
                    part_xy: np.ndarray, heuristic: np.ndarray) -> np.ndarray:
    """The feature vector of each person.

    Args:
        slots: (K, 18) int peak id per slot, -1 where empty.
        limb_scores: (K, 19) PAF score of each limb type the person was built
            from, NaN where it has none.
        part_scores: (N,) heatmap value of each peak id.
        part_xy: (N, 2) position of each peak id, in map cells.
        heuristic: (K,) the decoder's hand-made score (positive).

    Returns:
        (K, NUM_FEATURES) float64: per slot the peak value (0 when empty), per
        limb type its score (0 when absent), the share of the 18 parts
        present, the mean peak value, the mean limb score, the log of the
        diagonal of the parts' bounding box in cells (at least 1), the log
        of the heuristic score; then from the image's other people: the
        largest IoU of the person's box with another's, the largest share of
        it inside another's, its diagonal and heuristic score relative to the
        image's largest.

    Raises:
        ValueError: shapes that disagree.
    """
    slots = np.asarray(slots, np.intp).reshape(-1, NUM_PARTS)
    limb_scores = np.asarray(limb_scores, np.float64).reshape(-1, NUM_LIMBS)
    heuristic = np.asarray(heuristic, np.float64).reshape(-1)
    if not len(slots) == len(limb_scores) == len(heuristic):
        raise ValueError(f"slots ({len(slots)}), limb_scores ({len(limb_scores)}) and "
                         f"heuristic ({len(heuristic)}) must describe the same people")
    present = slots >= 0
    safe = np.where(present, slots, 0)
    peaks = np.where(present, np.asarray(part_scores, np.float64)[safe], 0.0)
    has_limb = np.isfinite(limb_scores)
    limbs = np.where(has_limb, limb_scores, 0.0)
    count = np.maximum(present.sum(1), 1)
    xy = np.asarray(part_xy, np.float64).reshape(-1, 2)[safe]          # (K, 18, 2)
    low = np.where(present[..., None], xy, np.inf).min(1)
    high = np.where(present[..., None], xy, -np.inf).max(1)
    diag = np.hypot(*(np.where(np.isfinite(high - low), high - low, 0.0)).T)
    boxes = np.concatenate([np.where(np.isfinite(low), low, 0.0),
                            np.where(np.isfinite(high), high, 0.0)], axis=1)
    iou, inside = _overlaps(boxes)
    return np.column_stack([
        peaks, limbs, present.sum(1) / NUM_PARTS, peaks.sum(1) / count,
        limbs.sum(1) / np.maximum(has_limb.sum(1), 1), np.log(np.maximum(diag, 1.0)),
        np.log(np.maximum(heuristic, 1e-6)), iou, inside,
        diag / max(float(diag.max(initial=0.0)), 1e-6),
        heuristic / max(float(heuristic.max(initial=0.0)), 1e-6)])


def _overlaps(boxes: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Per box (K, 4) ``x0, y0, x1, y1`` (one cell added to each side): the
    largest IoU with another box, and the largest share of it inside another."""
    lo, hi = boxes[:, :2] - 0.5, boxes[:, 2:] + 0.5
    # Width times height (np.prod's values over two columns, and np.clip's, without their
    # overhead).
    side = np.maximum(np.minimum(hi[:, None], hi[None]) - np.maximum(lo[:, None], lo[None]), 0)
    inter = side[..., 0] * side[..., 1]
    extent = hi - lo
    area = extent[:, 0] * extent[:, 1]
    np.fill_diagonal(inter, 0.0)
    iou = inter / (area[:, None] + area[None] - inter)
    share = inter / area[:, None]
    return iou.max(1, initial=0.0), share.max(1, initial=0.0)


@dataclass(frozen=True)
class Rescorer:
    """A small dense network: standardised features -> predicted OKS in (0, 1).

    Attributes:
        mean, scale: (F,) feature standardisation.
        layers: ((W (F_in, F_out), b (F_out,)), ...); tanh between layers,
            sigmoid after the last (which has one output).
    """

    mean: np.ndarray
    scale: np.ndarray
    layers: Tuple[Tuple[np.ndarray, np.ndarray], ...]

    def __call__(self, features: np.ndarray) -> np.ndarray:
        """Predicted OKS (K,) of (K, F) features."""
        h = (np.asarray(features, np.float64) - self.mean) / self.scale
        for n, (w, b) in enumerate(self.layers):
            h = h @ w + b
            if n < len(self.layers) - 1:
                h = np.tanh(h)
        return 1.0 / (1.0 + np.exp(-h[:, 0]))

    def to_dict(self) -> Dict[str, object]:
        """A JSON-ready dict (rounded to 6 significant digits)."""
        def r(a: np.ndarray) -> List:
            return np.round(np.asarray(a, np.float64), 6).tolist()
        return {"features": list(FEATURE_NAMES), "mean": r(self.mean), "scale": r(self.scale),
                "layers": [{"w": r(w), "b": r(b)} for w, b in self.layers]}

    @classmethod
    def from_dict(cls, data: Dict[str, object]) -> "Rescorer":
        """Inverse of :meth:`to_dict`.

        Raises:
            ValueError: other feature names, or layer shapes that do not chain
                from NUM_FEATURES inputs to one output.
        """
        if list(data.get("features", [])) != list(FEATURE_NAMES):
            raise ValueError("rescore weights were fitted on other features")
        mean = np.asarray(data["mean"], np.float64)
        scale = np.asarray(data["scale"], np.float64)
        layers = tuple((np.asarray(l["w"], np.float64), np.asarray(l["b"], np.float64))
                       for l in data["layers"])
        width = NUM_FEATURES
        if mean.shape != (width,) or scale.shape != (width,) or (scale <= 0).any():
            raise ValueError("rescore weights: mean and scale must be (F,), scale > 0")
        for w, b in layers:
            if w.ndim != 2 or w.shape[0] != width or b.shape != (w.shape[1],):
                raise ValueError(f"rescore weights: a layer of shape {w.shape} does not "
                                 f"follow {width} inputs")
            width = w.shape[1]
        if not layers or width != 1:
            raise ValueError("rescore weights: the last layer must have one output")
        return cls(mean, scale, layers)


@lru_cache(maxsize=1)
def default_rescorer() -> Rescorer:
    """The committed rescorer (read once)."""
    return Rescorer.from_dict(json.loads(WEIGHTS_PATH.read_text()))


def limb_matrix(limbs_of: Sequence[Dict[int, float]]) -> np.ndarray:
    """(K, 19) limb scores from per-person ``{limb type: score}`` dicts, NaN where absent."""
    out = np.full((len(limbs_of), NUM_LIMBS), np.nan)
    for k, limbs in enumerate(limbs_of):
        if limbs:
            out[k, list(limbs)] = list(limbs.values())
    return out
