"""Input checks shared by the decoders (one clear ``ValueError`` per problem), and their stage clock."""

from __future__ import annotations

import time
from typing import Any, Dict, Optional

import numpy as np

#: Channel counts of OpenPose-style maps: 18 parts, + background, 38 PAFs, both stacked.
MAP_CHANNELS = (18, 19, 38, 57)


def check_maps(name: str, maps: Any, min_channels: int) -> np.ndarray:
    """Validate a stack of network maps and return it as a float32 array.

    Args:
        name: what the array is called in error messages (``"heatmaps"``).
        maps: array-like of shape (H, W, C) with C >= ``min_channels``.
        min_channels: the fewest channels the caller reads.

    Returns:
        The maps as a (H, W, C) float32 array (no copy when already float32).

    Raises:
        ValueError: wrong number of dimensions, channels-first maps (a first
            axis of 18, 19, 38 or 57 with a last axis that is none of these),
            more than 57 or fewer than ``min_channels`` channels, an empty
            spatial size, a non-numeric dtype, or NaN / infinite values.
    """
    arr = np.asarray(maps)
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if arr.ndim != 3:
        raise ValueError(
            f"{name} must have shape (H, W, C), got {arr.ndim} dimensions {arr.shape}")
    if arr.shape[0] in MAP_CHANNELS and arr.shape[2] not in MAP_CHANNELS \
            and arr.shape[0] >= min_channels:
        raise ValueError(
            f"{name} of shape {arr.shape} look channels-first (C, H, W); pass (H, W, C), "
            f"e.g. {name}.transpose(1, 2, 0)")
    if arr.shape[2] > max(MAP_CHANNELS):
        raise ValueError(
            f"{name} must have shape (H, W, C) with C <= {max(MAP_CHANNELS)}, got {arr.shape}")
    if arr.shape[2] < min_channels:
        raise ValueError(
            f"{name} must have at least {min_channels} channels, got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} has an empty spatial size {arr.shape[:2]}")
    arr = arr.astype(np.float32, copy=False)
    # min and max propagate NaN and show infinities, without a boolean copy.
    if not (np.isfinite(arr.min()) and np.isfinite(arr.max())):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def check_same_size(heatmaps: Any, pafs: Any) -> None:
    """Raise ValueError unless the two map stacks have the same (H, W).

    Raises:
        ValueError: ``heatmaps`` and ``pafs`` differ in their first two axes.
    """
    hs, ps = np.shape(heatmaps)[:2], np.shape(pafs)[:2]
    if hs != ps:
        raise ValueError(f"heatmaps {hs} and pafs {ps} differ in size")


def lap(timings: Optional[Dict[str, float]], stage: str, since: float) -> float:
    """Record the seconds since ``since`` under ``stage`` (when ``timings`` is given);
    return the current ``time.perf_counter()``."""
    now = time.perf_counter()
    if timings is not None:
        timings[stage] = now - since
    return now
