"""Completing found people: a guessed position for each slot the grouping left empty.

COCO's OKS compares every annotated keypoint of a person with the detection's,
and a keypoint the detection lacks counts as missed however close the rest is;
a guess near the truth earns part of the credit, and a guess for a keypoint
nobody annotated costs nothing. So every empty slot of a found person gets a
position, guessed from the slots it has, nearest ones first (in waves along
the limbs, so a wrist can follow a guessed elbow):

- the person's scale is the median ratio of its limbs' lengths to the
  typical lengths :data:`LIMB_LENGTHS`;
- from a filled slot joined to the empty one by a limb, the limb's PAF at the
  filled slot points the way: the expected position is one typical limb
  length (times the scale) along it; where the PAF is too weak to point, the
  filled slot itself is the centre and the search is wider;
- the guess is the strongest cell of the empty slot's heatmap in a disc
  around the expected position (whatever its value); of several filled
  neighbours, the one whose disc holds the strongest cell wins.

Measured on the COCO dev set in ``docs/records/accuracy_decoder.md``.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from posekit.decode.clamp import clamp
from posekit.lab.config import NUM_PARTS, PoseConfig

#: Typical length of each limb type (config order), in map cells of a
#: person of median size: medians of the lengths of the best decoder's people
#: on the 400 COCO dev images, each person's scale factored out (fit of
#: log length = log typical + log scale, alternating medians).
LIMB_LENGTHS = np.array([1.56, 1.57, 2.91, 1.93, 2.90, 1.91, 5.29, 3.81, 3.80, 5.28, 3.77,
                         3.81, 2.15, 0.66, 0.90, 0.66, 0.92, 2.25, 2.25])
LIMB_LENGTHS.setflags(write=False)
#: The PAF must be at least this long to point the way (its vectors have length
#: up to about 1 on a limb); below it, the search is around the filled slot.
#: Dev-set AP (benchmarks/bench_completion.py): 0.1 0.3622, 0.2 0.3604, never 0.3574.
MIN_PAF_NORM = 0.1
#: Search radius around the expected position, as a fraction of the limb's
#: length: dev-set AP 0.2 / 0.3 / 0.5 / 0.8: 0.3617 / 0.3622 / 0.3605 / 0.3591.
POINTED_RADIUS = 0.3
#: ... and around the filled slot when the PAF does not point: 0.6 / 1.2 / 2.0:
#: 0.3582 / 0.3622 / 0.3625 (noise; 1.2 kept).
UNPOINTED_RADIUS = 1.2
#: Radius bounds in cells: at least 1.5 (1.0 / 2.5: 0.3622 / 0.3597); at most
#: 16, which bounds the work at 35 x 35 cells per guess.
MIN_RADIUS = 1.5
MAX_RADIUS = 16
#: Discs are searched on grids of these half-widths, smallest that fits (speed).
RADIUS_BUCKETS = (3, 6, MAX_RADIUS)
#: A guess's score is its heatmap value, at least this: a score of 0 means a
#: missing keypoint in our keypoint arrays and in OpenPose's JSON.
MIN_GUESS_SCORE = 1e-3
#: Guesses are scored in blocks of this many (x at most 35 x 35 cells: 19 MB peak,
#: docs/limits.md).
GUESS_BLOCK = 512


def complete(slots: np.ndarray, part_xy: np.ndarray, heatmaps: np.ndarray, pafs: np.ndarray,
             config: PoseConfig) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Guess a position for every empty slot of every person.

    Args:
        slots: (K, 18) int peak id per slot, -1 where empty.
        part_xy: (N, 2) position (x, y) of each peak id, in cells.
        heatmaps: (H, W, >=18) float heatmaps (channel of a slot per ``config``).
        pafs: (H, W, 2 * n_limbs) float PAFs.
        config: pose configuration.

    Returns:
        ``slots`` with the empty slots filled by new ids ``N, N + 1, ...``
        (K, 18) int64; the new ids' positions (M, 2) float64 in cells and
        scores (M,) float64: the heatmap value there, at least
        :data:`MIN_GUESS_SCORE`. A person without a limb (no two slots
        joined by a limb type) stays as it is.

    Raises:
        ValueError: ``slots`` not (K, 18), or ids outside ``part_xy``.
    """
    slots = np.array(slots, dtype=np.int64)
    if slots.ndim != 2 or slots.shape[1] != NUM_PARTS:
        raise ValueError(f"slots must be (K, {NUM_PARTS}), got {slots.shape}")
    part_xy = np.asarray(part_xy, np.float64).reshape(-1, 2)
    if slots.size and slots.max() >= len(part_xy):
        raise ValueError(f"slots holds id {slots.max()} but part_xy has {len(part_xy)} rows")
    slot_a, slot_b, paf_x, paf_y = (np.asarray(a) for a in config.limb_arrays)
    heatmaps = np.ascontiguousarray(heatmaps)
    channel = np.empty(NUM_PARTS, np.intp)
    for meta in config.body_parts.values():
        channel[meta.slot_idx] = meta.heatmap_idx
    present = slots >= 0
    xy = np.where(present[..., None], part_xy[np.where(present, slots, 0)], 0.0)
    both = present[:, slot_a] & present[:, slot_b]
    length = np.hypot(*np.moveaxis(xy[:, slot_a] - xy[:, slot_b], -1, 0))
    ratio = np.where(both, np.log(np.maximum(length, 0.5)) - np.log(LIMB_LENGTHS), np.nan)
    has_limb = both.any(1)
    scale = np.exp(_row_medians(ratio, both.sum(1)))
    new_xy, new_value = [], []
    next_id = len(part_xy)
    src = np.concatenate([slot_a, slot_b])           # each limb both ways
    dst = np.concatenate([slot_b, slot_a])
    sign = np.concatenate([np.ones(len(slot_a)), -np.ones(len(slot_a))])
    limb_of = np.concatenate([np.arange(len(slot_a))] * 2)
    for _ in range(NUM_PARTS):                       # one wave per step away from a found slot
        person, way = np.nonzero(present[:, src] & ~present[:, dst] & has_limb[:, None])
        if not len(person):
            break
        target, limb = dst[way], limb_of[way]
        value, cell = _search(xy[person, src[way]], sign[way], limb,
                              LIMB_LENGTHS[limb] * scale[person], heatmaps, channel[target],
                              pafs, paf_x, paf_y)
        # Best neighbour per (person, target): highest value, first on ties.
        key = person * NUM_PARTS + target
        order = np.lexsort((-value, key))
        first = order[np.r_[True, key[order][1:] != key[order][:-1]]]
        k, s = person[first], target[first]
        xy[k, s] = cell[first]
        present[k, s] = True
        slots[k, s] = next_id + np.arange(len(first))
        next_id += len(first)
        new_xy.append(cell[first])
        new_value.append(np.maximum(value[first], MIN_GUESS_SCORE))
    if not new_xy:
        return slots, np.zeros((0, 2)), np.zeros(0)
    return slots, np.concatenate(new_xy), np.concatenate(new_value).astype(np.float64)


def _row_medians(values: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Median of each row's first ``count`` values after sorting (NaN last);
    0 for rows with none (cheaper than ``np.nanmedian``)."""
    ordered = np.sort(values, axis=1)
    rows = np.arange(len(values))
    lo, hi = np.maximum(count - 1, 0) // 2, np.maximum(count, 1) // 2
    return np.where(count > 0, 0.5 * (ordered[rows, lo] + ordered[rows, hi]), 0.0)


def _search(origin: np.ndarray, sign: np.ndarray, limb: np.ndarray, length: np.ndarray,
            heatmaps: np.ndarray, channel: np.ndarray, pafs: np.ndarray,
            paf_x: np.ndarray, paf_y: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Strongest heatmap cell (value (G,), cell (G, 2) x, y) of each guess's disc.

    Args:
        origin: (G, 2) the filled slot's position; ``sign`` (G,) +1 when it is
            the limb's part A; ``limb`` (G,) limb type; ``length`` (G,)
            expected limb length in cells; ``channel`` (G,) heatmap channel
            of the empty slot.
    """
    h, w = heatmaps.shape[:2]
    ix = clamp(np.rint(origin[:, 0]), 0, w - 1).astype(np.intp)
    iy = clamp(np.rint(origin[:, 1]), 0, h - 1).astype(np.intp)
    vec = sign[:, None] * np.stack([pafs[iy, ix, paf_x[limb]], pafs[iy, ix, paf_y[limb]]], 1)
    norm = np.hypot(vec[:, 0], vec[:, 1])
    pointed = norm > MIN_PAF_NORM
    unit = vec / np.where(pointed, norm, 1.0)[:, None]
    centre = origin + np.where(pointed[:, None], unit * length[:, None], 0.0)
    radius = clamp(np.where(pointed, POINTED_RADIUS, UNPOINTED_RADIUS) * length,
                   MIN_RADIUS, MAX_RADIUS)
    flat = heatmaps.reshape(-1)
    depth = heatmaps.shape[2]
    value = np.empty(len(origin))
    cell = np.empty((len(origin), 2))
    low = 0
    for high in RADIUS_BUCKETS:                      # small discs on small grids
        group = np.nonzero((radius > low) & (radius <= high))[0]
        low = high
        span = np.arange(-high - 1, high + 2)
        for start in range(0, len(group), GUESS_BLOCK):
            g = group[start:start + GUESS_BLOCK]
            xs = np.floor(centre[g, 0]).astype(np.intp)[:, None] + span      # (B, S)
            ys = np.floor(centre[g, 1]).astype(np.intp)[:, None] + span
            dx2 = np.where((xs >= 0) & (xs < w), (xs - centre[g, 0, None]) ** 2, np.inf)
            dy2 = np.where((ys >= 0) & (ys < h), (ys - centre[g, 1, None]) ** 2, np.inf)
            inside = dy2[:, :, None] + dx2[:, None, :] <= radius[g, None, None] ** 2
            rows_at = clamp(ys, 0, h - 1) * (w * depth) + channel[g, None]          # (B, S)
            index = rows_at[:, :, None] + (clamp(xs, 0, w - 1) * depth)[:, None, :]
            got = np.where(inside, flat[index], -np.inf).reshape(len(g), -1)
            best = np.argmax(got, axis=1)
            rows = np.arange(len(g))
            value[g] = got[rows, best]
            by, bx = np.divmod(best, len(span))
            cell[g, 0], cell[g, 1] = xs[rows, bx], ys[rows, by]
    # A disc wholly off the map: the map's cell nearest to its centre.
    off = np.nonzero(~np.isfinite(value))[0]
    if len(off):
        cell[off, 0] = clamp(np.rint(centre[off, 0]), 0, w - 1)
        cell[off, 1] = clamp(np.rint(centre[off, 1]), 0, h - 1)
        value[off] = heatmaps[cell[off, 1].astype(np.intp), cell[off, 0].astype(np.intp),
                              channel[off]]
    return value, cell

