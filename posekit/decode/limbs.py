"""The best decoder's limbs: candidate pairs scored on bilinear PAF samples, matched one-to-one."""

from __future__ import annotations

from typing import Tuple

import numpy as np

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
    h, w = pafs.shape[:2]
    n = params.limb_samples
    score = np.full(len(a_xy), -np.inf)
    strong = np.zeros(len(a_xy), bool)
    weak = np.zeros(len(a_xy), bool)
    live = (a_xy != b_xy).any(1)
    floor = min(params.min_paf_score, params.attach_min_paf_score)
    if floor >= 0 and len(a_xy) * n > 20000:
        live &= _may_pass(pafs, a_xy, b_xy, dx, dy, floor,
                          min(params.min_support_ratio, params.attach_min_support_ratio) * n, n)
    keep = np.flatnonzero(live)
    proj, length = project_samples(pafs, a_xy[keep], b_xy[keep], dx[keep], dy[keep], n)
    limit = params.max_limb_fraction * h
    score[keep] = proj.mean(-1) + np.minimum(limit / length - 1.0, 0.0)
    positive = score[keep] > 0
    strong[keep] = positive & ((proj > params.min_paf_score).sum(-1)
                               > params.min_support_ratio * n)
    weak[keep] = positive & ((proj > params.attach_min_paf_score).sum(-1)
                             > params.attach_min_support_ratio * n)
    return score, strong, weak


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
    h, w = pafs.shape[:2]
    xs, ys, unit, length = segment_samples(a_xy, b_xy, n)
    xs, ys = np.clip(xs, 0, w - 1), np.clip(ys, 0, h - 1)
    x0 = np.minimum(xs.astype(np.intp), max(w - 2, 0))
    y0 = np.minimum(ys.astype(np.intp), max(h - 2, 0))
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = (xs - x0).astype(np.float32), (ys - y0).astype(np.float32)
    # Project the four corners first, then interpolate the projections.
    ux = unit[:, 0, None].astype(np.float32)
    uy = unit[:, 1, None].astype(np.float32)
    cx, cy = dx[:, None], dy[:, None]

    def corner(yy, xx):
        return pafs[yy, xx, cx] * ux + pafs[yy, xx, cy] * uy

    top = corner(y0, x0) * (1 - fx) + corner(y0, x1) * fx
    bottom = corner(y1, x0) * (1 - fx) + corner(y1, x1) * fx
    return top * (1 - fy) + bottom * fy, length


def _may_pass(pafs: np.ndarray, a_xy: np.ndarray, b_xy: np.ndarray, dx: np.ndarray,
              dy: np.ndarray, floor: float, need: float, n: int) -> np.ndarray:
    """(P,) bool: the pairs with more than ``need`` of their ``n`` samples next
    to a cell whose PAF magnitude exceeds ``floor`` (the others cannot pass a
    support test)."""
    h, w = pafs.shape[:2]
    channels, first = np.unique(dx, return_index=True)
    strong_cell = (np.square(pafs[:, :, channels]) + np.square(pafs[:, :, dy[first]])
                   > floor * floor)
    near = strong_cell.copy()                   # any of the 4 cells right/below
    near[:, :-1] |= strong_cell[:, 1:]
    near[:-1] |= near[1:].copy()
    xs, ys, _, _ = segment_samples(a_xy, b_xy, n)     # the very points sampled later
    px = np.minimum(np.clip(xs, 0, w - 1).astype(np.intp), max(w - 2, 0))
    py = np.minimum(np.clip(ys, 0, h - 1).astype(np.intp), max(h - 2, 0))
    flat = (py * w + px) * len(channels) + np.searchsorted(channels, dx)[:, None]
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
