"""The best decoder's limbs: candidate pairs scored on bilinear PAF samples, matched one-to-one."""

from __future__ import annotations

from typing import NamedTuple, Tuple

import numpy as np

from posekit.decode.clamp import clamp
from posekit.lab.config import PoseConfig
from posekit.lab.connections import candidate_pairs, match_per_limb, segment_samples
from posekit.decode.params import DecoderParams
from posekit.decode.types import Peaks
from posekit.lab.limits import PAIR_BLOCK, blocks



def score_limbs(pafs: np.ndarray, a_xy: np.ndarray, b_xy: np.ndarray, dx: np.ndarray,
                dy: np.ndarray, params: DecoderParams) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores of candidate limbs, sampled with bilinear interpolation.

    Pairs that cannot pass either support test are skipped before sampling:
    an interpolated sample is at most as strong as the strongest of its four
    cells, so a pair with too few samples next to a cell whose PAF magnitude
    exceeds the lower of the two ``*_min_paf_score`` thresholds cannot pass
    (an exact test that saves most of the work in crowds). Pairs are scored
    in blocks of ``posekit.lab.limits.PAIR_BLOCK``, so memory stays bounded.

    Args:
        pafs: (H, W, 38) PAFs.
        a_xy: (P, 2) start positions (x, y) in cells.
        b_xy: (P, 2) end positions.
        dx: (P,) PAF channel of the x component of each pair's limb type.
        dy: (P,) PAF channel of the y component.
        params: decoder thresholds.

    Returns:
        ``score`` (P,): mean projection of the PAF on the segment direction
        plus the long-limb penalty ``min(limit / length - 1, 0)`` with
        ``limit = max_limb_fraction * H`` (-inf for skipped pairs);
        ``strong`` and ``weak`` (P,) bool: the pairs that pass the strict and
        the relaxed support thresholds (both need a positive score).
    """
    score = np.full(len(a_xy), -np.inf)
    strong = np.zeros(len(a_xy), bool)
    weak = np.zeros(len(a_xy), bool)
    for block in blocks(len(a_xy), PAIR_BLOCK):    # bounded memory for any pair count
        score[block], strong[block], weak[block] = _score_block(
            pafs, a_xy[block], b_xy[block], dx[block], dy[block], params)
    return score, strong, weak


def _score_block(pafs: np.ndarray, a_xy: np.ndarray, b_xy: np.ndarray, dx: np.ndarray,
                 dy: np.ndarray, params: DecoderParams
                 ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`score_limbs` on one block of pairs."""
    h = pafs.shape[0]
    n = params.limb_samples
    score = np.full(len(a_xy), -np.inf)
    strong = np.zeros(len(a_xy), bool)
    weak = np.zeros(len(a_xy), bool)
    live = (a_xy != b_xy).any(1)
    samples = _place(pafs.shape, a_xy, b_xy, n)
    floor = min(params.min_paf_score, params.attach_min_paf_score)
    if floor >= 0 and len(a_xy) * n > 20000:
        live &= _may_pass(pafs, samples, dx, dy, floor,
                          min(params.min_support_ratio, params.attach_min_support_ratio) * n)
    keep = np.flatnonzero(live)
    if len(keep) < len(live):
        samples, dx, dy = samples.take(keep), dx[keep], dy[keep]
    proj = _project(pafs, samples, dx, dy)
    limit = params.max_limb_fraction * h
    # sum / n: the values of proj.mean(-1) (float32 either way), without np.mean's overhead
    score[keep] = proj.sum(-1) / n + np.minimum(limit / samples.length - 1.0, 0.0)
    positive = score[keep] > 0
    strong[keep] = positive & (np.count_nonzero(proj > params.min_paf_score, axis=-1)
                               > params.min_support_ratio * n)
    weak[keep] = positive & (np.count_nonzero(proj > params.attach_min_paf_score, axis=-1)
                             > params.attach_min_support_ratio * n)
    return score, strong, weak


class _Samples(NamedTuple):
    """The ``n`` sample points of each segment (``segment_samples``, clipped to the map), as
    :func:`_place` gives them."""

    x0: np.ndarray       # (P, n) int: the column of the cell whose lower-right square holds it
    y0: np.ndarray       # (P, n) int: ... and its row
    fx: np.ndarray       # (P, n) float32: the offset in that square, along x
    fy: np.ndarray       # (P, n) float32: ... along y
    ux: np.ndarray       # (P, 1) float32: the segment's unit direction, x
    uy: np.ndarray       # (P, 1) float32: ... y
    length: np.ndarray   # (P,) float64: the segment's length

    def take(self, keep: np.ndarray) -> "_Samples":
        """The samples of the pairs ``keep`` (indices)."""
        return _Samples(*(field[keep] for field in self))


def _place(shape: Tuple[int, ...], a_xy: np.ndarray, b_xy: np.ndarray, n: int) -> _Samples:
    """The :class:`_Samples` of segments ``a_xy`` -> ``b_xy`` (P, 2) on maps of ``shape``."""
    h, w = shape[:2]
    xs, ys, unit, length = segment_samples(a_xy, b_xy, n)
    xs, ys = clamp(xs, 0, w - 1), clamp(ys, 0, h - 1)
    x0 = np.minimum(xs.astype(np.intp), max(w - 2, 0))
    y0 = np.minimum(ys.astype(np.intp), max(h - 2, 0))
    return _Samples(x0, y0, (xs - x0).astype(np.float32), (ys - y0).astype(np.float32),
                    unit[:, 0, None].astype(np.float32), unit[:, 1, None].astype(np.float32),
                    length)


def project_samples(pafs: np.ndarray, a_xy: np.ndarray, b_xy: np.ndarray, dx: np.ndarray,
                    dy: np.ndarray, n: int) -> Tuple[np.ndarray, np.ndarray]:
    """The PAF projected on each segment's direction at ``n`` evenly spaced points, bilinearly.

    Args:
        pafs: (H, W, 2 * L) PAFs.
        a_xy: (P, 2) start positions (x, y) in cells.
        b_xy: (P, 2) end positions.
        dx: (P,) PAF channel of the x component of each segment's limb type.
        dy: (P,) PAF channel of the y component.
        n: samples per segment, ends included.

    Returns:
        ``proj`` (P, n) float32 projections (points clipped to the map) and
        ``length`` (P,) float64 segment lengths.
    """
    samples = _place(pafs.shape, a_xy, b_xy, n)
    return _project(pafs, samples, dx, dy), samples.length


def _project(pafs: np.ndarray, samples: _Samples, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """(P, n) float32: :func:`project_samples` of already placed samples."""
    h, w, depth = pafs.shape
    # The four corners by flat index into the maps (one 1-D take each: cheaper than
    # indexing with three arrays); a map one cell wide or high has no right or lower one.
    flat = pafs.reshape(-1)
    right, down = min(w - 1, 1) * depth, min(h - 1, 1) * w * depth
    base = (samples.y0 * w + samples.x0) * depth
    ix, iy = base + np.asarray(dx)[:, None], base + np.asarray(dy)[:, None]
    ux, uy, fx, fy = samples.ux, samples.uy, samples.fx, samples.fy

    def corner(offset):
        """The PAF at one corner of every sample's cell, projected on its segment."""
        return flat.take(ix + offset) * ux + flat.take(iy + offset) * uy

    # Project the four corners first, then interpolate the projections.
    top = corner(0) * (1 - fx) + corner(right) * fx
    bottom = corner(down) * (1 - fx) + corner(down + right) * fx
    return top * (1 - fy) + bottom * fy


def _may_pass(pafs: np.ndarray, samples: _Samples, dx: np.ndarray, dy: np.ndarray,
              floor: float, need: float) -> np.ndarray:
    """(P,) bool: the pairs with more than ``need`` of their samples next to a cell whose
    PAF magnitude exceeds ``floor`` (the others cannot pass a support test)."""
    h, w = pafs.shape[:2]
    channels, first = np.unique(dx, return_index=True)
    strong_cell = (np.square(pafs[:, :, channels]) + np.square(pafs[:, :, dy[first]])
                   > floor * floor)
    near = strong_cell.copy()                   # any of the 4 cells right/below
    near[:, :-1] |= strong_cell[:, 1:]
    near[:-1] |= near[1:].copy()
    flat = ((samples.y0 * w + samples.x0) * len(channels)
            + np.searchsorted(channels, dx)[:, None])          # the very cells sampled later
    return near.ravel()[flat].sum(-1) > need


def find_limbs(pafs: np.ndarray, peaks: Peaks, params: DecoderParams,
               config: PoseConfig) -> Tuple[np.ndarray, np.ndarray]:
    """Score all candidate limbs of all types at once and match them one-to-one.

    Returns:
        ``strong`` and ``weak``: (K, 4) arrays of rows ``limb type, id_a,
        id_b, score``; each list is matched one-to-one per limb type on its
        own (the weak list may repeat strong limbs; assembly skips those).
    """
    bounds = np.searchsorted(peaks.part, np.arange(len(config.body_parts) + 1))
    limb, a, b = candidate_pairs(config, bounds)
    if len(limb) == 0:
        return np.zeros((0, 4)), np.zeros((0, 4))
    dx_of, dy_of = config.limb_arrays[2:]
    score, strong, weak = score_limbs(pafs, peaks.xy[a], peaks.xy[b], dx_of[limb],
                                      dy_of[limb], params)
    out = []
    for valid in (strong, weak):
        sel = np.flatnonzero(valid)
        kept = sel[match_per_limb(limb[sel], a[sel], b[sel], score[sel])]
        out.append(np.stack([limb[kept], a[kept], b[kept], score[kept]], axis=1))
    return out[0], out[1]
