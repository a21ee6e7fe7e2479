"""Stage 3a: turn limb connections into subset rows and merge them into skeletons."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .config import ROW_WIDTH, PoseConfig
from .merge import merge


def check_connections(config: PoseConfig, connections: Sequence) -> list:
    """Validate ``get_connections`` output and return it as (K, 5) float64 arrays.

    Args:
        config: pose configuration (one array is expected per limb type).
        connections: one (K, 5) array (or empty list) per limb type.

    Returns:
        A list of (K, 5) float64 arrays.

    Raises:
        ValueError: wrong number of limb types, a wrong array shape, NaN/inf,
            or ids that are not integers >= 0.
    """
    n_limbs = len(config.connection_types)
    if len(connections) != n_limbs:
        raise ValueError(f"connections must hold {n_limbs} arrays (one per limb type), "
                         f"got {len(connections)}")
    checked = []
    for limb, conn in zip(config.connection_types, connections):
        arr = np.asarray(conn, dtype=np.float64)
        if arr.size == 0:
            checked.append(np.zeros((0, 5)))
            continue
        if arr.ndim != 2 or arr.shape[1] != 5:
            raise ValueError(f"connections for limb {limb.name} must have shape (K, 5), "
                             f"got {arr.shape}")
        if not np.isfinite(arr).all():
            raise ValueError(f"connections for limb {limb.name} contain NaN or inf")
        ids = arr[:, :2]
        if (ids != np.floor(ids)).any() or (ids < 0).any():
            raise ValueError(f"connections for limb {limb.name} have ids that are not "
                             "integers >= 0")
        checked.append(arr)
    return checked


def connections_to_subset(config: PoseConfig, connections: Sequence) -> np.ndarray:
    """One subset row per connection, as the handout's estimator builds them.

    Args:
        config: pose configuration.
        connections: one (K, 5) array per limb type, rows
            ``[id_a, id_b, score_a, score_b, limb_score]``.

    Returns:
        (N, 20) float64 rows: the two ids in their slots, score
        ``score_a + score_b + limb_score`` and parts_num 2.

    Raises:
        ValueError: as :func:`check_connections`.
    """
    rows = []
    for limb, conn in zip(config.connection_types, check_connections(config, connections)):
        if len(conn) == 0:
            continue
        block = np.full((len(conn), ROW_WIDTH), -1.0)
        block[:, config.body_parts[limb.from_body_part].slot_idx] = conn[:, 0]
        block[:, config.body_parts[limb.to_body_part].slot_idx] = conn[:, 1]
        block[:, -2] = conn[:, 2] + conn[:, 3] + conn[:, 4]
        block[:, -1] = 2
        rows.append(block)
    return np.concatenate(rows) if rows else np.zeros((0, ROW_WIDTH))


def estimate(config: PoseConfig, connections: Sequence, min_num_body_parts: int = 4,
             min_score: float = 0.4) -> np.ndarray:
    """Group connections into skeletons (the lab's estimator, with our merge).

    Args:
        config: pose configuration.
        connections: output of ``get_connections``: one (K, 5) array per limb.
        min_num_body_parts: fewest parts a skeleton may have.
        min_score: lowest allowed score / parts_num of a skeleton.

    Returns:
        (K, 20) float64 skeletons: 18 slot ids, score, parts_num; sorted by
        score, descending.

    Raises:
        ValueError: if ``connections`` is malformed.
    """
    subset = connections_to_subset(config, connections)
    return merge(subset, min_num_body_parts=min_num_body_parts, min_score=min_score)
