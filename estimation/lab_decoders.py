"""The lab's own decoders: its stages in order (``lab``), and the handout's kit judging our merge.

Both take their thresholds as keywords (the lab's names and defaults) and
return ``coords`` and (K, 20) skeleton rows like ``posekit.decode.decoder.decode``;
:class:`LabParams` / :class:`HandoutParams` are the same thresholds as frozen,
validated parameters for the decoder registry (``posekit.decode.registry``).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from . import handout
from .checks import check_maps, check_same_size, lap
from .config import NUM_PARTS, PoseConfig, get_default_configuration
from .connections import get_connections
from .coordinates import get_coordinates
from .estimators import estimate
from .merge import merge

Coords = Dict[str, List[Tuple[float, float, float, int]]]


@dataclass(frozen=True)
class LabParams:
    """The lab pipeline's thresholds (keywords of :func:`decode_lab`), validated.

    Raises:
        ValueError: naming the first field out of its range.
    """

    # The lab's get_coordinates threshold (handout.md: 0.1).
    peak_threshold: float = 0.1
    # The lab's get_connections threshold (handout.md: 0.05).
    min_paf_score: float = 0.05
    # The lab's merge(min_num_body_parts=4).
    min_num_body_parts: int = 4
    # The lab's merge(min_score=0.4).
    min_score: float = 0.4

    def __post_init__(self) -> None:
        """Check every field's range (NaN and bools refused)."""
        for name, low, high in (("peak_threshold", 0.0, 1.0), ("min_paf_score", -1.0, 1.0),
                                ("min_score", 0.0, 1e6)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                    or not low <= value <= high:
                raise ValueError(f"{type(self).__name__}.{name} must be a number in "
                                 f"[{low}, {high}], got {value!r}")
        value = self.min_num_body_parts
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                or not 1 <= value <= NUM_PARTS:
            raise ValueError(f"{type(self).__name__}.min_num_body_parts must be an integer in "
                             f"[1, {NUM_PARTS}], got {value!r}")


@dataclass(frozen=True)
class HandoutParams(LabParams):
    """The handout kit's thresholds and its row score (keywords of :func:`decode_handout`)."""

    # The printed estimator's row score (a key of estimation.handout.ROW_SCORES).
    row_score: str = "printed"

    def __post_init__(self) -> None:
        """Check the thresholds and the row score's name."""
        super().__post_init__()
        if self.row_score not in handout.ROW_SCORES:
            raise ValueError(f"HandoutParams.row_score must be one of "
                             f"{', '.join(handout.ROW_SCORES)}, got {self.row_score!r}")


def lab_registered(heatmaps: np.ndarray, pafs: np.ndarray, params: LabParams,
                   config: Optional[PoseConfig] = None,
                   timings: Optional[Dict[str, float]] = None) -> Tuple[Coords, np.ndarray]:
    """:func:`decode_lab` behind the registry's protocol (typed parameters)."""
    return decode_lab(heatmaps, pafs, config, timings, **asdict(params))


def handout_registered(heatmaps: np.ndarray, pafs: np.ndarray, params: HandoutParams,
                       config: Optional[PoseConfig] = None,
                       timings: Optional[Dict[str, float]] = None) -> Tuple[Coords, np.ndarray]:
    """:func:`decode_handout` behind the registry's protocol (typed parameters)."""
    return decode_handout(heatmaps, pafs, config, timings, **asdict(params))


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
        ``coords`` and ``skeletons`` (K, 20), as ``posekit.decode.decoder.decode``.

    Raises:
        ValueError: malformed maps, or heatmaps and PAFs of different sizes.
    """
    config = config or get_default_configuration()
    check_same_size(heatmaps, pafs)
    clock = time.perf_counter()
    coords = get_coordinates(config, heatmaps, threshold=peak_threshold)
    clock = lap(timings, "peaks", clock)
    connections = get_connections(config, coords, pafs, threshold=min_paf_score)
    clock = lap(timings, "connections", clock)
    skeletons = estimate(config, connections, min_num_body_parts=min_num_body_parts,
                         min_score=min_score)
    lap(timings, "grouping", clock)
    return coords, skeletons


def decode_handout(heatmaps: np.ndarray, pafs: np.ndarray, config: Optional[PoseConfig] = None,
                   timings: Optional[Dict[str, float]] = None, peak_threshold: float = 0.1,
                   min_paf_score: float = 0.05, min_num_body_parts: int = 4,
                   min_score: float = 0.4,
                   merge_fn: Callable[..., np.ndarray] = merge,
                   row_score: str = "printed") -> Tuple[Coords, np.ndarray]:
    """Decode with the handout's kit as printed, and our ``merge.py``.

    The kit's ``>=`` peaks (threshold 0.1), its connections without one-to-one
    matching (best ``min(n_a, n_b)`` pairs per limb; :func:`estimation.handout.kit_connections`,
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
        ``coords`` and ``skeletons`` (K, 20), as ``posekit.decode.decoder.decode``.

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
    check_same_size(hm, pf)
    clock = time.perf_counter()
    coords = handout.get_coordinates_reference(config, hm, threshold=peak_threshold)
    clock = lap(timings, "peaks", clock)
    connections = handout.kit_connections(config, coords, pf, threshold=min_paf_score)
    clock = lap(timings, "connections", clock)
    skeletons = merge_fn(handout.estimate_rows_reference(config, connections, row_score),
                         min_num_body_parts, min_score)
    lap(timings, "grouping", clock)
    return coords, skeletons
