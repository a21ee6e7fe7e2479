"""Stage 3b (the lab deliverable): fuse partial-person rows into whole skeletons.

Drop-in for the EAI Lab3 kit: this file imports only numpy and the standard
library, so it can be copied into the handout's ``estimation/`` folder as is.

A row is 18 slot ids (CMU order: nose, neck, right shoulder/elbow/wrist, left
shoulder/elbow/wrist, right hip/knee/ankle, left hip/knee/ankle, right eye,
left eye, right ear, left ear; -1 = empty), then the row's score, then its
number of parts. The handout's estimator makes one such row per limb
connection, so rows share part ids and may contradict each other.

Algorithm:

0. Order. The kit keeps, per limb type, the best pairs by limb score but
   without one-to-one matching, so one part may sit in several rows of the
   same limb type; those rows compete and at most one of them is right. Rows
   go in descending ``score - COMPETITOR_PENALTY * competitors``, where a
   row's competitors are the other rows with the same filled slots that share
   one of its ids (ties broken by the ids, so the result does not depend on
   the input order). The handout's estimator scores a row ``2 s_a + s_b``
   (heatmap scores only, see ``estimation.handout.ROW_SCORES``), the
   original code ``s_a + s_b + limb``; merge cannot tell which kit called it,
   and the competitor count is evidence both kits carry in their ids.
1. Greedy pass. A row joins the people it shares ids with, and those people
   join each other, unless the union would hold two different ids in one
   slot (a conflict): then the row is set aside as *evidence*. A row that
   shares no id starts a new person.
2. Fusion pass. Two people linked by set-aside rows (a row with an id in
   each) are fused when they conflict in at most one slot; pairs with the
   strongest links (sum of the linking rows' scores) go first. In the one
   conflicting slot the higher-scored person keeps its id; the other id is
   left out. Pairs that conflict in exactly one slot are mostly one person
   whose part was detected twice, pairs that conflict in two or more are
   mostly two people (counts in ``docs/records/merge.md``).
3. People with fewer than ``min_num_body_parts`` parts, or whose mean score
   per part (score / parts_num) is below ``min_score``, are dropped.

The person score is the sum of the scores of the rows fused into it (its
member rows, linking rows included). It ranks people: it grows with the
number of limbs found and with their scores (part confidence, and limb
confidence where the kit adds it). (Mean score, sum x parts and mean x
sqrt(parts) ranked worse on the dev set.)

Guarantees: no part id is in two output rows; an output row holds only ids of
its member rows, in the slots those rows give them; its score is the sum of
its member rows' scores and its parts_num is its number of filled slots; each
input row is a member of at most one person; the input is not modified.
"""

from __future__ import annotations

from typing import Dict, List, NamedTuple, Tuple

import numpy as np

NUM_SLOTS = 18
ROW_WIDTH = NUM_SLOTS + 2
#: Largest id accepted: every integer up to it is exact in float64 (2**53 - 1).
MAX_ID = 2 ** 53 - 1
#: Fuse two linked people that conflict in at most this many slots (measured, docs/records/merge.md).
MAX_FUSION_CONFLICTS = 1
#: Score a row loses per competing row in the order of the greedy pass (dev-set
#: tuned in both kits; AP is flat from 0.2 to 0.6, docs/records/merge.md).
COMPETITOR_PENALTY = 0.4


class Person(NamedTuple):
    """One fused person before pruning.

    Attributes:
        ids: (18,) int64 slot ids, -1 where empty.
        score: sum of the scores of the member rows.
        rows: indices (into the input) of the member rows.
    """

    ids: np.ndarray
    score: float
    rows: List[int]


def check_subset(subset) -> np.ndarray:
    """Validate a subset and return a float64 copy of shape (N, 20).

    Args:
        subset: array-like (N, 20) of real numbers: 18 slot ids, score,
            parts_num.

    Returns:
        A new (N, 20) float64 array; (0, 20) for an empty input.

    Raises:
        ValueError: not real numbers (strings, complex, objects), wrong shape,
            NaN / inf, ids that are not integers in ``[-1, MAX_ID]``, scores
            whose sum overflows float64, or one id placed in two slots.
    """
    raw = np.asarray(subset)
    if raw.size == 0 and raw.ndim == 1:
        return np.zeros((0, ROW_WIDTH))
    if raw.dtype.kind not in "biuf":
        raise ValueError(f"subset must hold real numbers, got dtype {raw.dtype}")
    arr = np.array(raw, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != ROW_WIDTH:
        raise ValueError(
            f"subset must have shape (N, {ROW_WIDTH}) (18 slot ids, score, parts_num), "
            f"got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("subset contains NaN or infinite values")
    ids = arr[:, :NUM_SLOTS]
    if (ids != np.floor(ids)).any() or (ids < -1).any() or (ids > MAX_ID).any():
        raise ValueError(f"subset slot ids must be integers in [-1, {MAX_ID}] (-1 = empty)")
    with np.errstate(over="ignore"):
        total = np.abs(arr[:, NUM_SLOTS]).sum()
    if not np.isfinite(total):
        raise ValueError("subset scores are too large: their sum overflows float64")
    rows, slots = np.nonzero(ids >= 0)
    pairs = np.unique(np.stack([ids[rows, slots], slots], axis=1), axis=0)
    if len(pairs) != len(np.unique(pairs[:, 0])):
        raise ValueError("subset places one part id in two different slots")
    return arr


def check_thresholds(min_num_body_parts, min_score) -> Tuple[int, float]:
    """Validate merge's pruning thresholds.

    Returns:
        ``(min_num_body_parts, min_score)`` as ``(int, float)``.

    Raises:
        ValueError: ``min_num_body_parts`` is not an integer in [0, 18], or
            ``min_score`` is not a finite real number.
    """
    if isinstance(min_num_body_parts, (bool, np.bool_)) or not isinstance(
            min_num_body_parts, (int, np.integer, float, np.floating)) \
            or not float(min_num_body_parts).is_integer() \
            or not 0 <= min_num_body_parts <= NUM_SLOTS:
        raise ValueError(f"min_num_body_parts must be an integer in [0, {NUM_SLOTS}], "
                         f"got {min_num_body_parts!r}")
    if isinstance(min_score, (bool, np.bool_)) or not isinstance(
            min_score, (int, np.integer, float, np.floating)) or not np.isfinite(min_score):
        raise ValueError(f"min_score must be a finite real number, got {min_score!r}")
    return int(min_num_body_parts), float(min_score)


class _Grouping:
    """People under construction: slot -> id dicts, scores, member rows, owners.

    Plain dicts, not arrays: grouping is thousands of tiny updates, where
    numpy's per-call cost would dominate.
    """

    def __init__(self) -> None:
        self.slots: List[Dict[int, int]] = []
        self.score: List[float] = []
        self.rows: List[List[int]] = []
        self.alive: List[bool] = []
        self.owner: Dict[int, int] = {}

    def start(self, row: Dict[int, int], score: float, r: int) -> None:
        self.owner.update((part, len(self.slots)) for part in row.values())
        self.slots.append(dict(row))
        self.score.append(score)
        self.rows.append([r])
        self.alive.append(True)

    def absorb(self, keep: int, other: int) -> None:
        """Move ``other`` into ``keep``; ids of ``other`` in slots ``keep`` fills are left out."""
        mine = self.slots[keep]
        for slot, part in self.slots[other].items():
            if slot in mine and mine[slot] != part:
                del self.owner[part]
            elif slot not in mine:
                mine[slot] = part
                self.owner[part] = keep
        self.score[keep] += self.score[other]
        self.rows[keep].extend(self.rows[other])
        self.alive[other] = False

    def add_row(self, person: int, row: Dict[int, int], score: float, r: int) -> None:
        for slot, part in row.items():
            self.slots[person][slot] = part
            self.owner[part] = person
        self.score[person] += score
        self.rows[person].append(r)


def _conflicts(a: Dict[int, int], b: Dict[int, int]) -> int:
    """Number of slots that ``a`` and ``b`` fill with different ids."""
    return sum(1 for slot, part in a.items() if b.get(slot, part) != part)


def competitors(ids: np.ndarray) -> np.ndarray:
    """Per row, how many other rows with the same filled slots share one of its ids.

    Args:
        ids: (N, 18) int64 slot ids, -1 where empty.

    Returns:
        (N,) int64: summed over a row's filled slots, the number of other rows
        with the same set of filled slots holding the same id in that slot.
    """
    filled = ids >= 0
    rows, slots = np.nonzero(filled)
    if not len(rows):
        return np.zeros(len(ids), np.int64)
    pattern = filled.dot(np.int64(1) << np.arange(NUM_SLOTS, dtype=np.int64))
    # One int64 key per (filled slots, slot, id): ids made dense first, so
    # the key stays below 2**18 * 18 * (18 N) whatever the ids are.
    _, dense = np.unique(ids[rows, slots], return_inverse=True)
    keys = (pattern[rows] * NUM_SLOTS + slots) * (len(rows) + 1) + dense.ravel()
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return np.bincount(rows, weights=counts[inverse.ravel()] - 1,
                       minlength=len(ids)).astype(np.int64)


def group_rows(subset) -> List[Person]:
    """Fuse rows that share part ids into people (no pruning).

    Args:
        subset: array-like (N, 20) rows, see the module docstring.

    Returns:
        The people, each with its slot ids, summed score and member rows, in
        the order they were started.

    Raises:
        ValueError: as :func:`check_subset`.
    """
    arr = check_subset(subset)
    ids = arr[:, :NUM_SLOTS].astype(np.int64)
    scores = arr[:, NUM_SLOTS].tolist()
    # Primary key: score less the competitor penalty, descending; then the
    # ids, so equal keys do not depend on the input order.
    priority = arr[:, NUM_SLOTS] - COMPETITOR_PENALTY * competitors(ids)
    order = np.lexsort(tuple(ids[:, ::-1].T) + (-priority,)).tolist()
    group = _Grouping()
    evidence: List[Tuple[int, Dict[int, int]]] = []
    for r in order:
        row = {slot: part for slot, part in enumerate(ids[r].tolist()) if part >= 0}
        if not row:
            continue
        touched = sorted({group.owner[i] for i in row.values() if i in group.owner})
        union = dict(row)
        clash = False
        for p in touched:
            if _conflicts(group.slots[p], union):
                clash = True
                break
            union.update(group.slots[p])
        if clash:
            evidence.append((r, row))
        elif not touched:
            group.start(row, scores[r], r)
        else:
            for p in touched[1:]:
                group.absorb(touched[0], p)
            group.add_row(touched[0], row, scores[r], r)
    _fuse_linked(group, evidence, scores)
    people = []
    for p, slots in enumerate(group.slots):
        if group.alive[p]:
            slot_ids = np.full(NUM_SLOTS, -1, np.int64)
            slot_ids[list(slots)] = list(slots.values())
            people.append(Person(slot_ids, float(group.score[p]), group.rows[p]))
    return people


def _fuse_linked(group: _Grouping, evidence: List[Tuple[int, Dict[int, int]]],
                 scores: List[float]) -> None:
    """Fusion pass: fuse people linked by set-aside rows that conflict in <= 1 slot."""
    links: Dict[Tuple[int, int], List[int]] = {}
    for r, row in evidence:
        owners = sorted({group.owner[i] for i in row.values() if i in group.owner})
        if len(owners) == 2:
            links.setdefault((owners[0], owners[1]), []).append(r)
    # Strongest links first; ties by the people's start order (itself canonical).
    ranked = sorted(links.items(), key=lambda kv: (-sum(scores[r] for r in kv[1]), kv[0]))
    for (p, q), rows in ranked:
        if not (group.alive[p] and group.alive[q]):
            continue
        if _conflicts(group.slots[p], group.slots[q]) > MAX_FUSION_CONFLICTS:
            continue
        keep, other = (p, q) if group.score[p] >= group.score[q] else (q, p)
        group.absorb(keep, other)
        group.score[keep] += sum(scores[r] for r in rows)
        group.rows[keep].extend(rows)


def merge(subset, min_num_body_parts: int = 4, min_score: float = 0.4) -> np.ndarray:
    """Merge limb rows into skeletons and drop weak ones.

    Args:
        subset: (N, 20) float array of rows: 18 slot ids (-1 = empty), score,
            parts_num (parts_num may be stale; it is recomputed).
        min_num_body_parts: fewest filled slots a skeleton may have.
        min_score: lowest allowed score / parts_num of a skeleton.

    Returns:
        (K, 20) float64 skeletons sorted by score, descending (equal scores
        by their slot ids). The score is the sum of the member rows' scores.

    Raises:
        ValueError: a malformed subset (see :func:`check_subset`) or bad
            thresholds (see :func:`check_thresholds`).
    """
    min_num_body_parts, min_score = check_thresholds(min_num_body_parts, min_score)
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
