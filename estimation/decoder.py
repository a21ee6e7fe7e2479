"""The project's best decoder: heatmaps and PAFs to people, beyond the lab path.

Same inputs and outputs as the lab pipeline (``coords`` with sub-cell float
positions, and (K, 20) skeleton rows), so drawing and export serve both. What
it does differently, each step measured on the COCO dev set (see README):

1. Peaks: heatmaps smoothed with a small Gaussian, 8-neighbour non-maximum
   suppression, then each peak refined to sub-cell precision by fitting a
   parabola through it and its neighbours along x and along y.
2. Limbs: the PAF is sampled with bilinear interpolation at sub-cell points;
   a limb longer than half the map height is penalised (CMU's distance
   prior); a limb needs a high fraction of supporting samples; one-to-one
   matching per limb type.
3. Assembly: all limbs of all types sorted by score together, so limb order
   cannot fool it; two partial people are merged only when they share no
   slot; the redundant ear-shoulder limbs only fill empty slots and never
   start a person.
4. Scoring: a person's score rewards confident, complete people, and weak
   people are pruned (thresholds tuned on the dev set).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from .checks import check_maps
from .config import NUM_PARTS, ROW_WIDTH, PoseConfig, get_default_configuration
from .connections import get_connections, match_one_to_one
from .coordinates import get_coordinates
from .estimators import estimate

Coords = Dict[str, List[Tuple[float, float, float, int]]]


@dataclass(frozen=True)
class DecoderParams:
    """Thresholds of the best decoder (defaults tuned on the COCO dev set)."""

    # Peak must exceed this smoothed heatmap value; dev-set sweep.
    peak_threshold: float = 0.05
    # Gaussian smoothing of heatmaps, in cells (0 = none); dev-set sweep.
    smooth_sigma: float = 0.0
    # Sub-cell refinement by a parabola fit on the smoothed map.
    refine_peaks: bool = True
    # Samples along a candidate limb; CMU / lightweight-openpose use 10.
    limb_samples: int = 10
    # Minimum PAF projection for a sample to support a limb; dev-set sweep (CMU: 0.05).
    min_paf_score: float = 0.02
    # Fraction of samples that must support a limb; CMU's 0.8.
    min_support_ratio: float = 0.8
    # Relaxed thresholds for limbs that may only attach parts to existing
    # people (never start one); dev-set sweep.
    attach_min_paf_score: float = 0.0
    attach_min_support_ratio: float = 0.3
    # Limbs longer than this fraction of the map height are penalised; CMU's 0.5.
    max_limb_fraction: float = 0.5
    # A person needs at least this many parts; dev-set sweep.
    min_parts: int = 3
    # ... and at least this mean peak score per part; dev-set sweep.
    min_mean_score: float = 0.2


def smooth(maps: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian smoothing of each channel (edges replicated).

    Args:
        maps: (H, W, C) float32.
        sigma: standard deviation in cells; <= 0 returns ``maps`` unchanged.

    Returns:
        (H, W, C) float32 smoothed maps.
    """
    if sigma <= 0:
        return maps
    radius = max(1, int(np.ceil(2.5 * sigma)))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps = (taps / taps.sum()).astype(np.float32)
    padded = np.pad(maps, ((radius, radius), (0, 0), (0, 0)), mode="edge")
    h, w = maps.shape[:2]
    out = sum(t * padded[k:k + h] for k, t in enumerate(taps))
    padded = np.pad(out, ((0, 0), (radius, radius), (0, 0)), mode="edge")
    return sum(t * padded[:, k:k + w] for k, t in enumerate(taps)).astype(np.float32)


def find_peaks(heatmaps: np.ndarray, params: DecoderParams,
               config: PoseConfig) -> Coords:
    """Peaks of every part with sub-cell positions and global ids.

    Args:
        heatmaps: (H, W, >=18) float32 heatmaps.
        params: decoder thresholds.
        config: pose configuration.

    Returns:
        ``{part name: [(x, y, score, id), ...]}`` with float x, y in cells and
        ``score`` the raw heatmap value at the peak cell.
    """
    parts = list(config.body_parts.values())
    raw = heatmaps[:, :, [p.heatmap_idx for p in parts]]
    sm = smooth(raw, params.smooth_sigma)
    p = np.pad(sm, ((1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    c = p[1:-1, 1:-1]
    # 8-neighbourhood maximum; ties go to the bottom-right cell of a plateau.
    mask = ((c >= p[:-2, 1:-1]) & (c >= p[1:-1, :-2]) & (c >= p[:-2, :-2]) & (c >= p[:-2, 2:])
            & (c > p[2:, 1:-1]) & (c > p[1:-1, 2:]) & (c > p[2:, 2:]) & (c > p[2:, :-2])
            & (c > params.peak_threshold))
    part_idx, ys, xs = np.nonzero(mask.transpose(2, 0, 1))
    fx, fy = xs.astype(np.float64), ys.astype(np.float64)
    if params.refine_peaks and len(xs):
        e = np.pad(sm, ((1, 1), (1, 1), (0, 0)), mode="edge")
        centre = e[ys + 1, xs + 1, part_idx]
        for axis_vals, lo, hi in ((fx, e[ys + 1, xs, part_idx], e[ys + 1, xs + 2, part_idx]),
                                  (fy, e[ys, xs + 1, part_idx], e[ys + 2, xs + 1, part_idx])):
            curv = lo - 2 * centre + hi
            with np.errstate(divide="ignore", invalid="ignore"):
                shift = np.where(curv < 0, 0.5 * (lo - hi) / curv, 0.0)
            axis_vals += np.clip(shift, -0.5, 0.5)
    scores = raw[ys, xs, part_idx]
    counts = np.bincount(part_idx, minlength=len(parts))
    starts = np.concatenate(([0], np.cumsum(counts)))
    return {meta.body_part.name: [
        (float(fx[i]), float(fy[i]), float(scores[i]), int(i))
        for i in range(starts[k], starts[k + 1])] for k, meta in enumerate(parts)}


def bilinear(field: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Sample (H, W, C) ``field`` at float positions (clamped to the map).

    Returns:
        ``xs.shape + (C,)`` float32 samples.
    """
    h, w = field.shape[:2]
    xs = np.clip(xs, 0, w - 1)
    ys = np.clip(ys, 0, h - 1)
    x0 = np.minimum(xs.astype(np.intp), w - 2) if w > 1 else np.zeros(xs.shape, np.intp)
    y0 = np.minimum(ys.astype(np.intp), h - 2) if h > 1 else np.zeros(ys.shape, np.intp)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    ax = (xs - x0)[..., None]
    ay = (ys - y0)[..., None]
    top = field[y0, x0] * (1 - ax) + field[y0, x1] * ax
    bottom = field[y1, x0] * (1 - ax) + field[y1, x1] * ax
    return top * (1 - ay) + bottom * ay


def score_limbs(pafs: np.ndarray, a: np.ndarray, b: np.ndarray, dx: int, dy: int,
                params: DecoderParams) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores of all candidate limbs between part candidates ``a`` and ``b``.

    Args:
        pafs: (H, W, 38) PAFs.
        a: (Na, 2) and b: (Nb, 2) candidate positions (x, y) in cells.
        dx, dy: the limb's PAF channels.
        params: decoder thresholds.

    Returns:
        ``score`` (Na, Nb): mean projection plus the long-limb penalty;
        ``strong`` and ``weak`` (Na, Nb) bool: the pairs that pass the strict
        and the relaxed support thresholds (both need a positive score).
    """
    vec = b[None, :, :] - a[:, None, :]
    length = np.sqrt((vec ** 2).sum(-1))
    unit = vec / np.maximum(length, 1e-9)[..., None]
    u = np.linspace(0.0, 1.0, params.limb_samples)
    pts = a[:, None, None, :] + u[None, None, :, None] * vec[:, :, None, :]
    field = bilinear(pafs[:, :, [dx, dy]], pts[..., 0], pts[..., 1])
    proj = field[..., 0] * unit[:, :, None, 0] + field[..., 1] * unit[:, :, None, 1]
    limit = params.max_limb_fraction * pafs.shape[0]
    penalty = np.minimum(limit / np.maximum(length, 1e-9) - 1.0, 0.0)
    score = proj.mean(-1) + penalty
    base = (length > 0) & (score > 0)
    n = params.limb_samples
    strong = base & ((proj > params.min_paf_score).sum(-1) > params.min_support_ratio * n)
    weak = base & ((proj > params.attach_min_paf_score).sum(-1)
                   > params.attach_min_support_ratio * n)
    return score, strong, weak


def find_limbs(pafs: np.ndarray, peaks: Dict[str, np.ndarray], params: DecoderParams,
               config: PoseConfig) -> Tuple[List[np.ndarray], List[np.ndarray]]:
    """One-to-one matched limbs per type, strong and weak.

    Returns:
        ``strong`` and ``weak``: per limb type, (K, 3) arrays ``id_a, id_b,
        score``, each matched one-to-one on its own (a weak list may repeat
        strong limbs; assembly skips what is already joined).
    """
    strong_out, weak_out = [], []
    for limb in config.connection_types:
        a = peaks[limb.from_body_part.name]
        b = peaks[limb.to_body_part.name]
        if len(a) == 0 or len(b) == 0:
            strong_out.append(np.zeros((0, 3)))
            weak_out.append(np.zeros((0, 3)))
            continue
        score, strong, weak = score_limbs(pafs, a[:, :2], b[:, :2], limb.paf_dx_idx,
                                          limb.paf_dy_idx, params)
        for valid, out in ((strong, strong_out), (weak, weak_out)):
            out.append(np.array([(a[i, 3], b[j, 3], score[i, j])
                                 for i, j in match_one_to_one(score, valid)]).reshape(-1, 3))
    return strong_out, weak_out


def assemble(limbs: List[np.ndarray], part_scores: np.ndarray, part_xy: np.ndarray,
             config: PoseConfig, params: DecoderParams,
             weak_limbs: Optional[List[np.ndarray]] = None) -> np.ndarray:
    """Group limbs into people, strongest limbs first across all types.

    Args:
        limbs: per limb type, (K, 3) rows ``id_a, id_b, limb_score`` (strong).
        part_scores: (n_peaks,) heatmap score of each peak id.
        part_xy: (n_peaks, 2) position of each peak id, in cells.
        config: pose configuration.
        params: decoder thresholds (pruning).
        weak_limbs: like ``limbs``, limbs that may only attach parts to people
            that exist (never start or merge people).

    Returns:
        (K, 20) skeleton rows sorted by score, descending. The score is the
        sum of the part and limb scores times the square root of the diagonal
        of the person's bounding box in cells: on the dev set, bigger people
        are found more accurately, and ranking them higher raised AP.
    """
    slot_a = [config.body_parts[l.from_body_part].slot_idx for l in config.connection_types]
    slot_b = [config.body_parts[l.to_body_part].slot_idx for l in config.connection_types]
    redundant = {k for k, l in enumerate(config.connection_types) if l.redundant}
    # Strong limbs of all types together by score (the redundant ones among
    # them may only attach), then the weak ones, which only attach too.
    rows = [(0, -s, k, int(a), int(b), s, k in redundant)
            for k, arr in enumerate(limbs) for a, b, s in arr]
    rows += [(1, -s, k, int(a), int(b), s, True)
             for k, arr in enumerate(weak_limbs or []) for a, b, s in arr]
    rows.sort()
    rows = [(s, k, a, b, attach_only) for _, _, k, a, b, s, attach_only in rows]
    people: List[np.ndarray] = []
    limb_sum: List[float] = []
    owner: Dict[int, int] = {}
    for score, k, a, b, attach_only in rows:
        sa, sb = slot_a[k], slot_b[k]
        pa, pb = owner.get(a), owner.get(b)
        if pa is None and pb is None:
            if attach_only:
                continue
            person = np.full(NUM_PARTS, -1, np.int64)
            person[sa], person[sb] = a, b
            owner[a] = owner[b] = len(people)
            people.append(person)
            limb_sum.append(score)
        elif pa is not None and pb is not None:
            if pa == pb:
                limb_sum[pa] += score
            elif not attach_only and not ((people[pa] >= 0) & (people[pb] >= 0)).any():
                moved = people[pb] >= 0
                people[pa][moved] = people[pb][moved]
                for i in people[pb][moved]:
                    owner[int(i)] = pa
                limb_sum[pa] += limb_sum[pb] + score
                people[pb] = np.full(NUM_PARTS, -1, np.int64)
                limb_sum[pb] = 0.0
        else:
            home, new, slot = (pa, b, sb) if pa is not None else (pb, a, sa)
            if people[home][slot] < 0:
                people[home][slot] = new
                owner[new] = home
                limb_sum[home] += score
    out = []
    for person, lsum in zip(people, limb_sum):
        filled = person >= 0
        n = int(filled.sum())
        if n < params.min_parts:
            continue
        mean_part = part_scores[person[filled]].mean()
        if mean_part < params.min_mean_score:
            continue
        xy = part_xy[person[filled]]
        diag = float(np.hypot(*(xy.max(0) - xy.min(0))))
        score = (part_scores[person[filled]].sum() + lsum) * np.sqrt(max(diag, 1.0))
        out.append(np.concatenate([person, [score, n]]))
    if not out:
        return np.zeros((0, ROW_WIDTH))
    result = np.array(out, dtype=np.float64)
    return result[np.argsort(-result[:, NUM_PARTS], kind="stable")]


def decode(heatmaps: np.ndarray, pafs: np.ndarray, params: Optional[DecoderParams] = None,
           config: Optional[PoseConfig] = None,
           timings: Optional[Dict[str, float]] = None) -> Tuple[Coords, np.ndarray]:
    """Decode people from network maps with the best decoder.

    Args:
        heatmaps: (H, W, 19) float32 heatmaps (>= 18 channels).
        pafs: (H, W, 38) float32 PAFs, same H and W.
        params: thresholds (default :class:`DecoderParams`).
        config: pose configuration (default COCO-18).
        timings: if given, receives the seconds spent in ``"peaks"``,
            ``"connections"`` and ``"grouping"``.

    Returns:
        ``coords`` ({part name: [(x, y, score, id)]}, float cells) and
        ``skeletons`` (K, 20) float64 rows sorted by score, descending.

    Raises:
        ValueError: malformed maps (shape, channel count, NaN / inf) or maps of
            different spatial sizes.
    """
    params = params or DecoderParams()
    config = config or get_default_configuration()
    hm = check_maps("heatmaps", heatmaps, NUM_PARTS)
    pf = check_maps("pafs", pafs, 2 * len(config.connection_types))
    if hm.shape[:2] != pf.shape[:2]:
        raise ValueError(f"heatmaps {hm.shape[:2]} and pafs {pf.shape[:2]} differ in size")
    clock = time.perf_counter()
    coords = find_peaks(hm, params, config)
    peaks = {name: np.array(v, dtype=np.float64).reshape(-1, 4) for name, v in coords.items()}
    n_peaks = sum(len(v) for v in coords.values())
    part_scores = np.zeros(n_peaks)
    part_xy = np.zeros((n_peaks, 2))
    for v in peaks.values():
        part_scores[v[:, 3].astype(int)] = v[:, 2]
        part_xy[v[:, 3].astype(int)] = v[:, :2]
    clock = _lap(timings, "peaks", clock)
    strong, weak = find_limbs(pf, peaks, params, config)
    clock = _lap(timings, "connections", clock)
    skeletons = assemble(strong, part_scores, part_xy, config, params, weak)
    _lap(timings, "grouping", clock)
    return coords, skeletons


def _lap(timings: Optional[Dict[str, float]], stage: str, since: float) -> float:
    """Record the seconds since ``since`` under ``stage``; return the current time."""
    now = time.perf_counter()
    if timings is not None:
        timings[stage] = now - since
    return now


def decode_lab(heatmaps: np.ndarray, pafs: np.ndarray, config: Optional[PoseConfig] = None,
               timings: Optional[Dict[str, float]] = None, peak_threshold: float = 0.1,
               min_paf_score: float = 0.05, min_num_body_parts: int = 4,
               min_score: float = 0.4) -> Tuple[Coords, np.ndarray]:
    """Decode with the lab pipeline: get_coordinates -> get_connections -> estimate.

    Args:
        heatmaps: (H, W, 19) float32 heatmaps.
        pafs: (H, W, 38) float32 PAFs.
        config: pose configuration (default COCO-18).
        timings: if given, receives seconds for ``"peaks"``, ``"connections"``
            and ``"grouping"``.
        peak_threshold, min_paf_score, min_num_body_parts, min_score: the lab
            stages' thresholds (their defaults are the lab's).

    Returns:
        ``coords`` and ``skeletons`` (K, 20), as :func:`decode`.

    Raises:
        ValueError: malformed maps.
    """
    config = config or get_default_configuration()
    clock = time.perf_counter()
    coords = get_coordinates(config, heatmaps, threshold=peak_threshold)
    clock = _lap(timings, "peaks", clock)
    connections = get_connections(config, coords, pafs, threshold=min_paf_score)
    clock = _lap(timings, "connections", clock)
    skeletons = estimate(config, connections, min_num_body_parts=min_num_body_parts,
                         min_score=min_score)
    _lap(timings, "grouping", clock)
    return coords, skeletons


#: Decoder names accepted by the command-line tools.
DECODERS = {"best": decode, "lab": decode_lab}
