"""Scale-aware decoding: each person taken from the maps that see them best (full size, or a half-size pass added).

The network sees people up to about 400 px tall well; taller ones (a person
filling a webcam frame) fall apart into fragments or lose their limbs.
Averaging the maps of a half-size pass with the full-size ones everywhere
helps the large people and hurts the others (dev set: APl 0.428 -> 0.504,
APm 0.321 -> 0.314). Here the full-size maps and the averaged maps are
decoded separately, and a person of the averaged maps replaces the
full-size people it covers only where it is large (its keypoints' box at
least :attr:`ScaleParams.large_height` of the map height) and better
supported (its score times :attr:`ScaleParams.score_gain` beats theirs); a
large person the full-size pass missed is added. The other people of the
averaged maps are dropped: the full-size pass sees them better.

The half-size pass costs about a quarter of the full one and runs only when
the full-size pass suggests a large person or found only fragments
(:func:`wants_small_pass`); where a person is taller than
:attr:`ScaleParams.flip_height` (or only fragments were found), the mirrored
half-size image runs too, its maps averaged in. The second maps may lie on another grid (a pass
at scale ``s``, whose cell ``c`` is centred on original pixel
``(8c + 4) / s - 0.5``, ``posekit.decode.multiscale``): their people are
moved to cell ``c / s + (1 / s - 1) / 2`` of the full-size grid.
Measured on the COCO dev set: ``docs/records/accuracy_scales.md``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Dict, NamedTuple, Optional, Tuple

import numpy as np

from posekit.decode.completion import complete
from posekit.decode.decoder import detect
from posekit.decode.params import DecoderParams
from posekit.decode.types import Coords, default_config
from posekit.decode.multiscale import mirror_name
from posekit.lab.checks import lap
from posekit.lab.config import NUM_PARTS, ROW_WIDTH, BodyPart, PoseConfig

#: Scale of the cheap pass, relative to the full-size input (a quarter of the work).
SMALL_SCALE = 0.5
#: Each slot's left/right mirror (``left_knee`` <-> ``right_knee``; the others themselves).
MIRROR_SLOTS = np.array([BodyPart[mirror_name(BodyPart(s).name)].value for s in range(NUM_PARTS)])
#: The half-size pass, run on demand: ``(flip) -> (heatmaps, pafs, (fx, fy))`` or None; with
#: ``flip`` the mirrored half-size image runs too (:attr:`ScaleParams.flip_height`).
SmallPass = Callable[[bool], Optional[Tuple[np.ndarray, np.ndarray, Tuple[float, float]]]]


@dataclass(frozen=True)
class ScaleParams:
    """Thresholds of the per-person choice between the two passes (tuned on dev, see the record).

    Attributes:
        trigger_height: the half-size pass runs when a full-size person's
            keypoint box is at least this fraction of the map height, or when
            the full-size pass found people but none with ``trigger_parts``
            parts (nobody at all: no second pass).
        trigger_parts: see ``trigger_height``.
        large_height: a person of the second maps is used only when its
            keypoint box is at least this fraction of the map height.
        score_gain: a second-maps person's score is multiplied by this before
            it is compared with (and ranked among) full-size people.
        cover_distance: a full-size person is covered by a second-maps one
            when most of its keypoints lie within this fraction of that
            person's box diagonal of the same keypoint there.
        cover_share: ... "most": at least this share of its found keypoints.
        second_peak_threshold: the peak threshold of the second maps' decoding
            (``DecoderParams.peak_threshold`` there; only large people are kept
            from them, and they have strong peaks).
        second_join_fragments: ``DecoderParams.join_fragments`` of that decoding.
        flip_height: the half-size pass also runs on the mirrored image (its
            maps averaged in too) when the tallest full-size person's keypoint
            box is at least this fraction of the map height, or when only
            fragments were found (see ``trigger_height``).
    """

    # Chosen on half A of the dev set (200 images), checked on half B; the values tried
    # around each are in docs/records/accuracy_scales.md ("Tuning").
    # APl on A: 0.25 gave 0.492, 0.35 gave 0.479; 319 second passes on the 400 images.
    trigger_height: float = 0.15
    # Tuned with trigger_height (10 parts: more than half the 18 slots).
    trigger_parts: int = 10
    # APl on A: 0.35 gave 0.494 with APm 0.3337, 0.5 gave 0.468.
    large_height: float = 0.2
    # APl on A: 1.0 gave 0.488, 2 and 3 gave 0.491, always replacing 0.490.
    score_gain: float = 1.4
    # APl on A: 0.2 gave 0.486.
    cover_distance: float = 0.1
    # Half of a person's found keypoints (not swept).
    cover_share: float = 0.5
    # AP / APl on A: 0.03 (the decoder's) 0.3811 / 0.4939, 0.08 0.3835 / 0.5021, 0.1
    # 0.3843 / 0.5040, 0.12 0.3834 / 0.5003 (fewer peaks: fewer limb candidates to score).
    second_peak_threshold: float = 0.1
    # The same AP, APm and APl on A and B with and without; saves the joining's work.
    second_join_fragments: bool = False
    # APl on A, mirrored also where only fragments were found: 0.3 0.5180, 0.35 0.5189
    # (200 of 400 mirrored, network work 1.32-1.35x), 0.4 0.5167; never mirrored 0.5040.
    flip_height: float = 0.35

    def __post_init__(self) -> None:
        """Refuse values out of range.

        Raises:
            ValueError: naming the first field out of its range (NaN included).
        """
        ranges = {"trigger_height": (0.0, 10.0), "large_height": (0.0, 10.0),
                  "score_gain": (0.0, 1e3), "cover_distance": (0.0, 10.0),
                  "cover_share": (0.0, 1.0), "second_peak_threshold": (0.0, 1.0),
                  "flip_height": (0.0, 10.0)}
        for name, (low, high) in ranges.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                    or not low <= value <= high:
                raise ValueError(f"ScaleParams.{name} must be a number in [{low}, {high}], "
                                 f"got {value!r}")
        if not isinstance(self.second_join_fragments, (bool, np.bool_)):
            raise ValueError(f"ScaleParams.second_join_fragments must be a bool, "
                             f"got {self.second_join_fragments!r}")
        value = self.trigger_parts
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                or not 0 <= value <= NUM_PARTS:
            raise ValueError(f"ScaleParams.trigger_parts must be an integer in [0, {NUM_PARTS}], "
                             f"got {value!r}")


def row_points(coords: Coords, skeletons: np.ndarray) -> np.ndarray:
    """Keypoint positions of each skeleton row, in cells.

    Args:
        coords: ``{part name: [(x, y, score, id)]}``.
        skeletons: (K, 20) rows of 18 peak ids (-1 empty), score, parts.

    Returns:
        (K, 18, 2) float64 positions, NaN in empty slots.

    Raises:
        ValueError: a row names an id that is not in ``coords``.
    """
    xy = _id_table(coords)
    rows = np.asarray(skeletons, np.float64).reshape(-1, ROW_WIDTH)[:, :NUM_PARTS].astype(np.intp)
    if rows.size and rows.max() >= len(xy):
        raise ValueError(f"skeleton part id {int(rows.max())} is not in coords")
    out = np.where((rows >= 0)[..., None], xy[np.maximum(rows, 0)], np.nan)
    return out


def person_heights(points: np.ndarray) -> np.ndarray:
    """(K,) height in cells of each person's keypoint box (0 for fewer than two keypoints)."""
    ys = points[..., 1]
    found = np.isfinite(ys)
    high = np.where(found, ys, -np.inf).max(1, initial=-np.inf)
    low = np.where(found, ys, np.inf).min(1, initial=np.inf)
    return np.where(found.sum(1) >= 2, high - low, 0.0)


def wants_small_pass(coords: Coords, skeletons: np.ndarray, map_height: int,
                     params: ScaleParams = ScaleParams()) -> bool:
    """Whether the full-size pass suggests people too large for it.

    Args:
        coords: the full-size pass's coords (cells).
        skeletons: its (K, 20) rows, before completion.
        map_height: height of its maps, in cells.
        params: the thresholds.

    Returns:
        True when a person's keypoint box is at least
        ``params.trigger_height * map_height`` tall, or when people were
        found but none has ``params.trigger_parts`` parts (only fragments);
        False when nobody was found.

    Raises:
        ValueError: ``map_height`` not a positive integer.
    """
    if isinstance(map_height, bool) or not isinstance(map_height, (int, np.integer)) \
            or map_height < 1:
        raise ValueError(f"map_height must be a positive integer, got {map_height!r}")
    rows = np.asarray(skeletons, np.float64).reshape(-1, ROW_WIDTH)
    return _plan(row_points(coords, rows), rows, map_height, params)[0]


def _plan(points: np.ndarray, rows: np.ndarray, map_height: int,
          params: ScaleParams) -> Tuple[bool, bool]:
    """``(run, flip)`` for the rows' (K, 18, 2) keypoints: whether the half-size pass runs
    (:func:`wants_small_pass`) and whether its mirrored image runs too (only fragments, or
    the tallest person at least ``flip_height`` of the map height)."""
    if not len(rows):
        return False, False  # nobody at all: dev AP the same, and an empty frame costs one pass
    if (rows[:, NUM_PARTS + 1] < params.trigger_parts).all():
        return True, True
    tallest = person_heights(points).max()
    run = bool(tallest >= params.trigger_height * map_height)
    return run, run and bool(tallest >= params.flip_height * map_height)


def choose_people(full_points: np.ndarray, full_scores: np.ndarray, small_points: np.ndarray,
                  small_scores: np.ndarray, map_height: int,
                  params: ScaleParams = ScaleParams()) -> Tuple[np.ndarray, np.ndarray]:
    """Which people of each pass to keep.

    Args:
        full_points: (K, 18, 2) full-size people's keypoints (cells, NaN empty).
        full_scores: (K,) their scores.
        small_points: (M, 18, 2) half-size people's keypoints, already in
            full-size cells.
        small_scores: (M,) their scores, already times ``params.score_gain``.
        map_height: height of the full-size maps, in cells.
        params: the thresholds.

    Returns:
        ``(keep_full (K,), keep_small (M,))`` bool masks. A half-size person
        is kept when it is large and either covers no kept full-size person
        or scores above every full-size person it covers (those are
        dropped); large half-size people are taken strongest first.
    """
    keep_full = np.ones(len(full_points), bool)
    keep_small = np.zeros(len(small_points), bool)
    if not len(small_points):
        return keep_full, keep_small
    heights = person_heights(small_points)
    cover = covers(small_points, full_points, params)          # (M, K)
    for m in np.argsort(-small_scores, kind="stable"):
        if heights[m] < params.large_height * map_height:
            continue
        covered = cover[m] & keep_full
        if covered.any() and full_scores[covered].max() >= small_scores[m]:
            continue
        if (cover[m] & ~keep_full).any() and not covered.any():
            # Its full-size people went to a stronger half-size person already.
            continue
        keep_full &= ~covered
        keep_small[m] = True
    return keep_full, keep_small


def covers(big: np.ndarray, people: np.ndarray, params: ScaleParams = ScaleParams()) -> np.ndarray:
    """(M, K) whether each of ``big`` (M, 18, 2) covers each of ``people`` (K, 18, 2).

    ``b`` covers ``p`` when at least ``params.cover_share`` of ``p``'s found
    keypoints (and at least one) lie within ``params.cover_distance`` times
    ``b``'s box diagonal of ``b``'s keypoint of the same slot or of its
    left/right mirror (one of the two often has a person's legs crossed).
    """
    found_big, found = np.isfinite(big[..., 0]), np.isfinite(people[..., 0])
    low = np.where(found_big[..., None], big, np.inf).min(1)
    high = np.where(found_big[..., None], big, -np.inf).max(1)
    diag = np.hypot(*np.where(np.isfinite(high - low), high - low, 0.0).T)      # (M,)
    dist = np.fmin(np.linalg.norm(big[:, None] - people[None], axis=3),          # (M, K, 18)
                   np.linalg.norm(big[:, None, MIRROR_SLOTS] - people[None], axis=3))
    close = np.nan_to_num(dist, nan=np.inf) <= params.cover_distance * diag[:, None, None]
    count = found.sum(1)
    return (close.sum(2) >= np.maximum(1, params.cover_share * count)[None]) & (count > 0)[None]


def to_full_grid(coords: Coords, skeletons: np.ndarray, factors: Tuple[float, float],
                 id_offset: int) -> Tuple[Coords, np.ndarray]:
    """A pass's people moved onto the full-size grid, their peak ids shifted.

    Args:
        coords: the pass's coords (its own cells).
        skeletons: its (K, 20) rows.
        factors: (x, y) size of its input relative to the full-size input.
        id_offset: added to every peak id (so they do not clash with the
            full-size pass's).

    Returns:
        ``(coords, skeletons)`` with positions in full-size cells.
    """
    fx, fy = factors
    moved = {name: [(x / fx + (1 / fx - 1) / 2, y / fy + (1 / fy - 1) / 2, s, int(i) + id_offset)
                    for x, y, s, i in peaks] for name, peaks in coords.items()}
    rows = np.asarray(skeletons, np.float64).reshape(-1, ROW_WIDTH).copy()
    ids = rows[:, :NUM_PARTS]
    rows[:, :NUM_PARTS] = np.where(ids >= 0, ids + id_offset, -1)
    return moved, rows


def decode_passes(heatmaps: np.ndarray, pafs: np.ndarray, small_pass: SmallPass,
                  params: Optional[DecoderParams] = None,
                  scale_params: ScaleParams = ScaleParams(),
                  config: Optional[PoseConfig] = None,
                  timings: Optional[Dict[str, float]] = None) -> Tuple[Coords, np.ndarray]:
    """The best decoder on the full-size maps, and on a half-size pass where it pays.

    Args:
        heatmaps: (H, W, 19) full-size heatmaps.
        pafs: (H, W, 38) full-size PAFs.
        small_pass: called (at most once, only when :func:`wants_small_pass`)
            for the half-size pass, with ``flip`` (whether the mirrored
            half-size image should run too: a person at least
            ``scale_params.flip_height`` of the map height, or only
            fragments): returns its
            ``(heatmaps (h, w, 19), pafs (h, w, 38), (fx, fy))``, the last
            the size of its maps' grid relative to the full-size one; or None
            when it cannot run (an image too small to halve).
        params: the best decoder's parameters (``complete_people`` is applied
            to the chosen people, each on its own pass's maps); the second
            maps are decoded with ``scale_params.second_peak_threshold`` and
            ``second_join_fragments``.
        scale_params: the choice's thresholds.
        config: pose configuration (None: COCO-18).
        timings: if given, receives the decoder's stage seconds (both passes
            summed), ``"small_pass"``: 1.0 when the half-size pass ran, else 0.0,
            and ``"small_flip"``: 1.0 when it was asked to run mirrored too.

    Returns:
        ``(coords, skeletons)`` on the full-size grid, rows sorted by score;
        half-size people's scores are multiplied by ``scale_params.score_gain``.

    Raises:
        ValueError: malformed maps, or ``small_pass`` returning malformed ones.
    """
    params = params or DecoderParams()
    config = config or default_config()
    bare, second_params = _pass_params(params, scale_params)
    full_times: Dict[str, float] = {}
    full = _decode_bare(heatmaps, pafs, bare, config, full_times)
    full_points = _points(full.xy, full.rows)
    map_height = heatmaps.shape[0]
    run_small, flip = _plan(full_points, full.rows, map_height, scale_params)
    second = small_pass(flip) if run_small else None
    run_small = second is not None
    if run_small:
        small_hm, small_pf, factors = second
        small_times: Dict[str, float] = {}
        small = _decode_bare(small_hm, small_pf, second_params, config, small_times)
        full_times = {k: v + small_times.get(k, 0.0) for k, v in full_times.items()}
        clock = time.perf_counter()
        keep_full, keep_small = choose_people(
            full_points, full.rows[:, NUM_PARTS], _moved(_points(small.xy, small.rows), factors),
            small.rows[:, NUM_PARTS] * scale_params.score_gain, map_height, scale_params)
        full = full._replace(rows=full.rows[keep_full])
        small = small._replace(rows=small.rows[keep_small])
        if params.complete_people:
            small = _completed(small, small_hm, small_pf, config)
    else:
        clock = time.perf_counter()
    if params.complete_people:
        full = _completed(full, heatmaps, pafs, config)
    if run_small:
        offset = int(full.ids.max(initial=-1)) + 1
        rows = small.rows.copy()
        rows[:, :NUM_PARTS] = np.where(rows[:, :NUM_PARTS] >= 0, rows[:, :NUM_PARTS] + offset, -1)
        rows[:, NUM_PARTS] *= scale_params.score_gain
        full = _Pass(np.concatenate([full.xy, _moved(small.xy, factors)]),
                     np.concatenate([full.score, small.score]),
                     np.concatenate([full.part, small.part]),
                     np.concatenate([full.ids, small.ids + offset]),
                     np.concatenate([full.rows, rows]))
    coords = _coords(full, config)
    rows = full.rows
    full_times["grouping"] = full_times.get("grouping", 0.0) + time.perf_counter() - clock
    if timings is not None:
        timings.update(full_times, small_pass=float(run_small),
                       small_flip=float(run_small and flip))
    return coords, rows[np.argsort(-rows[:, NUM_PARTS], kind="stable")]


@lru_cache(maxsize=16)
def _pass_params(params: DecoderParams, scale_params: ScaleParams
                 ) -> Tuple[DecoderParams, DecoderParams]:
    """The decoder's parameters of the full-size and the second maps (made once per pair:
    each is validated when made): ``params`` without completion, and with ``scale_params``'."""
    bare = dataclasses.replace(params, complete_people=False)
    return bare, dataclasses.replace(bare, peak_threshold=scale_params.second_peak_threshold,
                                     join_fragments=scale_params.second_join_fragments)


class _Pass(NamedTuple):
    """One pass's peaks (guesses appended by completion) and people."""

    xy: np.ndarray       # (N, 2) positions in the pass's cells
    score: np.ndarray    # (N,) heatmap values
    part: np.ndarray     # (N,) slots
    ids: np.ndarray      # (N,) peak ids (the row entries)
    rows: np.ndarray     # (K, 20) skeleton rows


def _decode_bare(heatmaps: np.ndarray, pafs: np.ndarray, params: DecoderParams,
                 config: PoseConfig, timings: Dict[str, float]) -> _Pass:
    """:func:`posekit.decode.decoder.decode` without completion, its peaks kept as arrays.

    Raises:
        ValueError: malformed maps.
    """
    _, _, peaks, rows, clock = detect(heatmaps, pafs, params, config, timings)
    lap(timings, "grouping", clock)
    return _Pass(peaks.xy, peaks.score, peaks.part, np.arange(len(peaks.xy)),
                 np.asarray(rows, np.float64).reshape(-1, ROW_WIDTH))


def _points(xy: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """(K, 18, 2) positions of the rows' peaks (ids index ``xy``), NaN in empty slots."""
    ids = rows[:, :NUM_PARTS].astype(np.intp)
    if not len(xy):
        return np.full(ids.shape + (2,), np.nan)
    return np.where((ids >= 0)[..., None], xy[np.maximum(ids, 0)], np.nan)


def _moved(xy: np.ndarray, factors: Tuple[float, float]) -> np.ndarray:
    """Positions (..., 2) of a pass whose grid is ``factors`` the full-size one, in full-size
    cells (see :func:`to_full_grid`)."""
    fx, fy = factors
    return xy / np.array([fx, fy]) + np.array([(1 / fx - 1) / 2, (1 / fy - 1) / 2])


def _completed(one: _Pass, heatmaps: np.ndarray, pafs: np.ndarray,
               config: PoseConfig) -> _Pass:
    """``one`` with every empty slot of its rows guessed (``posekit.decode.completion``);
    the guesses are appended slot by slot, row by row (their order in ``coords``)."""
    if not len(one.rows):
        return one
    base = len(one.xy)
    slots, new_xy, new_value = complete(one.rows[:, :NUM_PARTS].astype(np.int64), one.xy,
                                        heatmaps, pafs, config)
    guessed = (slots >= base).T                       # (18, K): slot-major, then row order
    new = slots.T[guessed] - base
    rows = one.rows.copy()
    rows[:, :NUM_PARTS] = slots
    rows[:, NUM_PARTS + 1] = (slots >= 0).sum(1)
    return _Pass(np.concatenate([one.xy, new_xy[new]]),
                 np.concatenate([one.score, new_value[new]]),
                 np.concatenate([one.part, np.nonzero(guessed)[0]]),
                 np.concatenate([one.ids, new + base]), rows)


def _coords(one: _Pass, config: PoseConfig) -> Coords:
    """``{part name: [(x, y, score, id)]}`` of a pass's peaks, in their order."""
    order = np.argsort(one.part, kind="stable")
    bounds = np.searchsorted(one.part[order], np.arange(NUM_PARTS + 1))
    entries = list(zip(one.xy[order, 0].tolist(), one.xy[order, 1].tolist(),
                       one.score[order].tolist(), one.ids[order].tolist()))
    return {meta.body_part.name: entries[bounds[meta.slot_idx]:bounds[meta.slot_idx + 1]]
            for meta in config.body_parts.values()}


def _id_table(coords: Coords) -> np.ndarray:
    """(N, 2) position of each peak id (ids 0..N-1; NaN for an id not present)."""
    entries = [p for peaks in coords.values() for p in peaks]
    if not entries:
        return np.zeros((0, 2))
    ids = np.array([int(p[3]) for p in entries], np.intp)
    table = np.full((ids.max() + 1, 2), np.nan)
    table[ids] = np.array([(p[0], p[1]) for p in entries], np.float64)
    return table
