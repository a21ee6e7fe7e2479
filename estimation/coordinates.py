"""Stage 1: find keypoint candidates (heatmap peaks) and give each a global id."""

from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np

from .checks import check_maps
from .config import PoseConfig
from .limits import strongest_per_part

#: One keypoint candidate: x and y in heatmap cells, peak value, global id.
Peak = Tuple[int, int, float, int]

# Minimum heatmap value of a peak: CMU OpenPose's demo threshold (thre1 = 0.1).
DEFAULT_PEAK_THRESHOLD = 0.1


def find_peak_mask(heatmaps: np.ndarray, threshold: float) -> np.ndarray:
    """Mark the local maxima of each channel (4-neighbourhood).

    A plateau of equal values yields one peak, its bottom-right-most cell: a
    cell must be >= its left and upper neighbours and > its right and lower
    ones (the handout's ``>=`` on all four sides reports every cell of it).

    Args:
        heatmaps: (H, W, C) float32 maps.
        threshold: a peak must be strictly above this value.

    Returns:
        (H, W, C) bool array, True at the local maxima above ``threshold``
        (outside the map counts as 0).
    """
    padded = np.pad(heatmaps, ((1, 1), (1, 1), (0, 0)))
    centre = padded[1:-1, 1:-1]
    return ((centre >= padded[:-2, 1:-1]) & (centre > padded[2:, 1:-1])
            & (centre >= padded[1:-1, :-2]) & (centre > padded[1:-1, 2:])
            & (centre > threshold))


def get_coordinates(config: PoseConfig, heatmaps: np.ndarray,
                    threshold: float = DEFAULT_PEAK_THRESHOLD) -> Dict[str, List[Peak]]:
    """Find the Gaussian peaks of every body-part heatmap.

    Ids are assigned part by part in slot order, and within a part in row-major
    order (top to bottom, then left to right), so they are global and unique.
    At most ``estimation.limits.MAX_PEAKS_PER_PART`` peaks of a part are kept
    (the strongest, with a ``CandidateCapWarning``), which bounds the work of
    the later stages on any map.

    Args:
        config: pose configuration (body parts and their heatmap channels).
        heatmaps: (H, W, 19) float32 network heatmaps (the background channel
            is ignored; any channel count >= the number of parts is accepted).
        threshold: minimum heatmap value of a peak.

    Returns:
        ``{body_part_name: [(x, y, score, id), ...]}`` with one entry per body
        part (empty lists included); x, y are integer heatmap cells.

    Raises:
        ValueError: if ``heatmaps`` is not (H, W, C >= 18), or holds NaN / inf.
    """
    parts = list(config.body_parts.values())
    maps = check_maps("heatmaps", heatmaps, max(p.heatmap_idx for p in parts) + 1)
    channels = [p.heatmap_idx for p in parts]
    selected = maps[:, :, channels]
    mask = find_peak_mask(selected, threshold)
    part_idx, ys, xs = np.nonzero(mask.transpose(2, 0, 1))
    scores = selected[ys, xs, part_idx]
    kept = strongest_per_part(part_idx, scores)
    part_idx, ys, xs, scores = part_idx[kept], ys[kept], xs[kept], scores[kept]
    counts = np.bincount(part_idx, minlength=len(parts))
    starts = np.concatenate(([0], np.cumsum(counts)))
    result: Dict[str, List[Peak]] = {}
    for k, meta in enumerate(parts):
        lo, hi = starts[k], starts[k + 1]
        result[meta.body_part.name] = [
            (int(x), int(y), float(s), int(i))
            for x, y, s, i in zip(xs[lo:hi], ys[lo:hi], scores[lo:hi], range(lo, hi))]
    return result
