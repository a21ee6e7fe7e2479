"""The handout's algorithms as printed, loops and all: the lab kit's own stages.

This is what the EAI Lab3 kit does (``../shared/lab/handout.md``):
``coordinates.py`` compares each heatmap with four shifted copies, ``>=`` on
all sides; ``connections.py`` scores every candidate pair in a double loop
with per-sample Python indexing and keeps the best ``min(n_a, n_b)`` pairs
without enforcing one-to-one; ``estimators.py`` makes one subset row per
connection and hands them to ``merge``. One home for three users: the
``handout`` decoder (``posekit.decode.decoder.decode_handout``: these stages with
our ``merge.py``, i.e. how a student's merge is judged), the benchmarks (the
yardstick our own stages are timed against) and the tests (the replica of
the kit). The estimator's row score is the printed one, index ``[2]`` and all
(see :data:`ROW_SCORES`); the original CMU code's reading is the named
variant ``"cmu"``. Two plain merges serve as yardsticks: ``merge_reference`` (fuse
into the first person sharing an id; grouping time) and
``merge_greedy_reference`` (skip every conflicting row; grouping accuracy).
"""

from __future__ import annotations

import math
from typing import Callable, Dict, List, Sequence

import numpy as np

from .config import ROW_WIDTH, PoseConfig
from .connections import (candidate_pairs, check_inside, peaks_table, sample_projections,
                          strongest_candidates)
from .limits import PAIR_BLOCK, blocks


def get_coordinates_reference(config: PoseConfig, heatmaps: np.ndarray,
                              threshold: float = 0.1) -> Dict[str, list]:
    """The handout's peak search: per part, four shifted copies and ``>=`` on all sides.

    Every cell of a plateau is reported (the lab path reports one per plateau).

    Returns:
        ``{part name: [(x, y, score, id), ...]}``, ids running part by part.
    """
    all_peaks: Dict[str, list] = {}
    counter = 0
    for meta in config.body_parts.values():
        hmap = heatmaps[:, :, meta.heatmap_idx]
        shifted = []
        for rows, cols, src_rows, src_cols in (
                (slice(None), slice(1, None), slice(None), slice(None, -1)),   # from the left
                (slice(None), slice(None, -1), slice(None), slice(1, None)),   # from the right
                (slice(1, None), slice(None), slice(None, -1), slice(None)),   # from above
                (slice(None, -1), slice(None), slice(1, None), slice(None))):  # from below
            other = np.zeros(hmap.shape)
            other[rows, cols] = hmap[src_rows, src_cols]
            shifted.append(hmap >= other)
        binary = np.logical_and.reduce(shifted + [hmap > threshold])
        ys, xs = np.nonzero(binary)
        all_peaks[meta.body_part.name] = [
            (int(x), int(y), float(hmap[y, x]), counter + k)
            for k, (x, y) in enumerate(zip(xs, ys))]
        counter += len(xs)
    return all_peaks


def get_connections_reference(config: PoseConfig, coords: Dict[str, Sequence], pafs: np.ndarray,
                              threshold: float = 0.05, mid_num: int = 10,
                              minimum_mid_num: int = 8) -> List[np.ndarray]:
    """The handout's connection search: a double loop over candidate pairs.

    Returns:
        One (K, 5) array per limb type, rows ``[id_a, id_b, score_a, score_b,
        limb_score]``, the best ``min(n_a, n_b)`` pairs (a part may repeat).
    """
    result = []
    for limb in config.connection_types:
        paf_x = pafs[:, :, limb.paf_dx_idx]
        paf_y = pafs[:, :, limb.paf_dy_idx]
        cand_a = coords[limb.from_body_part.name]
        cand_b = coords[limb.to_body_part.name]
        if not cand_a or not cand_b:
            result.append(np.zeros((0, 5)))
            continue
        found = []
        for a in cand_a:
            for b in cand_b:
                dx, dy = b[0] - a[0], b[1] - a[1]
                norm = math.sqrt(dx * dx + dy * dy)
                if norm == 0:
                    continue
                ux, uy = dx / norm, dy / norm
                xs = np.linspace(a[0], b[0], num=mid_num)
                ys = np.linspace(a[1], b[1], num=mid_num)
                samples = []
                for k in range(mid_num):
                    row, col = int(round(ys[k])), int(round(xs[k]))
                    samples.append(paf_x[row, col] * ux + paf_y[row, col] * uy)
                samples = np.array(samples)
                total = samples.sum() / len(samples)
                if (samples > threshold).sum() > minimum_mid_num and total > 0:
                    found.append([a[3], b[3], a[2], b[2], total])
        found = np.array(found).reshape(-1, 5)
        found = found[found[:, 4].argsort()[::-1]]
        result.append(found[:min(len(cand_a), len(cand_b))])
    return result


def _printed_row_score(conn: np.ndarray) -> float:
    # part_a[i, 1] + part_b[i, 1] + connections[k][i][2], as the handout prints it.
    return conn[2] + conn[3] + conn[2]


def _cmu_row_score(conn: np.ndarray) -> float:
    # score_a + score_b + limb score: what the original (CMU) code computed.
    return conn[2] + conn[3] + conn[4]


#: How the estimator scores a new row from a connection ``[id_a, id_b,
#: score_a, score_b, limb_score]``. ``"printed"`` (the kit's default): the
#: handout's ``part_a[i, 1] + part_b[i, 1] + connections[k][i][2]``; column 2
#: is part A's heatmap score, so the row score is ``2 * score_a + score_b``
#: and the limb (PAF) score never reaches the rows. The index is kept because
#: it is what a student's kit runs (the handout reordered the columns of the
#: CMU code, where column 2 was the limb score, and left the index as it was).
#: ``"cmu"``: ``score_a + score_b + limb_score``, what the original code computed.
ROW_SCORES: Dict[str, Callable[[np.ndarray], float]] = {
    "printed": _printed_row_score,
    "cmu": _cmu_row_score,
}


def estimate_rows_reference(config: PoseConfig, connections: Sequence[np.ndarray],
                            row_score: str = "printed") -> np.ndarray:
    """The handout's estimator before ``merge``: one subset row per new connection.

    A connection whose two ids already form a row is not added again.

    Args:
        config: pose configuration.
        connections: one (K, 5) array per limb type, rows ``[id_a, id_b,
            score_a, score_b, limb_score]``.
        row_score: a key of :data:`ROW_SCORES`: ``"printed"`` (the handout's
            ``connections[k][i][2]``, i.e. ``2 * score_a + score_b``) or
            ``"cmu"`` (``score_a + score_b + limb_score``, what the original
            code computed).

    Returns:
        (N, 20) float64 rows with two filled slots each.

    Raises:
        ValueError: unknown ``row_score``.
    """
    if row_score not in ROW_SCORES:
        raise ValueError(f"row_score must be one of {', '.join(ROW_SCORES)}, got {row_score!r}")
    score_of = ROW_SCORES[row_score]
    subset = np.empty((0, ROW_WIDTH))
    for limb, conn in zip(config.connection_types, connections):
        slot_a = config.body_parts[limb.from_body_part].slot_idx
        slot_b = config.body_parts[limb.to_body_part].slot_idx
        for row_conn in conn:
            found = any(row[slot_a] == row_conn[0] and row[slot_b] == row_conn[1]
                        for row in subset)
            if not found:
                row = -np.ones(ROW_WIDTH)
                row[slot_a], row[slot_b] = row_conn[0], row_conn[1]
                row[-1] = 2
                row[-2] = score_of(row_conn)
                subset = np.vstack([subset, row])
    return subset


def merge_reference(subset: np.ndarray, min_num_body_parts: int = 4,
                    min_score: float = 0.4) -> np.ndarray:
    """A plain per-row merge: fuse each row into the first person sharing an id.

    No conflict handling beyond keeping the first id in a slot; the yardstick
    for grouping time.
    """
    people: List[np.ndarray] = []
    for row in subset[np.argsort(-subset[:, -2], kind="stable")]:
        ids = row[:-2]
        home = None
        for person in people:
            if ((person[:-2] == ids) & (ids >= 0)).any():
                home = person
                break
        if home is None:
            people.append(row.copy())
            continue
        empty = (home[:-2] < 0) & (ids >= 0)
        home[:-2][empty] = ids[empty]
        home[-2] += row[-2]
    out = []
    for person in people:
        parts = int((person[:-2] >= 0).sum())
        person[-1] = parts
        if parts >= min_num_body_parts and person[-2] / parts >= min_score:
            out.append(person)
    return np.array(out).reshape(-1, ROW_WIDTH)


def merge_greedy_reference(subset: np.ndarray, min_num_body_parts: int = 4,
                           min_score: float = 0.4) -> np.ndarray:
    """A plain greedy merge: the accuracy yardstick for ``merge.py`` in the kit.

    Rows in descending score; a row joins every person it shares an id with
    (and they join each other) unless that would put two ids in one slot, in
    which case the row is skipped. Then people with fewer than
    ``min_num_body_parts`` parts or a mean score per part below ``min_score``
    are dropped.

    Returns:
        (K, 20) float64 skeletons, score = sum of the member rows' scores.
    """
    people: List[Dict[int, int]] = []
    scores: List[float] = []
    owner: Dict[int, int] = {}
    for r in np.argsort(-subset[:, -2], kind="stable"):
        row = {slot: int(i) for slot, i in enumerate(subset[r, :-2]) if i >= 0}
        touched = sorted({owner[i] for i in row.values() if i in owner})
        union = dict(row)
        ok = True
        for p in touched:
            if any(union.get(slot, i) != i for slot, i in people[p].items()):
                ok = False
                break
            union.update(people[p])
        if not ok:
            continue
        home = touched[0] if touched else len(people)
        if not touched:
            people.append({})
            scores.append(0.0)
        for p in touched[1:]:
            scores[home] += scores[p]
            people[p], scores[p] = {}, 0.0
        people[home] = union
        scores[home] += float(subset[r, -2])
        owner.update((i, home) for i in union.values())
    out = []
    for person, score in zip(people, scores):
        if person and len(person) >= min_num_body_parts and score / len(person) >= min_score:
            row = -np.ones(ROW_WIDTH)
            row[list(person)] = list(person.values())
            row[-2:] = score, len(person)
            out.append(row)
    return np.array(out).reshape(-1, ROW_WIDTH)


def kit_connections(config: PoseConfig, coords: Dict[str, Sequence], pafs: np.ndarray,
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
