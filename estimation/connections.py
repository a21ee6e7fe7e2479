"""Stage 2: score candidate limbs with the PAF line integral and match them one-to-one.

Every (part A candidate, part B candidate) pair of every limb type is scored
in one numpy pass: the PAF is sampled at ``mid_num`` evenly spaced points of
the segment A->B and projected on its unit direction (eq. 11 of Cao et al.,
2017). A pair is kept when enough samples support it and its mean is
positive; kept pairs are then matched greedily, highest score first, so that a
part is used at most once per limb type (eq. 13-15 relaxed as in the paper).
The pair enumeration and the matching are shared with the best decoder.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Dict, List, Sequence, Tuple

import numpy as np

from .checks import check_maps
from .config import PoseConfig
from .limits import MAX_LIMB_SAMPLES, MAX_PEAKS_PER_PART, blocks, strongest_per_part

# Minimum PAF projection for a sample to count as support: the lab handout's
# and CMU OpenPose demo's thre2 = 0.05.
DEFAULT_MIN_PAF_SCORE = 0.05
# Samples along a candidate limb: the handout's and CMU demo's mid_num = 10.
DEFAULT_MID_NUM = 10
# Fraction of samples that must exceed min_paf_score (strictly more than):
# the handout's 8 of 10, CMU's 0.8 * mid_num.
DEFAULT_MIN_SUPPORT_RATIO = 0.8


def peaks_table(config: PoseConfig, coords: Dict[str, Sequence[Sequence[float]]]
                ) -> Tuple[np.ndarray, np.ndarray]:
    """All candidates of ``coords`` as one array, grouped by part in slot order.

    Args:
        config: pose configuration.
        coords: ``{part name: [(x, y, score, id), ...]}``.

    Returns:
        ``table`` (N, 4) float64 rows ``x, y, score, id`` and ``bounds``
        (n_parts + 1,): the rows of slot ``s`` are ``bounds[s]:bounds[s + 1]``.

    Raises:
        ValueError: a part is missing from ``coords`` or an entry is not a
            4-tuple of finite numbers.
    """
    rows: List[Sequence[float]] = []
    counts = []
    for meta in sorted(config.body_parts.values(), key=lambda m: m.slot_idx):
        name = meta.body_part.name
        if name not in coords:
            raise ValueError(f"coords has no entry for body part {name!r}")
        rows.extend(coords[name])
        counts.append(len(coords[name]))
    bounds = np.concatenate(([0], np.cumsum(counts))).astype(np.intp)
    if not rows:
        return np.zeros((0, 4)), bounds
    try:
        table = np.array(rows, dtype=np.float64)
    except (TypeError, ValueError):
        table = None
    if table is None or table.ndim != 2 or table.shape[1] < 4 or not np.isfinite(table).all():
        _raise_bad_coords(config, coords)
    return table[:, :4], bounds


def _raise_bad_coords(config: PoseConfig, coords: Dict[str, Sequence[Sequence[float]]]) -> None:
    """Raise a ValueError naming the first part whose candidates are malformed."""
    for meta in sorted(config.body_parts.values(), key=lambda m: m.slot_idx):
        name = meta.body_part.name
        if len(coords[name]) == 0:
            continue
        try:
            arr = np.array(coords[name], dtype=np.float64).reshape(len(coords[name]), -1)
        except (TypeError, ValueError):
            raise ValueError(f"coords[{name!r}] must be a list of (x, y, score, id)") from None
        if arr.shape[1] < 4:
            raise ValueError(f"coords[{name!r}] must be a list of (x, y, score, id), "
                             f"got {arr.shape[1]} values per entry")
        if not np.isfinite(arr).all():
            raise ValueError(f"coords[{name!r}] contains NaN or infinite values")
    raise ValueError("coords entries must be (x, y, score, id) of finite numbers")


def candidate_pairs(config: PoseConfig, bounds: np.ndarray
                    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (part A candidate, part B candidate) pair of every limb type.

    Args:
        config: pose configuration.
        bounds: (n_parts + 1,) candidate row ranges per slot (see
            :func:`peaks_table`).

    Returns:
        ``limb`` (P,) limb-type index, ``a`` (P,) and ``b`` (P,) candidate
        rows, ordered by limb type, then A, then B.
    """
    slot_a, slot_b = config.limb_arrays[:2]
    counts = np.diff(bounds)
    n_a, n_b = counts[slot_a], counts[slot_b]
    totals = n_a * n_b
    limb = np.repeat(np.arange(len(slot_a)), totals)
    local = np.arange(len(limb)) - np.repeat(np.cumsum(totals) - totals, totals)
    per_b = n_b[limb]
    return (limb, bounds[slot_a][limb] + local // np.maximum(per_b, 1),
            bounds[slot_b][limb] + local % np.maximum(per_b, 1))


def segment_samples(a_xy: np.ndarray, b_xy: np.ndarray, mid_num: int
                    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Evenly spaced points on each segment A->B (endpoints included).

    Args:
        a_xy: (P, 2) start points (x, y).
        b_xy: (P, 2) end points.
        mid_num: samples per segment.

    Returns:
        ``xs``, ``ys`` (P, mid_num) sample coordinates, ``unit`` (P, 2) unit
        directions (zero for coincident points) and ``length`` (P,).
    """
    vec = b_xy - a_xy
    vx, vy = vec[:, 0], vec[:, 1]
    length = np.sqrt(vx * vx + vy * vy)
    unit = vec / np.where(length > 0, length, 1.0)[:, None]
    u = _steps(mid_num)
    return a_xy[:, 0, None] + u * vx[:, None], a_xy[:, 1, None] + u * vy[:, None], unit, length


@lru_cache(maxsize=8)
def _steps(count: int) -> np.ndarray:
    """``np.linspace(0, 1, count)``, read-only, made once per count."""
    steps = np.linspace(0.0, 1.0, count)
    steps.setflags(write=False)
    return steps


def match_per_limb(limb: np.ndarray, a: np.ndarray, b: np.ndarray,
                   score: np.ndarray) -> np.ndarray:
    """Greedy one-to-one matching within each limb type, highest score first.

    Args:
        limb: (P,) limb type of each candidate pair.
        a: (P,) and b: (P,) the pair's two candidates.
        score: (P,) pair scores.

    Returns:
        Indices of the matched pairs, in descending score (ties keep the
        input order).
    """
    order = np.argsort(-np.asarray(score), kind="stable")
    limb, a, b = (np.asarray(arr, np.int64)[order] for arr in (limb, a, b))
    # One integer per (limb type, candidate): cheaper to hash than a tuple.
    span = int(max(a.max(initial=0), b.max(initial=0))) + 1
    used_a, used_b, kept = set(), set(), []
    for i, ka, kb in zip(order.tolist(), (limb * span + a).tolist(), (limb * span + b).tolist()):
        if ka not in used_a and kb not in used_b:
            used_a.add(ka)
            used_b.add(kb)
            kept.append(i)
    return np.asarray(kept, np.intp)


def split_by_limb(rows: np.ndarray, limb: np.ndarray, n_limbs: int) -> List[np.ndarray]:
    """Split rows into one array per limb type, keeping their order within a type."""
    order = np.argsort(limb, kind="stable")
    cuts = np.searchsorted(limb[order], np.arange(1, n_limbs))
    return np.split(rows[order], cuts)


def get_connections(config: PoseConfig, coords: Dict[str, Sequence[Sequence[float]]],
                    pafs: np.ndarray, threshold: float = DEFAULT_MIN_PAF_SCORE,
                    mid_num: int = DEFAULT_MID_NUM,
                    min_support_ratio: float = DEFAULT_MIN_SUPPORT_RATIO) -> List[np.ndarray]:
    """Find the valid limbs of every type.

    The PAF is read at the cell nearest to each sample point, as in the lab.

    Args:
        config: pose configuration (limbs and their PAF channels).
        coords: ``{part name: [(x, y, score, id), ...]}`` from ``get_coordinates``.
        pafs: (H, W, 38) float32 part affinity fields, x then y per limb.
        threshold: minimum PAF projection for a sample to support a limb
            (the lab's name; it is the ``min_paf_score``).
        mid_num: samples along each candidate segment.
        min_support_ratio: a limb needs strictly more than this fraction of
            samples above ``threshold``.

    Returns:
        One (K, 5) float64 array per limb type, in ``config.connection_types``
        order, rows ``[id_a, id_b, score_a, score_b, limb_score]`` sorted by
        ``limb_score`` descending; each part id appears at most once per array.

    Raises:
        ValueError: if ``pafs`` is not (H, W, C >= 38) or holds NaN / inf, if
            ``coords`` lacks a part, is malformed or has a candidate outside
            the PAF maps, or if ``mid_num`` / ``threshold`` /
            ``min_support_ratio`` are out of range.

    At most ``estimation.limits.MAX_PEAKS_PER_PART`` candidates of a part are
    used (the highest-scored, with a ``CandidateCapWarning``), and pairs are
    scored in bounded blocks, so memory is bounded for any ``coords``.
    """
    dx_of, dy_of = config.limb_arrays[2:]
    maps = check_maps("pafs", pafs, int(max(dx_of.max(), dy_of.max())) + 1)
    if isinstance(mid_num, bool) or not float(mid_num).is_integer() \
            or not 2 <= mid_num <= MAX_LIMB_SAMPLES:
        raise ValueError(f"mid_num must be an integer in [2, {MAX_LIMB_SAMPLES}], got {mid_num}")
    for name, value, low, high in (("threshold", threshold, -1.0, 1.0),
                                   ("min_support_ratio", min_support_ratio, 0.0, 1.0)):
        if not low <= value <= high:          # also refuses NaN
            raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    table, bounds = peaks_table(config, coords)
    table, bounds = strongest_candidates(table, bounds)
    check_inside(table, maps.shape[:2])
    limb, a, b = candidate_pairs(config, bounds)
    n_limbs = len(config.connection_types)
    if len(limb) == 0:
        return [np.zeros((0, 5)) for _ in range(n_limbs)]
    limb_score = np.zeros(len(limb))
    valid = np.zeros(len(limb), bool)
    for block in blocks(len(limb)):                 # bounded memory for any pair count
        limb_score[block], valid[block] = _score_pairs(
            maps, table[a[block], :2], table[b[block], :2], dx_of[limb[block]],
            dy_of[limb[block]], threshold, int(mid_num), min_support_ratio)
    sel = np.flatnonzero(valid)
    kept = sel[match_per_limb(limb[sel], a[sel], b[sel], limb_score[sel])]
    rows = np.stack([table[a[kept], 3], table[b[kept], 3], table[a[kept], 2],
                     table[b[kept], 2], limb_score[kept]], axis=1)
    return split_by_limb(rows, limb[kept], n_limbs)


def sample_projections(maps: np.ndarray, a_xy: np.ndarray, b_xy: np.ndarray,
                       dx: np.ndarray, dy: np.ndarray, mid_num: int,
                       dtype: type = np.float64) -> np.ndarray:
    """PAF projections on the segment direction at ``mid_num`` points of each pair.

    The cell nearest to each sample point is read (``np.rint``: halves to even,
    as Python's ``round`` in the lab kit).

    Args:
        maps: (H, W, 38) PAFs.
        a_xy: (P, 2) and b_xy: (P, 2) segment ends (x, y) in cells.
        dx: (P,) and dy: (P,) PAF channels of each pair's limb type.
        mid_num: samples per segment.
        dtype: precision of the unit vectors, hence of the projections
            (float32 reproduces the kit's arithmetic bit for bit).

    Returns:
        (P, mid_num) projections (0 for coincident ends).
    """
    xs, ys, unit, _ = segment_samples(a_xy, b_xy, mid_num)
    unit = unit.astype(dtype, copy=False)
    h, w = maps.shape[:2]
    xi = np.clip(np.rint(xs).astype(np.intp), 0, w - 1)
    yi = np.clip(np.rint(ys).astype(np.intp), 0, h - 1)
    return (maps[yi, xi, dx[:, None]] * unit[:, 0, None]
            + maps[yi, xi, dy[:, None]] * unit[:, 1, None])


def _score_pairs(maps: np.ndarray, a_xy: np.ndarray, b_xy: np.ndarray, dx: np.ndarray,
                 dy: np.ndarray, threshold: float, mid_num: int,
                 min_support_ratio: float) -> Tuple[np.ndarray, np.ndarray]:
    """Mean PAF projection (P,) and validity (P,) of one block of candidate pairs."""
    proj = sample_projections(maps, a_xy, b_xy, dx, dy, mid_num)
    limb_score = proj.mean(-1)
    valid = ((a_xy != b_xy).any(1) & (limb_score > 0)
             & ((proj > threshold).sum(-1) > min_support_ratio * mid_num))
    return limb_score, valid


def strongest_candidates(table: np.ndarray, bounds: np.ndarray
                          ) -> Tuple[np.ndarray, np.ndarray]:
    """``table`` and ``bounds`` (see :func:`peaks_table`) cut to the strongest
    ``MAX_PEAKS_PER_PART`` candidates of each part."""
    counts = np.diff(bounds)
    if len(table) == 0 or counts.max() <= MAX_PEAKS_PER_PART:
        return table, bounds
    part = np.repeat(np.arange(len(counts)), counts)
    kept = strongest_per_part(part, table[:, 2])
    counts = np.bincount(part[kept], minlength=len(counts))
    return table[kept], np.concatenate(([0], np.cumsum(counts))).astype(np.intp)


def check_inside(table: np.ndarray, shape: Tuple[int, int]) -> None:
    """Refuse candidates whose nearest cell is outside maps of ``shape`` (H, W).

    Raises:
        ValueError: naming the first such candidate and the map size.
    """
    if len(table) == 0:
        return
    h, w = shape
    x, y = np.rint(table[:, 0]), np.rint(table[:, 1])
    outside = (x < 0) | (x > w - 1) | (y < 0) | (y > h - 1)
    if outside.any():
        k = int(np.argmax(outside))
        raise ValueError(
            f"coords has a candidate at (x={table[k, 0]:g}, y={table[k, 1]:g}), outside the "
            f"PAF maps of {h} x {w} cells (are the PAFs smaller than the heatmaps?)")
