"""Sub-cell keypoint positions: where inside its cell a heatmap peak really lies.

A peak is found at an integer cell of a map 8 times coarser than the image,
so its position is refined from the values around it. Every refinement here
takes the map and the peak cells and returns (N, 2) offsets (x, y) in cells,
each within half a cell (the peak cell is the maximum of its neighbourhood,
so a refined peak stays in its cell, hence inside the map); they are
registered in :data:`REFINERS` by name (``DecoderParams.refinement``). Their
dev-set comparison (per keypoint type and person size) is in
docs/records/accuracy_decoder.md with the command that reproduces it.
"""

from __future__ import annotations

from typing import Callable, Dict

import numpy as np

from posekit.decode.clamp import clamp

#: Values below this are clamped before a logarithm (heatmaps lie in about [0, 1]).
LOG_FLOOR = 1e-4

Refiner = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _neighbours(maps: np.ndarray, ys: np.ndarray, xs: np.ndarray, ch: np.ndarray) -> np.ndarray:
    """(N, 3, 3) values around each peak (edges replicated), ``[dy + 1, dx + 1]``.

    The neighbours' indices are clipped to the map (the same values as an
    edge-padded copy, without copying the whole map).
    """
    h, w = maps.shape[:2]
    step = np.arange(-1, 2)
    rows = clamp(np.asarray(ys)[:, None] + step, 0, h - 1)
    cols = clamp(np.asarray(xs)[:, None] + step, 0, w - 1)
    return maps[rows[:, :, None], cols[:, None, :], np.asarray(ch)[:, None, None]]


def parabola(maps: np.ndarray, ys: np.ndarray, xs: np.ndarray, ch: np.ndarray) -> np.ndarray:
    """A parabola through the peak and its two neighbours, along x and along y
    (offsets clipped to half a cell; none where the values do not curve down).

    Args:
        maps: (H, W, C) float32 maps.
        ys, xs, ch: (N,) int peak rows, columns and channels.

    Returns:
        (N, 2) float64 offsets (x, y) in cells.
    """
    return _vertex(_neighbours(maps, ys, xs, ch).astype(np.float64), 0.5)


def log_parabola(maps: np.ndarray, ys: np.ndarray, xs: np.ndarray,
                 ch: np.ndarray) -> np.ndarray:
    """The parabola of :func:`parabola` on the logarithm of the values: exact
    for a sampled Gaussian peak (a Gaussian's log is a parabola); offsets
    clipped to half a cell.

    Args and Returns: as :func:`parabola`.
    """
    near = np.log(np.maximum(_neighbours(maps, ys, xs, ch).astype(np.float64), LOG_FLOOR))
    return _vertex(near, 0.5)


def taylor(maps: np.ndarray, ys: np.ndarray, xs: np.ndarray, ch: np.ndarray) -> np.ndarray:
    """DARK's second-order Taylor expansion of the log of the map at the peak:
    offset ``-H^-1 g`` with the gradient ``g`` and Hessian ``H`` (cross term
    included) from central differences of the log values; none where ``H``
    is not negative definite; clipped to half a cell.

    Args and Returns: as :func:`parabola`.
    """
    v = np.log(np.maximum(_neighbours(maps, ys, xs, ch).astype(np.float64), LOG_FLOOR))
    gx = 0.5 * (v[:, 1, 2] - v[:, 1, 0])
    gy = 0.5 * (v[:, 2, 1] - v[:, 0, 1])
    hxx = v[:, 1, 2] - 2 * v[:, 1, 1] + v[:, 1, 0]
    hyy = v[:, 2, 1] - 2 * v[:, 1, 1] + v[:, 0, 1]
    hxy = 0.25 * (v[:, 2, 2] - v[:, 2, 0] - v[:, 0, 2] + v[:, 0, 0])
    det = hxx * hyy - hxy * hxy
    ok = (hxx < 0) & (det > 0)
    safe = np.where(ok, det, 1.0)
    out = np.stack([-(hyy * gx - hxy * gy) / safe, -(hxx * gy - hxy * gx) / safe], axis=1)
    return clamp(np.where(ok[:, None], out, 0.0), -0.5, 0.5)


def centroid(maps: np.ndarray, ys: np.ndarray, xs: np.ndarray, ch: np.ndarray) -> np.ndarray:
    """Centre of mass of the 3x3 values around the peak, above the smallest of them
    (clipped to half a cell).

    Args and Returns: as :func:`parabola`.
    """
    near = _neighbours(maps, ys, xs, ch).astype(np.float64)
    w = near - near.min(axis=(1, 2), keepdims=True)
    total = np.maximum(w.sum(axis=(1, 2)), 1e-12)
    off = np.array([-1.0, 0.0, 1.0])
    return clamp(np.stack([(w.sum(1) * off).sum(1) / total,
                             (w.sum(2) * off).sum(1) / total], 1), -0.5, 0.5)


def none(maps: np.ndarray, ys: np.ndarray, xs: np.ndarray, ch: np.ndarray) -> np.ndarray:
    """No refinement: the peak cell's centre (zero offsets)."""
    return np.zeros((len(ys), 2))


def _vertex(near: np.ndarray, limit: float) -> np.ndarray:
    """Per axis, the vertex offset of the parabola through (lo, centre, hi) of
    (N, 3, 3) values; 0 where it does not curve down; clipped to ``limit``."""
    out = np.zeros((len(near), 2))
    centre = near[:, 1, 1]
    for axis, (lo, hi) in enumerate(((near[:, 1, 0], near[:, 1, 2]),
                                     (near[:, 0, 1], near[:, 2, 1]))):
        curv = lo - 2 * centre + hi
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, axis] = np.where(curv < 0, 0.5 * (lo - hi) / curv, 0.0)
    return clamp(out, -limit, limit)


#: Refinements by name (``DecoderParams.refinement``).
REFINERS: Dict[str, Refiner] = {"none": none, "parabola": parabola,
                                "log_parabola": log_parabola, "taylor": taylor,
                                "centroid": centroid}
