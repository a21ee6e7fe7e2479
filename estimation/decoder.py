"""The project's best decoder: heatmaps and PAFs to people, beyond the lab path.

Same inputs and outputs as the lab pipeline (``coords`` with sub-cell float
positions, and (K, 20) skeleton rows), so drawing and export serve both. What
it does differently, each step measured on the COCO dev set (see README):

1. Peaks: 8-neighbour non-maximum suppression (optionally on a smoothed map;
   off by default, it lost AP), then each peak refined to sub-cell precision
   (``estimation.refine``: DARK's Taylor expansion of the log heatmap).
2. Limbs: every candidate pair of every limb type in one pass; the PAF is
   sampled with bilinear interpolation at sub-cell points; a limb longer than
   half the map height is penalised (CMU's distance prior); a limb needs a
   high fraction of supporting samples; one-to-one matching per limb type.
3. Assembly: all limbs of all types sorted by score together, so limb order
   cannot fool it; two partial people are merged only when they share no
   slot (unless they are fragments of one person, ``estimation.fragments``);
   the redundant ear-shoulder limbs, and limbs that pass only relaxed
   thresholds, only fill empty slots of existing people.
4. Scoring: a person's score rewards confident, complete, larger people (it
   ranks detections for AP), and weak people are pruned.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from . import handout
from .checks import check_maps
from .config import NUM_PARTS, ROW_WIDTH, PoseConfig, get_default_configuration
from .connections import (candidate_pairs, check_inside, get_connections, match_per_limb,
                          peaks_table, sample_projections, segment_samples,
                          strongest_candidates)
from .coordinates import get_coordinates
from .estimators import estimate
from .limits import MAX_LIMB_SAMPLES, MAX_SMOOTH_SIGMA, PAIR_BLOCK, blocks, strongest_per_part
from .merge import merge
from .fragments import join_fragments
from .refine import REFINERS
from .rescore import NUM_FEATURES, default_rescorer, limb_matrix, person_features

Coords = Dict[str, List[Tuple[float, float, float, int]]]


@dataclass(frozen=True)
class DecoderParams:
    """Thresholds of the best decoder (defaults tuned on the COCO dev set).

    Validated at construction (:meth:`__post_init__`): every field has a range.
    """

    # Peak must exceed this heatmap value; dev-set sweep (CMU: 0.1).
    peak_threshold: float = 0.03
    # Gaussian smoothing of heatmaps before peaks, in cells; dev-set sweep (0.5: -0.003 AP).
    smooth_sigma: float = 0.0
    # Sub-cell refinement by a parabola fit (+0.11 AP on the dev set).
    refine_peaks: bool = True
    # How (a key of estimation.refine.REFINERS) and on which smoothing of the
    # raw heatmaps, in cells (0: the peak map itself); dev-set comparison in
    # docs/refinement.md.
    refinement: str = "taylor"
    refine_sigma: float = 0.0
    # Join two fragments of one person (estimation.fragments); zidane.jpg and dev set.
    join_fragments: bool = True
    # Samples along a candidate limb; CMU / lightweight-openpose use 10.
    limb_samples: int = 10
    # Minimum PAF projection for a sample to support a limb; dev-set sweep (CMU: 0.05).
    min_paf_score: float = 0.02
    # Fraction of samples that must support a limb; dev-set sweep (CMU: 0.8).
    min_support_ratio: float = 0.7
    # Relaxed thresholds for limbs that may only attach parts to existing
    # people (never start one); dev-set sweep, and looser ones drew limbs
    # across people on bus.jpg.
    attach_min_paf_score: float = 0.05
    attach_min_support_ratio: float = 0.5
    # Limbs longer than this fraction of the map height are penalised; CMU's 0.5.
    max_limb_fraction: float = 0.5
    # A person needs at least this many parts: the lab's 4 (dev-set AP 0.329;
    # 3 gives 0.330 but reports stray arm and leg fragments as people).
    min_parts: int = 4
    # ... and at least this mean peak score per part; dev-set sweep.
    min_mean_score: float = 0.1
    # ... and at least this heuristic score (see assemble); dev-set sweep: 1.5 keeps
    # AP and drops 10 % of the people found (the face-like blob on zidane.jpg: 1.14).
    min_person_score: float = 1.5
    # How people are ranked (a key of PERSON_SCORES): "learned" predicts each
    # person's OKS (estimation.rescore); "heuristic" is the hand-made score;
    # "combined" their product (dev set, out of fold: 0.3332 / 0.3271 / 0.3315 AP).
    person_score: str = "combined"

    def __post_init__(self) -> None:
        """Refuse values that would silently decode nothing or take unbounded work.

        Raises:
            ValueError: naming the first field out of its range (NaN included).
        """
        real = {  # field: (low, high), both inclusive
            "peak_threshold": (0.0, 1.0), "smooth_sigma": (0.0, MAX_SMOOTH_SIGMA),
            "min_paf_score": (-1.0, 1.0), "min_support_ratio": (0.0, 1.0),
            "attach_min_paf_score": (-1.0, 1.0), "attach_min_support_ratio": (0.0, 1.0),
            "max_limb_fraction": (1e-3, 1e3), "min_mean_score": (0.0, 1e3),
            "refine_sigma": (0.0, MAX_SMOOTH_SIGMA), "min_person_score": (0.0, 1e6)}
        for name, (low, high) in real.items():
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)) or not isinstance(
                    value, (int, float, np.integer, np.floating)) or not low <= value <= high:
                raise ValueError(f"DecoderParams.{name} must be a number in [{low}, {high}], "
                                 f"got {value!r}")
        integer = {"limb_samples": (2, MAX_LIMB_SAMPLES), "min_parts": (1, NUM_PARTS)}
        for name, (low, high) in integer.items():
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)) or not isinstance(
                    value, (int, np.integer)) or not low <= value <= high:
                raise ValueError(f"DecoderParams.{name} must be an integer in [{low}, {high}], "
                                 f"got {value!r}")
        if self.refinement not in REFINERS:
            raise ValueError(f"DecoderParams.refinement must be one of {sorted(REFINERS)}, "
                             f"got {self.refinement!r}")
        if self.person_score not in PERSON_SCORES:
            raise ValueError(f"DecoderParams.person_score must be one of "
                             f"{sorted(PERSON_SCORES)}, got {self.person_score!r}")
        for name in ("refine_peaks", "join_fragments"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"DecoderParams.{name} must be a bool, got "
                                 f"{getattr(self, name)!r}")


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


@dataclass(frozen=True)
class Peaks:
    """All keypoint candidates of one image; the index of a peak is its id.

    Attributes:
        xy: (N, 2) float64 sub-cell positions (x, y) in cells.
        score: (N,) float64 raw heatmap value at the peak cell.
        part: (N,) int64 body-part slot; peaks are sorted by part, then row-major.
    """

    xy: np.ndarray
    score: np.ndarray
    part: np.ndarray

    def to_coords(self, config: PoseConfig) -> Coords:
        """The lab's ``{part name: [(x, y, score, id)]}`` view of the peaks."""
        bounds = np.searchsorted(self.part, np.arange(len(config.body_parts) + 1))
        rows = list(zip(self.xy[:, 0].tolist(), self.xy[:, 1].tolist(),
                        self.score.tolist(), range(len(self.score))))
        return {meta.body_part.name: rows[bounds[meta.slot_idx]:bounds[meta.slot_idx + 1]]
                for meta in config.body_parts.values()}


def find_peaks(heatmaps: np.ndarray, params: DecoderParams, config: PoseConfig) -> Peaks:
    """Peaks of every part with sub-cell positions.

    A peak is a cell above ``params.peak_threshold`` on the (optionally
    smoothed) heatmap that is the maximum of its 8-neighbourhood (ties go to
    the bottom-right cell of a plateau). Its position is refined by
    ``estimation.refine.REFINERS[params.refinement]`` on the heatmap (smoothed
    by ``params.refine_sigma`` when positive).

    Args:
        heatmaps: (H, W, >=18) float32 heatmaps.
        params: decoder thresholds.
        config: pose configuration.

    Returns:
        The :class:`Peaks`, ids in slot order, row-major within a part; at most
        ``estimation.limits.MAX_PEAKS_PER_PART`` per part (the strongest).
    """
    slots = [meta.slot_idx for meta in config.body_parts.values()]
    channels = [meta.heatmap_idx for meta in config.body_parts.values()]
    raw = heatmaps[:, :, channels]
    sm = smooth(raw, params.smooth_sigma)
    h, w, c = sm.shape
    pad = np.full((h + 2, w + 2, c), -np.inf, np.float32)
    pad[1:-1, 1:-1] = sm
    ys, xs, ch = np.nonzero(sm > params.peak_threshold)
    centre = sm[ys, xs, ch]
    py, px = ys + 1, xs + 1
    keep = np.ones(len(ys), bool)
    for dy, dx in ((-1, -1), (-1, 0), (-1, 1), (0, -1)):       # before in raster order: >=
        keep &= centre >= pad[py + dy, px + dx, ch]
    for dy, dx in ((0, 1), (1, -1), (1, 0), (1, 1)):           # after: strictly >
        keep &= centre > pad[py + dy, px + dx, ch]
    ys, xs, ch, centre = ys[keep], xs[keep], ch[keep], centre[keep]
    kept = strongest_per_part(ch, centre)
    ys, xs, ch, centre = ys[kept], xs[kept], ch[kept], centre[kept]
    order = np.lexsort((xs, ys, ch))
    ys, xs, ch, centre = ys[order], xs[order], ch[order], centre[order]
    xy = np.stack([xs, ys], axis=1).astype(np.float64)
    if params.refine_peaks and len(xs):
        fine = smooth(raw, params.refine_sigma) if params.refine_sigma > 0 else sm
        xy += REFINERS[params.refinement](fine, ys, xs, ch)
    return Peaks(xy, raw[ys, xs, ch].astype(np.float64), np.asarray(slots, np.int64)[ch])


def score_limbs(pafs: np.ndarray, a_xy: np.ndarray, b_xy: np.ndarray, dx: np.ndarray,
                dy: np.ndarray, params: DecoderParams) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores of candidate limbs, sampled with bilinear interpolation.

    Pairs that cannot pass either support test are skipped before sampling:
    an interpolated sample is at most as strong as the strongest of its four
    cells, so a pair with too few samples next to a cell whose PAF magnitude
    exceeds the lower of the two ``*_min_paf_score`` thresholds cannot pass
    (an exact test that saves most of the work in crowds). Pairs are scored
    in blocks of ``estimation.limits.PAIR_BLOCK``, so memory stays bounded.

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
    xs, ys, unit, length = segment_samples(a_xy[keep], b_xy[keep], n)
    xs, ys = np.clip(xs, 0, w - 1), np.clip(ys, 0, h - 1)
    x0 = np.minimum(xs.astype(np.intp), max(w - 2, 0))
    y0 = np.minimum(ys.astype(np.intp), max(h - 2, 0))
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = (xs - x0).astype(np.float32), (ys - y0).astype(np.float32)
    # Project the four corners first, then interpolate the projections.
    ux = unit[:, 0, None].astype(np.float32)
    uy = unit[:, 1, None].astype(np.float32)
    cx, cy = dx[keep, None], dy[keep, None]

    def corner(yy, xx):
        return pafs[yy, xx, cx] * ux + pafs[yy, xx, cy] * uy

    top = corner(y0, x0) * (1 - fx) + corner(y0, x1) * fx
    bottom = corner(y1, x0) * (1 - fx) + corner(y1, x1) * fx
    proj = top * (1 - fy) + bottom * fy
    limit = params.max_limb_fraction * h
    score[keep] = proj.mean(-1) + np.minimum(limit / length - 1.0, 0.0)
    positive = score[keep] > 0
    strong[keep] = positive & ((proj > params.min_paf_score).sum(-1)
                               > params.min_support_ratio * n)
    weak[keep] = positive & ((proj > params.attach_min_paf_score).sum(-1)
                             > params.attach_min_support_ratio * n)
    return score, strong, weak


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


def assemble(limbs: np.ndarray, part_scores: np.ndarray, part_xy: np.ndarray,
             config: PoseConfig, params: DecoderParams,
             weak_limbs: Optional[np.ndarray] = None,
             features_out: Optional[List[np.ndarray]] = None,
             pafs: Optional[np.ndarray] = None) -> np.ndarray:
    """Group limbs into people, strongest limbs first across all types.

    Args:
        limbs: (K, 4) rows ``limb type, id_a, id_b, limb_score`` (strong).
        part_scores: (n_peaks,) heatmap score of each peak id.
        part_xy: (n_peaks, 2) position of each peak id, in cells.
        config: pose configuration.
        params: decoder thresholds (pruning).
        weak_limbs: like ``limbs``, limbs that may only attach parts to people
            that exist (never start or merge people).
        pafs: (H, W, 38) PAFs; when given (and ``params.join_fragments``),
            fragments of one person are joined (``estimation.fragments``).
        features_out: if given, receives one (K, F) array: the
            ``estimation.rescore`` features of the returned rows, same order.

    Returns:
        (K, 20) skeleton rows sorted by score, descending. With
        ``params.person_score == "learned"`` the score is the predicted OKS
        (``estimation.rescore``), with ``"combined"`` (the default) the
        heuristic score times it; with ``"heuristic"`` it is the
        sum of the part and limb scores, times the mean part score, times the
        square root of the diagonal of the person's bounding box in cells: on
        the dev set confident and bigger people are found more accurately, and
        ranking them higher raised AP (0.308 -> 0.327).
    """
    slot_a, slot_b = (arr.tolist() for arr in config.limb_arrays[:2])
    redundant = {k for k, l in enumerate(config.connection_types) if l.redundant}
    # Strong limbs of all types together by score (the redundant ones among
    # them may only attach), then the weak ones, which only attach too.
    rows = [(0, -s, int(k), int(a), int(b), s, int(k) in redundant)
            for k, a, b, s in np.asarray(limbs).reshape(-1, 4).tolist()]
    if weak_limbs is not None:
        rows += [(1, -s, int(k), int(a), int(b), s, True)
                 for k, a, b, s in np.asarray(weak_limbs).reshape(-1, 4).tolist()]
    rows.sort()
    # A person is a dict slot -> peak id (plain Python: thousands of tiny
    # updates in crowds, where numpy's per-call cost would dominate).
    people: List[Dict[int, int]] = []
    limb_sum: List[float] = []
    limbs_of: List[Dict[int, float]] = []      # per person: limb type -> its score
    owner: Dict[int, int] = {}
    for _, _, k, a, b, score, attach_only in rows:
        sa, sb = slot_a[k], slot_b[k]
        pa, pb = owner.get(a), owner.get(b)
        if pa is None and pb is None:
            if attach_only:
                continue
            owner[a] = owner[b] = len(people)
            people.append({sa: a, sb: b})
            limb_sum.append(score)
            limbs_of.append({k: score})
        elif pa is not None and pb is not None:
            if pa == pb:
                limb_sum[pa] += score
                limbs_of[pa].setdefault(k, score)
            elif not attach_only and people[pa].keys().isdisjoint(people[pb]):
                people[pa].update(people[pb])
                for i in people[pb].values():
                    owner[i] = pa
                limb_sum[pa] += limb_sum[pb] + score
                limbs_of[pa].update(limbs_of[pb])
                limbs_of[pa][k] = score
                people[pb] = {}
                limb_sum[pb] = 0.0
                limbs_of[pb] = {}
        else:
            home, new, slot = (pa, b, sb) if pa is not None else (pb, a, sa)
            if slot not in people[home]:
                people[home][slot] = new
                owner[new] = home
                limb_sum[home] += score
                limbs_of[home][k] = score
    if pafs is not None and params.join_fragments:
        people, limb_sum, limbs_of = _join(people, limb_sum, limbs_of, part_scores, part_xy,
                                           pafs, config, params)
    out, kept_limbs = [], []
    for person, lsum, limbs in zip(people, limb_sum, limbs_of):
        if len(person) < max(params.min_parts, 1):
            continue
        ids = np.fromiter(person.values(), np.intp, len(person))
        mean_part = part_scores[ids].mean()
        if mean_part < params.min_mean_score:
            continue
        xy = part_xy[ids]
        diag = float(np.hypot(*(xy.max(0) - xy.min(0))))
        score = (part_scores[ids].sum() + lsum) * mean_part * np.sqrt(max(diag, 1.0))
        if score < params.min_person_score:
            continue
        row = np.full(ROW_WIDTH, -1.0)
        row[list(person)] = list(person.values())
        row[NUM_PARTS:] = score, len(person)
        out.append(row)
        kept_limbs.append(limbs)
    if not out:
        if features_out is not None:
            features_out.append(np.zeros((0, NUM_FEATURES)))
        return np.zeros((0, ROW_WIDTH))
    result = np.array(out, dtype=np.float64)
    if params.person_score != "heuristic" or features_out is not None:
        features = person_features(result[:, :NUM_PARTS], limb_matrix(kept_limbs), part_scores,
                                   part_xy, result[:, NUM_PARTS])
        if features_out is not None:
            features_out.append(features)
        result[:, NUM_PARTS] = PERSON_SCORES[params.person_score](features, result[:, NUM_PARTS])
    order = np.argsort(-result[:, NUM_PARTS], kind="stable")
    if features_out is not None:
        features_out[-1] = features_out[-1][order]
    return result[order]


def _join(people: List[Dict[int, int]], limb_sum: List[float],
          limbs_of: List[Dict[int, float]], part_scores: np.ndarray, part_xy: np.ndarray,
          pafs: np.ndarray, config: PoseConfig, params: DecoderParams
          ) -> Tuple[List[Dict[int, int]], List[float], List[Dict[int, float]]]:
    """People after :func:`estimation.fragments.join_fragments`; a joined
    person's limbs are scored again (every limb type whose two slots it holds
    and whose score is positive)."""
    dx_of, dy_of = config.limb_arrays[2:]
    slot_a, slot_b = config.limb_arrays[:2]

    def score_pairs(a_xy, b_xy, types):
        score, strong, _ = score_limbs(pafs, a_xy, b_xy, dx_of[types], dy_of[types], params)
        return score, strong

    out_people, out_sum, out_limbs = [], [], []
    for person, sources in join_fragments(people, part_scores, part_xy, score_pairs, config):
        if len(sources) == 1:
            k = sources[0]
            out_people.append(person), out_sum.append(limb_sum[k]), out_limbs.append(limbs_of[k])
            continue
        types = np.array([k for k in range(len(slot_a))
                          if slot_a[k] in person and slot_b[k] in person], np.intp)
        a = np.array([person[slot_a[k]] for k in types], np.intp)
        b = np.array([person[slot_b[k]] for k in types], np.intp)
        score, _ = score_pairs(part_xy[a], part_xy[b], types)
        limbs = {int(k): float(s) for k, s in zip(types, score) if s > 0}
        out_people.append(person), out_sum.append(sum(limbs.values())), out_limbs.append(limbs)
    return out_people, out_sum, out_limbs


#: Person scores by name: ``(features (K, F), heuristic (K,)) -> (K,)`` scores.
PERSON_SCORES: Dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "heuristic": lambda features, heuristic: heuristic,
    "learned": lambda features, heuristic: default_rescorer()(features),
    "combined": lambda features, heuristic: heuristic * default_rescorer()(features),
}


def decode(heatmaps: np.ndarray, pafs: np.ndarray, params: Optional[DecoderParams] = None,
           config: Optional[PoseConfig] = None,
           timings: Optional[Dict[str, float]] = None,
           features_out: Optional[List[np.ndarray]] = None) -> Tuple[Coords, np.ndarray]:
    """Decode people from network maps with the best decoder.

    Args:
        heatmaps: (H, W, 19) float32 heatmaps (>= 18 channels).
        pafs: (H, W, 38) float32 PAFs, same H and W.
        params: thresholds (default :class:`DecoderParams`).
        config: pose configuration (default COCO-18).
        timings: if given, receives the seconds spent in ``"peaks"``,
            ``"connections"`` and ``"grouping"``.
        features_out: if given, receives the (K, F) rescoring features of
            the returned people (see :func:`assemble`).

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
    _check_same_size(hm, pf)
    clock = time.perf_counter()
    peaks = find_peaks(hm, params, config)
    clock = _lap(timings, "peaks", clock)
    strong, weak = find_limbs(pf, peaks, params, config)
    clock = _lap(timings, "connections", clock)
    skeletons = assemble(strong, peaks.score, peaks.xy, config, params, weak, features_out,
                         pf)
    coords = peaks.to_coords(config)
    _lap(timings, "grouping", clock)
    return coords, skeletons


def _check_same_size(heatmaps: np.ndarray, pafs: np.ndarray) -> None:
    """Raise ValueError unless the two map stacks have the same (H, W)."""
    hs, ps = np.shape(heatmaps)[:2], np.shape(pafs)[:2]
    if hs != ps:
        raise ValueError(f"heatmaps {hs} and pafs {ps} differ in size")


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
        ValueError: malformed maps, or heatmaps and PAFs of different sizes.
    """
    config = config or get_default_configuration()
    _check_same_size(heatmaps, pafs)
    clock = time.perf_counter()
    coords = get_coordinates(config, heatmaps, threshold=peak_threshold)
    clock = _lap(timings, "peaks", clock)
    connections = get_connections(config, coords, pafs, threshold=min_paf_score)
    clock = _lap(timings, "connections", clock)
    skeletons = estimate(config, connections, min_num_body_parts=min_num_body_parts,
                         min_score=min_score)
    _lap(timings, "grouping", clock)
    return coords, skeletons


def decode_handout(heatmaps: np.ndarray, pafs: np.ndarray, config: Optional[PoseConfig] = None,
                   timings: Optional[Dict[str, float]] = None, peak_threshold: float = 0.1,
                   min_paf_score: float = 0.05, min_num_body_parts: int = 4,
                   min_score: float = 0.4,
                   merge_fn: Callable[..., np.ndarray] = merge,
                   row_score: str = "printed") -> Tuple[Coords, np.ndarray]:
    """Decode with the handout's kit as printed, and our ``merge.py``.

    The kit's ``>=`` peaks (threshold 0.1), its connections without one-to-one
    matching (best ``min(n_a, n_b)`` pairs per limb; :func:`kit_connections`,
    the kit's rule in one numpy pass instead of its Python double loop), one subset row per
    connection (scored by ``row_score``), then ``merge_fn(rows,
    min_num_body_parts, min_score)``: how a
    student's ``merge.py`` is judged inside the kit (see ``estimation.handout``).
    One bound is added to the kit: at most ``MAX_PEAKS_PER_PART`` peaks per
    part (the strongest) are paired, so its work is bounded on any map.

    Args:
        heatmaps: (H, W, 19) float32 heatmaps.
        pafs: (H, W, 38) float32 PAFs, same H and W.
        config: pose configuration (default COCO-18).
        timings: if given, receives seconds for ``"peaks"``, ``"connections"``
            and ``"grouping"``.
        peak_threshold, min_paf_score, min_num_body_parts, min_score: the
            kit's thresholds (its defaults; the same names as
            :func:`decode_lab`).
        merge_fn: the merge judged (default: ours).
        row_score: a key of ``estimation.handout.ROW_SCORES``: ``"printed"``
            (the handout's ``connections[k][i][2]``: ``2 * score_a +
            score_b``) or ``"cmu"`` (``score_a + score_b + limb_score``, what
            the original code computed).

    Returns:
        ``coords`` and ``skeletons`` (K, 20), as :func:`decode`.

    Raises:
        ValueError: malformed maps, heatmaps and PAFs of different sizes, or
            an unknown ``row_score``.
    """
    config = config or get_default_configuration()
    if row_score not in handout.ROW_SCORES:
        raise ValueError(f"row_score must be one of {', '.join(handout.ROW_SCORES)}, "
                         f"got {row_score!r}")
    hm = check_maps("heatmaps", heatmaps, NUM_PARTS)
    pf = check_maps("pafs", pafs, 2 * len(config.connection_types))
    _check_same_size(hm, pf)
    clock = time.perf_counter()
    coords = handout.get_coordinates_reference(config, hm, threshold=peak_threshold)
    clock = _lap(timings, "peaks", clock)
    connections = kit_connections(config, coords, pf, threshold=min_paf_score)
    clock = _lap(timings, "connections", clock)
    skeletons = merge_fn(handout.estimate_rows_reference(config, connections, row_score),
                         min_num_body_parts, min_score)
    _lap(timings, "grouping", clock)
    return coords, skeletons


def kit_connections(config: PoseConfig, coords: Coords, pafs: np.ndarray,
                    threshold: float = 0.05, mid_num: int = 10,
                    minimum_mid_num: int = 8) -> List[np.ndarray]:
    """The handout's ``get_connections`` in one numpy pass (same rule, same output).

    Like ``estimation.handout.get_connections_reference``: nearest-cell PAF
    samples, a pair is valid with more than ``minimum_mid_num`` samples above
    ``threshold`` and a positive mean; per limb type the best
    ``min(n_a, n_b)`` valid pairs by mean, with no one-to-one matching. Only
    the strongest ``MAX_PEAKS_PER_PART`` candidates of a part are paired.

    Args:
        config: pose configuration.
        coords: ``{part name: [(x, y, score, id), ...]}`` (integer cells).
        pafs: (H, W, 38) float32 PAFs.
        threshold, mid_num, minimum_mid_num: the kit's parameters.

    Returns:
        One (K, 5) array per limb type, rows ``[id_a, id_b, score_a, score_b,
        limb_score]`` sorted by ``limb_score`` descending.

    Raises:
        ValueError: malformed ``coords`` or candidates outside the maps.
    """
    table, bounds = strongest_candidates(*peaks_table(config, coords))
    check_inside(table, pafs.shape[:2])
    limb, a, b = candidate_pairs(config, bounds)
    dx_of, dy_of = config.limb_arrays[2:]
    mean = np.zeros(len(limb))
    support = np.zeros(len(limb), np.intp)
    moved = (table[a, :2] != table[b, :2]).any(1) if len(limb) else np.zeros(0, bool)
    for block in blocks(len(limb), PAIR_BLOCK):
        # float32, as the kit computes (float32 PAF values times Python floats).
        proj = sample_projections(pafs, table[a[block], :2], table[b[block], :2],
                                  dx_of[limb[block]], dy_of[limb[block]], mid_num, np.float32)
        mean[block] = proj.sum(-1) / np.float32(mid_num)
        support[block] = (proj > np.float32(threshold)).sum(-1)
    valid = moved & (support > minimum_mid_num) & (mean > 0)
    counts = np.diff(bounds)
    slot_a, slot_b = config.limb_arrays[:2]
    out = []
    for k in range(len(config.connection_types)):
        sel = np.flatnonzero(valid & (limb == k))
        # The kit's order: ascending argsort reversed (ties too).
        sel = sel[np.argsort(mean[sel])[::-1]][:min(counts[slot_a[k]], counts[slot_b[k]])]
        out.append(np.stack([table[a[sel], 3], table[b[sel], 3], table[a[sel], 2],
                             table[b[sel], 2], mean[sel]], axis=1))
    return out


#: Decoder names accepted by the command-line tools: the project's decoder,
#: the lab pipeline, and the handout's kit with our merge.
DECODERS = {"best": decode, "lab": decode_lab, "handout": decode_handout}
