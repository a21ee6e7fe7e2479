"""The project's best decoder: heatmaps and PAFs to people, beyond the lab path.

Same inputs and outputs as the lab pipeline (``coords`` with sub-cell float
positions, and (K, 20) skeleton rows), so drawing and export serve both. What
it does differently, each step measured on the COCO dev set (see README):

1. Peaks: 8-neighbour non-maximum suppression (optionally on a smoothed map;
   off by default, it lost AP), then each peak refined to sub-cell precision
   (``posekit.decode.refine``: DARK's Taylor expansion of the log heatmap).
2. Limbs: every candidate pair of every limb type in one pass; the PAF is
   sampled with bilinear interpolation at sub-cell points; a limb longer than
   half the map height is penalised (CMU's distance prior); a limb needs a
   high fraction of supporting samples; one-to-one matching per limb type.
3. Assembly: all limbs of all types sorted by score together, so limb order
   cannot fool it; two partial people are merged only when they share no
   slot (unless they are fragments of one person, ``posekit.decode.fragments``);
   the redundant ear-shoulder limbs, and limbs that pass only relaxed
   thresholds, only fill empty slots of existing people.
4. Scoring: a person's score rewards confident, complete, larger people (it
   ranks detections for AP), and weak people are pruned.
5. Completion: every slot a person lacks gets a guessed position
   (``posekit.decode.completion``), added to ``coords`` as a new id whose score
   is the heatmap value there (often near 0).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from posekit.decode.assembly import assemble
from posekit.decode.completion import complete
from posekit.lab.checks import check_maps, check_same_size, lap
from posekit.lab.config import NUM_PARTS, PoseConfig
from posekit.decode.params import PERSON_SCORES, DecoderParams
from posekit.decode.types import Coords, Peaks, default_config
from posekit.lab.handout import kit_connections
from posekit.lab.lab_decoders import decode_handout, decode_lab
from posekit.decode.limbs import find_limbs, score_limbs
from posekit.lab.limits import strongest_per_part
from posekit.decode.refine import REFINERS

#: Re-exported (tests, benchmarks and older imports use ``posekit.decode.decoder``).
__all__ = ["DecoderParams", "PERSON_SCORES", "Peaks", "assemble", "decode", "decode_handout",
           "decode_lab", "find_limbs", "find_peaks", "kit_connections", "score_limbs",
           "smooth"]



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


def find_peaks(heatmaps: np.ndarray, params: DecoderParams, config: PoseConfig) -> Peaks:
    """Peaks of every part with sub-cell positions.

    A peak is a cell above ``params.peak_threshold`` on the (optionally
    smoothed) heatmap that is the maximum of its 8-neighbourhood (ties go to
    the bottom-right cell of a plateau). Its position is refined by
    ``posekit.decode.refine.REFINERS[params.refinement]`` on the heatmap (smoothed
    by ``params.refine_sigma`` when positive).

    Args:
        heatmaps: (H, W, >=18) float32 heatmaps.
        params: decoder thresholds.
        config: pose configuration.

    Returns:
        The :class:`Peaks`, ids in slot order, row-major within a part; at most
        ``posekit.lab.limits.MAX_PEAKS_PER_PART`` per part (the strongest).
    """
    slots = [meta.slot_idx for meta in config.body_parts.values()]
    channels = [meta.heatmap_idx for meta in config.body_parts.values()]
    first = channels[0]
    if channels == list(range(first, first + len(channels))):
        raw = heatmaps[:, :, first:first + len(channels)]      # a view: the same values, no copy
    else:
        raw = heatmaps[:, :, channels]
    sm = smooth(raw, params.smooth_sigma)
    h, w, c = sm.shape
    pad = np.full((h + 2, w + 2, c), -np.inf, np.float32)
    pad[1:-1, 1:-1] = sm
    # Candidates and their neighbours by flat index into the padded maps (one
    # gather per neighbour: cheaper than indexing with three arrays).
    flat = pad.reshape(-1)
    index = np.flatnonzero(pad > params.peak_threshold)
    centre = flat[index]
    row = (w + 2) * c
    keep = np.ones(len(index), bool)
    for step in (-row - c, -row, -row + c, -c):                # before in raster order: >=
        keep &= centre >= flat[index + step]
    for step in (c, row - c, row, row + c):                    # after: strictly >
        keep &= centre > flat[index + step]
    index, centre = index[keep], centre[keep]
    cell, ch = np.divmod(index, c)
    ys, xs = np.divmod(cell, w + 2)
    ys, xs = ys - 1, xs - 1
    kept = strongest_per_part(ch, centre)
    ys, xs, ch, centre = ys[kept], xs[kept], ch[kept], centre[kept]
    order = np.lexsort((xs, ys, ch))
    ys, xs, ch, centre = ys[order], xs[order], ch[order], centre[order]
    xy = np.stack([xs, ys], axis=1).astype(np.float64)
    if params.refine_peaks and len(xs):
        fine = smooth(raw, params.refine_sigma) if params.refine_sigma > 0 else sm
        xy += REFINERS[params.refinement](fine, ys, xs, ch)
    return Peaks(xy, raw[ys, xs, ch].astype(np.float64), np.asarray(slots, np.int64)[ch])


def detect(heatmaps: np.ndarray, pafs: np.ndarray, params: DecoderParams, config: PoseConfig,
           timings: Optional[Dict[str, float]] = None,
           features_out: Optional[List[np.ndarray]] = None
           ) -> Tuple[np.ndarray, np.ndarray, Peaks, np.ndarray, float]:
    """The maps checked, their peaks and limbs, and the people assembled (no completion):
    the steps :func:`decode` and the scale-aware passes (``posekit.decode.scales``) share.

    Args:
        heatmaps: (H, W, 19) float32 heatmaps (>= 18 channels).
        pafs: (H, W, 38) float32 PAFs, same H and W.
        params: thresholds.
        config: pose configuration.
        timings: if given, receives the seconds of ``"peaks"`` and ``"connections"``.
        features_out: if given, receives the people's rescoring features (:func:`assemble`).

    Returns:
        ``(heatmaps, pafs, peaks, rows, clock)``: the checked maps, the peaks, the (K, 20)
        people rows and the clock at the start of the grouping (for its ``lap``).

    Raises:
        ValueError: malformed maps, or maps of different spatial sizes.
    """
    hm = check_maps("heatmaps", heatmaps, NUM_PARTS)
    pf = check_maps("pafs", pafs, 2 * len(config.connection_types))
    check_same_size(hm, pf)
    clock = time.perf_counter()
    peaks = find_peaks(hm, params, config)
    clock = lap(timings, "peaks", clock)
    strong, weak = find_limbs(pf, peaks, params, config)
    clock = lap(timings, "connections", clock)
    rows = assemble(strong, peaks.score, peaks.xy, config, params, weak, features_out, pf)
    return hm, pf, peaks, rows, clock


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
    config = config or default_config()
    hm, pf, peaks, skeletons, clock = detect(heatmaps, pafs, params, config, timings,
                                             features_out)
    coords = peaks.to_coords(config)
    if params.complete_people and len(skeletons):
        skeletons = _complete(skeletons, coords, peaks, hm, pf, config)
    lap(timings, "grouping", clock)
    return coords, skeletons


def _complete(skeletons: np.ndarray, coords: Coords, peaks: Peaks, heatmaps: np.ndarray,
              pafs: np.ndarray, config: PoseConfig) -> np.ndarray:
    """Rows with every empty slot filled by :func:`posekit.decode.completion.complete`;
    the guesses are appended to ``coords`` (in place) under new ids."""
    slots, new_xy, new_value = complete(skeletons[:, :NUM_PARTS].astype(np.int64), peaks.xy,
                                        heatmaps, pafs, config)
    base = len(peaks.score)
    for meta in config.body_parts.values():
        ids = slots[:, meta.slot_idx]
        ids = ids[ids >= base]
        xy, value = new_xy[ids - base], new_value[ids - base]
        coords[meta.body_part.name].extend(zip(xy[:, 0].tolist(), xy[:, 1].tolist(),
                                               value.tolist(), ids.tolist()))
    out = skeletons.copy()
    out[:, :NUM_PARTS] = slots
    out[:, NUM_PARTS + 1] = (slots >= 0).sum(1)
    return out
