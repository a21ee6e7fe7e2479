"""Stage 2: score candidate limbs with the PAF line integral and match them one-to-one.

For every limb type, every (part A candidate, part B candidate) pair is scored
at once with numpy: the PAF is sampled at ``mid_num`` evenly spaced points of
the segment A->B and projected on its unit direction (eq. 11 of Cao et al.,
2017). A pair is kept when enough samples support it and its mean is
positive; kept pairs are then matched greedily, highest score first, so that a
part is used at most once per limb type (eq. 13-15 relaxed as in the paper).
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np

from .checks import check_maps
from .config import PoseConfig

#: Columns of a connection row.
CONNECTION_COLUMNS = ("id_a", "id_b", "score_a", "score_b", "limb_score")

# Minimum PAF projection for a sample to count as support: the lab handout's
# and CMU OpenPose demo's thre2 = 0.05.
DEFAULT_MIN_PAF_SCORE = 0.05
# Samples along a candidate limb: the handout's and CMU demo's mid_num = 10.
DEFAULT_MID_NUM = 10
# Fraction of samples that must exceed min_paf_score (strictly more than):
# the handout's 8 of 10, CMU's 0.8 * mid_num.
DEFAULT_MIN_SUPPORT_RATIO = 0.8


def peaks_as_array(coords: Dict[str, Sequence[Sequence[float]]], name: str) -> np.ndarray:
    """Return one part's candidates as a (K, 4) float64 array ``x, y, score, id``.

    Raises:
        ValueError: if the part is missing from ``coords`` or its entries are
            not 4-tuples of finite numbers.
    """
    if name not in coords:
        raise ValueError(f"coords has no entry for body part {name!r}")
    peaks = coords[name]
    if len(peaks) == 0:
        return np.zeros((0, 4))
    try:
        arr = np.asarray(peaks, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"coords[{name!r}] must be a list of (x, y, score, id)") from exc
    if arr.ndim != 2 or arr.shape[1] < 4:
        raise ValueError(
            f"coords[{name!r}] must be a list of (x, y, score, id), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"coords[{name!r}] contains NaN or infinite values")
    return arr[:, :4]


def sample_segments(a_xy: np.ndarray, b_xy: np.ndarray,
                    mid_num: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evenly spaced points on every segment from each A to each B.

    Args:
        a_xy: (Na, 2) start points (x, y).
        b_xy: (Nb, 2) end points (x, y).
        mid_num: number of samples per segment, endpoints included.

    Returns:
        ``points`` (Na, Nb, mid_num, 2), ``unit`` (Na, Nb, 2) unit directions
        (zero for coincident points) and ``length`` (Na, Nb).
    """
    vec = b_xy[None, :, :] - a_xy[:, None, :]
    length = np.sqrt((vec ** 2).sum(-1))
    unit = vec / np.where(length > 0, length, 1.0)[..., None]
    u = np.linspace(0.0, 1.0, mid_num)
    points = a_xy[:, None, None, :] + u[None, None, :, None] * vec[:, :, None, :]
    return points, unit, length


def line_integral(paf_x: np.ndarray, paf_y: np.ndarray, a_xy: np.ndarray,
                  b_xy: np.ndarray, mid_num: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PAF projections sampled at the nearest cell along every candidate segment.

    Args:
        paf_x: (H, W) x component of the limb's PAF.
        paf_y: (H, W) y component.
        a_xy: (Na, 2) candidate positions of part A, in cells.
        b_xy: (Nb, 2) candidate positions of part B, in cells.
        mid_num: samples per segment.

    Returns:
        ``projections`` (Na, Nb, mid_num), ``length`` (Na, Nb) in cells.
    """
    points, unit, length = sample_segments(a_xy, b_xy, mid_num)
    h, w = paf_x.shape
    xs = np.clip(np.rint(points[..., 0]).astype(np.intp), 0, w - 1)
    ys = np.clip(np.rint(points[..., 1]).astype(np.intp), 0, h - 1)
    proj = paf_x[ys, xs] * unit[:, :, None, 0] + paf_y[ys, xs] * unit[:, :, None, 1]
    return proj, length


def match_one_to_one(scores: np.ndarray, valid: np.ndarray) -> List[Tuple[int, int]]:
    """Greedy bipartite matching: highest score first, each row and column once.

    Args:
        scores: (Na, Nb) pair scores.
        valid: (Na, Nb) bool, pairs allowed to match.

    Returns:
        Matched ``(i, j)`` index pairs in descending score order.
    """
    ii, jj = np.nonzero(valid)
    order = np.argsort(-scores[ii, jj], kind="stable")
    used_a = np.zeros(scores.shape[0], bool)
    used_b = np.zeros(scores.shape[1], bool)
    matches = []
    for i, j in zip(ii[order], jj[order]):
        if not used_a[i] and not used_b[j]:
            used_a[i] = used_b[j] = True
            matches.append((int(i), int(j)))
            if len(matches) == min(scores.shape):
                break
    return matches


def get_connections(config: PoseConfig, coords: Dict[str, Sequence[Sequence[float]]],
                    pafs: np.ndarray, threshold: float = DEFAULT_MIN_PAF_SCORE,
                    mid_num: int = DEFAULT_MID_NUM,
                    min_support_ratio: float = DEFAULT_MIN_SUPPORT_RATIO) -> List[np.ndarray]:
    """Find the valid limbs of every type.

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
            ``coords`` lacks a part or is malformed, or if ``mid_num`` < 2.
    """
    maps = check_maps("pafs", pafs, max(max(c.paf_dx_idx, c.paf_dy_idx)
                                        for c in config.connection_types) + 1)
    if int(mid_num) < 2:
        raise ValueError(f"mid_num must be at least 2, got {mid_num}")
    peaks = {meta.body_part.name: peaks_as_array(coords, meta.body_part.name)
             for meta in config.body_parts.values()}
    result = []
    for limb in config.connection_types:
        cand_a = peaks[limb.from_body_part.name]
        cand_b = peaks[limb.to_body_part.name]
        if len(cand_a) == 0 or len(cand_b) == 0:
            result.append(np.zeros((0, 5)))
            continue
        proj, length = line_integral(maps[:, :, limb.paf_dx_idx], maps[:, :, limb.paf_dy_idx],
                                     cand_a[:, :2], cand_b[:, :2], int(mid_num))
        limb_score = proj.mean(-1)
        support = (proj > threshold).sum(-1)
        valid = (length > 0) & (support > min_support_ratio * mid_num) & (limb_score > 0)
        matches = match_one_to_one(limb_score, valid)
        rows = np.array([[cand_a[i, 3], cand_b[j, 3], cand_a[i, 2], cand_b[j, 2],
                          limb_score[i, j]] for i, j in matches]).reshape(-1, 5)
        result.append(rows)
    return result
