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
(:func:`wants_small_pass`). The second maps may lie on another grid (a pass
at scale ``s``, whose cell ``c`` is centred on original pixel
``(8c + 4) / s - 0.5``, ``posekit.decode.multiscale``): their people are
moved to cell ``c / s + (1 / s - 1) / 2`` of the full-size grid.
Measured on the COCO dev set: ``docs/records/accuracy_scales.md``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from posekit.decode.completion import complete
from posekit.decode.decoder import decode
from posekit.decode.params import DecoderParams
from posekit.decode.types import Coords
from posekit.decode.multiscale import mirror_name
from posekit.lab.config import (NUM_PARTS, ROW_WIDTH, BodyPart, PoseConfig,
                                get_default_configuration)

#: Scale of the cheap pass, relative to the full-size input (a quarter of the work).
SMALL_SCALE = 0.5
#: Each slot's left/right mirror (``left_knee`` <-> ``right_knee``; the others themselves).
MIRROR_SLOTS = np.array([BodyPart[mirror_name(BodyPart(s).name)].value for s in range(NUM_PARTS)])
#: The half-size pass, run on demand: ``() -> (heatmaps, pafs, (fx, fy))`` or None.
SmallPass = Callable[[], Optional[Tuple[np.ndarray, np.ndarray, Tuple[float, float]]]]


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

    def __post_init__(self) -> None:
        """Refuse values out of range.

        Raises:
            ValueError: naming the first field out of its range (NaN included).
        """
        ranges = {"trigger_height": (0.0, 10.0), "large_height": (0.0, 10.0),
                  "score_gain": (0.0, 1e3), "cover_distance": (0.0, 10.0),
                  "cover_share": (0.0, 1.0)}
        for name, (low, high) in ranges.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                    or not low <= value <= high:
                raise ValueError(f"ScaleParams.{name} must be a number in [{low}, {high}], "
                                 f"got {value!r}")
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
    if not len(rows):
        return False      # nobody at all: dev AP the same, and an empty frame costs one pass
    if (rows[:, NUM_PARTS + 1] < params.trigger_parts).all():
        return True
    return bool((person_heights(row_points(coords, rows)) >= params.trigger_height
                 * map_height).any())


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


def complete_rows(coords: Coords, skeletons: np.ndarray, heatmaps: np.ndarray,
                  pafs: np.ndarray, config: PoseConfig) -> Tuple[Coords, np.ndarray]:
    """Rows with every empty slot guessed (``posekit.decode.completion``); guesses join ``coords``.

    Args:
        coords: coords whose ids are 0..N-1 (a decoder's output, not yet completed).
        skeletons: (K, 20) rows.
        heatmaps: (H, W, 19) the maps the rows were decoded from.
        pafs: (H, W, 38).
        config: pose configuration.

    Returns:
        New ``(coords, skeletons)``; the part counts count the guesses.
    """
    if not len(skeletons):
        return coords, skeletons
    xy = _id_table(coords)
    base = len(xy)
    slots, new_xy, new_value = complete(skeletons[:, :NUM_PARTS].astype(np.int64), xy,
                                        heatmaps, pafs, config)
    out_coords = {name: list(peaks) for name, peaks in coords.items()}
    for meta in config.body_parts.values():
        ids = slots[:, meta.slot_idx]
        ids = ids[ids >= base]
        guess_xy, value = new_xy[ids - base], new_value[ids - base]
        out_coords[meta.body_part.name].extend(zip(guess_xy[:, 0].tolist(),
                                                   guess_xy[:, 1].tolist(), value.tolist(),
                                                   ids.tolist()))
    out = skeletons.copy()
    out[:, :NUM_PARTS] = slots
    out[:, NUM_PARTS + 1] = (slots >= 0).sum(1)
    return out_coords, out


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
            for the half-size pass: returns its ``(heatmaps (h, w, 19), pafs
            (h, w, 38), (fx, fy))``, the last the size of its maps' grid
            relative to the full-size one; or None when it cannot run (an
            image too small to halve).
        params: the best decoder's parameters (``complete_people`` is applied
            to the chosen people, each on its own pass's maps).
        scale_params: the choice's thresholds.
        config: pose configuration (None: COCO-18).
        timings: if given, receives the decoder's stage seconds (both passes
            summed) and ``"small_pass"``: 1.0 when the half-size pass ran, else 0.0.

    Returns:
        ``(coords, skeletons)`` on the full-size grid, rows sorted by score;
        half-size people's scores are multiplied by ``scale_params.score_gain``.

    Raises:
        ValueError: malformed maps, or ``small_pass`` returning malformed ones.
    """
    params = params or DecoderParams()
    config = config or get_default_configuration()
    bare = dataclasses.replace(params, complete_people=False)
    full_times: Dict[str, float] = {}
    full_coords, full_rows = decode(heatmaps, pafs, bare, config, full_times)
    run_small = wants_small_pass(full_coords, full_rows, heatmaps.shape[0], scale_params)
    small_rows = np.zeros((0, ROW_WIDTH))
    second = small_pass() if run_small else None
    run_small = second is not None
    if run_small:
        small_hm, small_pf, factors = second
        small_times: Dict[str, float] = {}
        small_coords, small_rows = decode(small_hm, small_pf, bare, config, small_times)
        full_times = {k: v + small_times.get(k, 0.0) for k, v in full_times.items()}
        clock = time.perf_counter()
        keep_full, keep_small = choose_people(
            row_points(full_coords, full_rows), full_rows[:, NUM_PARTS],
            row_points(*to_full_grid(small_coords, small_rows, factors, 0)),
            small_rows[:, NUM_PARTS] * scale_params.score_gain, heatmaps.shape[0], scale_params)
        full_rows, small_rows = full_rows[keep_full], small_rows[keep_small]
        if params.complete_people:
            small_coords, small_rows = complete_rows(small_coords, small_rows, small_hm,
                                                     small_pf, config)
    else:
        clock = time.perf_counter()
    if params.complete_people:
        full_coords, full_rows = complete_rows(full_coords, full_rows, heatmaps, pafs, config)
    if run_small:
        offset = max((int(p[3]) + 1 for peaks in full_coords.values() for p in peaks),
                     default=0)
        small_coords, small_rows = to_full_grid(small_coords, small_rows, factors, offset)
        small_rows[:, NUM_PARTS] *= scale_params.score_gain
        full_coords = {name: list(full_coords.get(name, ())) + small_coords.get(name, [])
                       for name in {**full_coords, **small_coords}}
    rows = np.concatenate([full_rows.reshape(-1, ROW_WIDTH), small_rows])
    full_times["grouping"] = full_times.get("grouping", 0.0) + time.perf_counter() - clock
    if timings is not None:
        timings.update(full_times, small_pass=float(run_small))
    return full_coords, rows[np.argsort(-rows[:, NUM_PARTS], kind="stable")]


def _id_table(coords: Coords) -> np.ndarray:
    """(N, 2) position of each peak id (ids 0..N-1; NaN for an id not present)."""
    entries = [p for peaks in coords.values() for p in peaks]
    if not entries:
        return np.zeros((0, 2))
    ids = np.array([int(p[3]) for p in entries], np.intp)
    table = np.full((ids.max() + 1, 2), np.nan)
    table[ids] = np.array([(p[0], p[1]) for p in entries], np.float64)
    return table
