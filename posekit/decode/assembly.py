"""The best decoder's grouping: limbs of all types, strongest first, into scored people."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np

from posekit.lab.config import NUM_PARTS, ROW_WIDTH, PoseConfig
from posekit.decode.params import PERSON_SCORES, DecoderParams
from posekit.decode.fragments import join_fragments
from posekit.decode.limbs import score_limbs
from posekit.decode.plausible import cut_limbs
from posekit.decode.rescore import NUM_FEATURES, limb_matrix, person_features


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
            fragments of one person are joined (``posekit.decode.fragments``).
        features_out: if given, receives one (K, F) array: the
            ``posekit.decode.rescore`` features of the returned rows, same order.

    Returns:
        (K, 20) skeleton rows sorted by score, descending. With
        ``params.person_score == "learned"`` the score is the predicted OKS
        (``posekit.decode.rescore``), with ``"combined"`` (the default) the
        heuristic score times it; with ``"heuristic"`` it is the
        sum of the part and limb scores, times the mean part score, times the
        square root of the diagonal of the person's bounding box in cells: on
        the dev set confident and bigger people are found more accurately, and
        ranking them higher raised AP (0.308 -> 0.327).
    """
    slot_a, slot_b = (arr.tolist() for arr in config.limb_arrays[:2])
    redundant = np.array([l.redundant for l in config.connection_types], bool)
    # Strong limbs of all types together by score (the redundant ones among
    # them may only attach), then the weak ones, which only attach too; ties by
    # type, then ids.
    table = np.asarray(limbs, np.float64).reshape(-1, 4)
    weak = len(table)
    if weak_limbs is not None:
        table = np.concatenate([table, np.asarray(weak_limbs, np.float64).reshape(-1, 4)])
    is_weak = np.arange(len(table)) >= weak
    order = np.lexsort((table[:, 2], table[:, 1], table[:, 0], -table[:, 3], is_weak))
    table, is_weak = table[order], is_weak[order]
    types = table[:, 0].astype(np.intp)
    rows = zip(types.tolist(), table[:, 1].astype(np.intp).tolist(),
               table[:, 2].astype(np.intp).tolist(), table[:, 3].tolist(),
               (is_weak | redundant[types]).tolist())
    # A person is a dict slot -> peak id (plain Python: thousands of tiny
    # updates in crowds, where numpy's per-call cost would dominate).
    people: List[Dict[int, int]] = []
    limb_sum: List[float] = []
    limbs_of: List[Dict[int, float]] = []      # per person: limb type -> its score
    owner: Dict[int, int] = {}
    for k, a, b, score, attach_only in rows:
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
    if pafs is not None and params.checks_limbs:
        people, changed = cut_limbs(people, part_xy, pafs, config, params.limb_rule,
                                    params.limb_samples, params.min_parts)
        for k in np.flatnonzero(changed):
            limbs_of[k] = _person_limbs(people[k], part_xy, pafs, config, params)
            limb_sum[k] = sum(limbs_of[k].values())
    out, kept_limbs = [], []
    for person, lsum, limbs in zip(people, limb_sum, limbs_of):
        if len(person) < max(params.min_parts, 1):
            continue
        ids = np.fromiter(person.values(), np.intp, len(person))
        values = part_scores[ids]
        total = values.sum()
        mean_part = total / len(ids)                   # values.mean(), without its overhead
        if mean_part < params.min_mean_score:
            continue
        xy = part_xy[ids]
        span = xy.max(0) - xy.min(0)
        diag = float(np.hypot(span[0], span[1]))
        score = (total + lsum) * mean_part * np.sqrt(max(diag, 1.0))
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
    """People after :func:`posekit.decode.fragments.join_fragments`; a joined
    person's limbs are scored again (every limb type whose two slots it holds
    and whose score is positive)."""
    dx_of, dy_of = config.limb_arrays[2:]

    def score_pairs(a_xy, b_xy, types):
        score, strong, _ = score_limbs(pafs, a_xy, b_xy, dx_of[types], dy_of[types], params)
        return score, strong

    out_people, out_sum, out_limbs = [], [], []
    for person, sources in join_fragments(people, part_scores, part_xy, score_pairs, config):
        if len(sources) == 1:
            k = sources[0]
            out_people.append(person), out_sum.append(limb_sum[k]), out_limbs.append(limbs_of[k])
            continue
        limbs = _person_limbs(person, part_xy, pafs, config, params)
        out_people.append(person), out_sum.append(sum(limbs.values())), out_limbs.append(limbs)
    return out_people, out_sum, out_limbs


def _person_limbs(person: Dict[int, int], part_xy: np.ndarray, pafs: np.ndarray,
                  config: PoseConfig, params: DecoderParams) -> Dict[int, float]:
    """Limb type -> score of every limb type whose two slots ``person`` holds (positive scores)."""
    dx_of, dy_of = config.limb_arrays[2:]
    slot_a, slot_b = config.limb_arrays[:2]
    types = np.array([k for k in range(len(slot_a))
                      if slot_a[k] in person and slot_b[k] in person], np.intp)
    if not len(types):
        return {}
    a = np.array([person[slot_a[k]] for k in types], np.intp)
    b = np.array([person[slot_b[k]] for k in types], np.intp)
    score, _, _ = score_limbs(pafs, part_xy[a], part_xy[b], dx_of[types], dy_of[types], params)
    return {int(k): float(s) for k, s in zip(types, score) if s > 0}
