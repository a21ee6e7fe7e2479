"""Yardstick only: the handout's algorithms written out plainly, loops and all.

This is what the lab kit does (``coordinates.py`` compares each heatmap with
four shifted copies, ``>=`` on all sides; ``connections.py`` scores every candidate pair
in a double loop with per-sample Python indexing and keeps the best
``min(n_a, n_b)`` pairs without enforcing one-to-one; ``estimators.py`` makes
one subset row per connection). The benchmarks time our stages against it and
the tests use it as the replica of the handout's kit. Not used by the product.
"""

from __future__ import annotations

import math
from typing import Dict, List, Sequence

import numpy as np

from estimation.config import ROW_WIDTH, PoseConfig


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


def estimate_rows_reference(config: PoseConfig, connections: Sequence[np.ndarray]) -> np.ndarray:
    """The handout's estimator before ``merge``: one subset row per new connection.

    A connection whose two ids already form a row is not added again.

    Returns:
        (N, 20) float64 rows with two filled slots each.
    """
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
                row[-2] = row_conn[2] + row_conn[3] + row_conn[4]
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
