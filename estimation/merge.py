"""Stage 3b (the lab deliverable): fuse partial-person rows into whole skeletons.

Drop-in for the EAI Lab3 kit: this file imports only numpy and the standard
library, so it can be copied into the handout's ``estimation/`` folder as is.

A row is 18 slot ids (CMU order: nose, neck, right shoulder/elbow/wrist, left
shoulder/elbow/wrist, right hip/knee/ankle, left hip/knee/ankle, right eye,
left eye, right ear, left ear; -1 = empty), then the row's score, then its
number of parts. The handout's estimator makes one such row per limb
connection, so rows share part ids and may contradict each other.

Algorithm (greedy, in descending row score; ties broken by the ids so the
result does not depend on the input order):

1. A row whose ids belong to no person yet starts a new person.
2. A row that shares ids with existing people is fused into the best-scored of
   them with which it has no slot conflict (a slot holding two different
   ids); the other people sharing its ids are fused in as well when they do
   not conflict either. Conflicting assignments made earlier (higher score)
   win: the ids of the row that a conflicting person owns stay there.
3. A row that conflicts with every person it touches is not fused; its ids
   that nobody owns yet may still start a new person.
4. People with fewer than ``min_num_body_parts`` parts, or whose mean score
   per part (score / parts_num) is below ``min_score``, are dropped.

Guarantees: no part id is in two output rows; an output row holds only ids of
the input rows fused into it, its score is the sum of their scores and its
parts_num is its number of filled slots; the input is not modified.
"""

from __future__ import annotations

from typing import Dict, List, NamedTuple

import numpy as np

NUM_SLOTS = 18
ROW_WIDTH = NUM_SLOTS + 2


class Person(NamedTuple):
    """One fused person before pruning.

    Attributes:
        ids: (18,) int64 slot ids, -1 where empty.
        score: sum of the scores of the member rows.
        rows: indices (into the input) of the rows fused into this person.
    """

    ids: np.ndarray
    score: float
    rows: List[int]


def check_subset(subset) -> np.ndarray:
    """Validate a subset and return a float64 copy of shape (N, 20).

    Args:
        subset: array-like (N, 20): 18 slot ids, score, parts_num.

    Returns:
        A new (N, 20) float64 array; (0, 20) for an empty input.

    Raises:
        ValueError: wrong shape, NaN / inf, ids that are not integers >= -1,
            or one id placed in two different slots.
    """
    arr = np.array(subset, dtype=np.float64)
    if arr.ndim == 1 and arr.size == 0:
        return np.zeros((0, ROW_WIDTH))
    if arr.ndim != 2 or arr.shape[1] != ROW_WIDTH:
        raise ValueError(
            f"subset must have shape (N, {ROW_WIDTH}) (18 slot ids, score, parts_num), "
            f"got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("subset contains NaN or infinite values")
    ids = arr[:, :NUM_SLOTS]
    if (ids != np.floor(ids)).any() or (ids < -1).any():
        raise ValueError("subset slot ids must be integers >= -1 (-1 = empty)")
    rows, slots = np.nonzero(ids >= 0)
    pairs = np.unique(np.stack([ids[rows, slots], slots], axis=1), axis=0)
    if len(pairs) != len(np.unique(pairs[:, 0])):
        raise ValueError("subset places one part id in two different slots")
    return arr


def group_rows(subset) -> List[Person]:
    """Fuse rows that share part ids into people (no pruning).

    Args:
        subset: array-like (N, 20) rows, see the module docstring.

    Returns:
        The people, each with its slot ids, summed score and member rows.

    Raises:
        ValueError: as :func:`check_subset`.
    """
    arr = check_subset(subset)
    ids = arr[:, :NUM_SLOTS].astype(np.int64)
    scores = arr[:, NUM_SLOTS]
    # Primary key: score descending; then the ids, so equal scores do not
    # depend on the input order.
    order = np.lexsort(tuple(ids[:, ::-1].T) + (-scores,))
    # People as plain dicts slot -> id: thousands of tiny updates, where numpy's
    # per-call cost would dominate.
    slots_of: List[Dict[int, int]] = []
    score_of: List[float] = []
    rows_of: List[List[int]] = []
    alive: List[bool] = []
    owner: Dict[int, int] = {}

    def conflicts(slots: Dict[int, int], other: Dict[int, int]) -> bool:
        return any(other.get(slot, part) != part for slot, part in slots.items())

    for r in order.tolist():
        row = {slot: part for slot, part in enumerate(ids[r].tolist()) if part >= 0}
        if not row:
            continue
        touched = sorted({owner[i] for i in row.values() if i in owner},
                         key=lambda p: (-score_of[p], p))
        target = None
        for p in touched:
            if target is None:
                if not conflicts(row, slots_of[p]):
                    target = p
                    for slot, part in row.items():
                        if part not in owner:
                            slots_of[p][slot] = part
                            owner[part] = p
                    score_of[p] += scores[r]
                    rows_of[p].append(r)
            elif not conflicts(slots_of[p], slots_of[target]):
                slots_of[target].update(slots_of[p])
                owner.update((part, target) for part in slots_of[p].values())
                score_of[target] += score_of[p]
                rows_of[target].extend(rows_of[p])
                alive[p] = False
        if target is None:
            free = {slot: part for slot, part in row.items() if part not in owner}
            if not free:
                continue
            owner.update((part, len(slots_of)) for part in free.values())
            slots_of.append(free)
            score_of.append(float(scores[r]))
            rows_of.append([r])
            alive.append(True)
    people = []
    for p in range(len(slots_of)):
        if alive[p]:
            slot_ids = np.full(NUM_SLOTS, -1, np.int64)
            slot_ids[list(slots_of[p])] = list(slots_of[p].values())
            people.append(Person(slot_ids, float(score_of[p]), rows_of[p]))
    return people


def merge(subset, min_num_body_parts: int = 4, min_score: float = 0.4) -> np.ndarray:
    """Merge limb rows into skeletons and drop weak ones.

    Args:
        subset: (N, 20) float array of rows: 18 slot ids (-1 = empty), score,
            parts_num (parts_num may be stale; it is recomputed).
        min_num_body_parts: fewest filled slots a skeleton may have.
        min_score: lowest allowed score / parts_num of a skeleton.

    Returns:
        (K, 20) float64 skeletons sorted by score, descending (equal scores
        by their slot ids).

    Raises:
        ValueError: wrong shape, NaN / inf, ids that are not integers >= -1,
            or one id placed in two different slots.
    """
    people = group_rows(subset)
    out = []
    for person in people:
        parts_num = int((person.ids >= 0).sum())
        if parts_num == 0 or parts_num < min_num_body_parts:
            continue
        if person.score / parts_num < min_score:
            continue
        out.append(np.concatenate([person.ids, [person.score, parts_num]]).astype(np.float64))
    if not out:
        return np.zeros((0, ROW_WIDTH))
    result = np.array(out)
    # Score descending; equal scores ordered by their ids (a canonical order).
    return result[np.lexsort(tuple(result[:, NUM_SLOTS - 1::-1].T) + (-result[:, NUM_SLOTS],))]
