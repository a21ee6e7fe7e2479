"""Limbs implausible for their person: features of each found limb, and cutting the ones to reject.

Greedy assembly takes a limb on its PAF score alone, so an arm can reach into
a neighbour (``zidane.jpg``: Ancelotti's right elbow and wrist on Zidane's
outstretched sleeve and cuff). Once people are assembled, each limb of each
person is checked against the person as a whole:

- **length ratio**: its length against what the person's other limbs predict
  (each limb's length over its typical length,
  ``posekit.decode.completion.LIMB_LENGTHS``, gives a scale; the median of
  the others' scales times this limb's typical length is its expected
  length); NaN when fewer than :data:`MIN_OTHER_LIMBS` other limbs;
- **PAF agreement along the whole segment**: the lowest projection of the
  limb's PAF on its direction among its samples (the decoder's score is the
  mean, which a strong half can carry);
- **on another person**: the distance from each end to the nearest keypoint
  of another person of the same slot or its left/right mirror (one body
  point claimed twice), over the limb's expected length, and whether that
  person's strongest limb at that keypoint beats this one (the point is
  theirs).

The dev-set table of how often each is wrong, and which rule was kept:
``docs/records/accuracy_limbs.md``.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np

from posekit.decode.completion import LIMB_LENGTHS
from posekit.decode.limbs import project_samples
from posekit.lab.config import NUM_PARTS, BodyPart, PoseConfig

#: A limb's length is judged only against at least this many other limbs of its person.
MIN_OTHER_LIMBS = 2
#: Each slot's left/right mirror (``left_elbow`` <-> ``right_elbow``; the others themselves).
MIRROR = np.array([BodyPart[BodyPart(s).name.replace("left", "@").replace("right", "left")
                            .replace("@", "right")].value for s in range(NUM_PARTS)])
#: Slot ``s`` may be the body point of another person's slot ``t`` when SAME_POINT[s, t].
SAME_POINT = np.eye(NUM_PARTS, dtype=bool) | (np.arange(NUM_PARTS)[None] == MIRROR[:, None])
SAME_POINT.setflags(write=False)


def limb_features(slots: np.ndarray, part_xy: np.ndarray, pafs: np.ndarray,
                  config: PoseConfig, samples: int = 10, claims: bool = True,
                  paf: bool = True) -> Dict[str, np.ndarray]:
    """Plausibility features of every limb of every person.

    Args:
        slots: (K, 18) int peak id per slot, -1 where empty.
        part_xy: (N, 2) position (x, y) of each peak id, in cells.
        pafs: (H, W, 2 * L) PAFs.
        config: pose configuration (L limb types).
        samples: PAF samples along each limb (the decoder's ``limb_samples``).
        claims: whether to compute the ``near`` and ``rival`` features (else
            ``near`` is inf and ``rival`` False everywhere).
        paf: whether to sample the PAFs (else ``paf_min`` and ``paf_mean``
            are NaN everywhere); the claims need them.

    Returns:
        (K, L) float64 arrays, NaN where the person lacks one of the limb's
        slots: ``"length_ratio"`` (length over the length the person's other
        limbs predict; NaN with fewer than :data:`MIN_OTHER_LIMBS` of them),
        ``"paf_min"`` (lowest PAF projection on the limb's direction among
        its samples), ``"paf_mean"`` (their mean), ``"near_a"`` and
        ``"near_b"`` (distance from the limb's first / second end to the
        nearest keypoint of another person of the same slot or its
        left/right mirror, over the limb's expected length,
        or over its typical length times the person's median scale when
        none; inf with nobody else), and (K, L) bool ``"rival_a"`` /
        ``"rival_b"``: that keypoint's strongest limb in its person has a
        higher mean PAF projection than this limb.

    Raises:
        ValueError: ``slots`` not (K, 18), or ``part_xy`` not (N, 2).
    """
    slots = np.asarray(slots)
    part_xy = np.asarray(part_xy, np.float64)
    if slots.ndim != 2 or slots.shape[1] != NUM_PARTS:
        raise ValueError(f"slots must be (K, {NUM_PARTS}), got shape {slots.shape}")
    if part_xy.ndim != 2 or part_xy.shape[1] != 2:
        raise ValueError(f"part_xy must be (N, 2), got shape {part_xy.shape}")
    slot_a, slot_b, dx_of, dy_of = config.limb_arrays
    n_people, n_limbs = len(slots), len(slot_a)
    ida, idb = slots[:, slot_a], slots[:, slot_b]                        # (K, L)
    held = (ida >= 0) & (idb >= 0)
    a_xy = np.where(held[..., None], part_xy[np.maximum(ida, 0)], np.nan) if len(part_xy) \
        else np.full((n_people, n_limbs, 2), np.nan)
    b_xy = np.where(held[..., None], part_xy[np.maximum(idb, 0)], np.nan) if len(part_xy) \
        else np.full((n_people, n_limbs, 2), np.nan)
    length = np.linalg.norm(b_xy - a_xy, axis=2)
    log_scale = np.log(np.maximum(length, 1e-6) / LIMB_LENGTHS[:n_limbs])
    log_scale[~held] = np.nan
    others = held.sum(1, keepdims=True) - held                            # (K, L)
    with np.errstate(all="ignore"):
        expected = LIMB_LENGTHS[:n_limbs] * np.exp(_median_of_others(log_scale))
        ratio = np.where(held & (others >= MIN_OTHER_LIMBS), length / expected, np.nan)
    paf_min = np.full((n_people, n_limbs), np.nan)
    where = np.flatnonzero(held.ravel()) if paf or claims else np.zeros(0, np.intp)
    if len(where):
        kinds = np.tile(np.arange(n_limbs), n_people)[where]
        proj, _ = project_samples(pafs, a_xy.reshape(-1, 2)[where], b_xy.reshape(-1, 2)[where],
                                  dx_of[kinds], dy_of[kinds], samples)
        paf_min.ravel()[where] = proj.min(1)
    paf_mean = np.full((n_people, n_limbs), np.nan)
    if len(where):
        paf_mean.ravel()[where] = proj.mean(1)
    if not claims:
        near = np.full((n_people, n_limbs), np.inf)
        never = np.zeros((n_people, n_limbs), bool)
        return {"length_ratio": ratio, "paf_min": paf_min, "paf_mean": paf_mean,
                "near_a": near, "near_b": near.copy(), "rival_a": never, "rival_b": never.copy()}
    # Distance of each end to the nearest same or mirrored keypoint of another person,
    # and whether that keypoint's best limb there is stronger than this limb.
    support = np.full((n_people, NUM_PARTS), -np.inf)                   # best limb per slot
    for k in range(n_limbs):
        for slot_of in (slot_a, slot_b):
            support[:, slot_of[k]] = np.fmax(support[:, slot_of[k]],
                                             np.where(held[:, k], paf_mean[:, k], -np.inf))
    xy = np.where((slots >= 0)[..., None], part_xy[np.maximum(slots, 0)], np.nan) \
        if len(part_xy) else np.full((n_people, NUM_PARTS, 2), np.nan)
    with np.errstate(all="ignore"):
        unit = np.where(np.isfinite(expected), expected,
                        LIMB_LENGTHS[:n_limbs] * np.exp(_nanmedian(log_scale))[:, None])
        near_a, rival_a = _nearest_other(a_xy, slot_a, xy, support)
        near_b, rival_b = _nearest_other(b_xy, slot_b, xy, support)
        near_a, near_b = near_a / unit, near_b / unit
    near_a[~held], near_b[~held] = np.nan, np.nan
    return {"length_ratio": ratio, "paf_min": paf_min, "paf_mean": paf_mean,
            "near_a": near_a, "near_b": near_b,
            "rival_a": rival_a > paf_mean, "rival_b": rival_b > paf_mean}


def _median_of_others(values: np.ndarray) -> np.ndarray:
    """(K, L) median of each row's finite values but the one in that column (NaN where
    none is left, or where the value itself is NaN)."""
    n_cols = values.shape[1]
    finite = np.isfinite(values)
    rest = finite.sum(1, keepdims=True) - 1                              # values left
    ranked = np.sort(np.where(finite, values, np.inf), axis=1)           # finite first
    rank = (values[:, None, :] < values[:, :, None]).sum(2)              # (K, L): smaller ones
    low, high = np.maximum((rest - 1) // 2, 0), np.maximum(rest // 2, 0)  # ranks in the rest
    # the j-th remaining value once the value at `rank` is removed (ties: an equal value)
    pick_low = np.take_along_axis(ranked, np.minimum(low + (low >= rank), n_cols - 1), 1)
    pick_high = np.take_along_axis(ranked, np.minimum(high + (high >= rank), n_cols - 1), 1)
    return np.where(finite & (rest >= 1), (pick_low + pick_high) / 2, np.nan)


def _nanmedian(values: np.ndarray) -> np.ndarray:
    """Row medians ignoring NaN (NaN for an all-NaN row), without numpy's warning."""
    out = np.full(len(values), np.nan)
    some = np.isfinite(values).any(1)
    if some.any():
        out[some] = np.nanmedian(values[some], axis=1)
    return out


def _nearest_other(ends: np.ndarray, end_slot: np.ndarray, xy: np.ndarray,
                   support: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Distance from each end (K, L, 2), of slot ``end_slot`` (L,), to the nearest
    keypoint (K, 18, 2) of another person of the same slot or its mirror, and that
    keypoint's ``support`` (K, 18); (K, L) each (inf, -inf: nobody)."""
    n_people = len(xy)
    if n_people < 2:
        return np.full(ends.shape[:2], np.inf), np.full(ends.shape[:2], -np.inf)
    dist = np.linalg.norm(ends[:, :, None, None] - xy[None, None], axis=4)     # (K, L, K, 18)
    dist = np.where(np.isnan(dist), np.inf, dist)
    dist[np.arange(n_people), :, np.arange(n_people)] = np.inf
    dist[:, ~SAME_POINT[end_slot][:, None, :].repeat(n_people, 1)] = np.inf
    flat = dist.reshape(dist.shape[0], dist.shape[1], -1)
    best = flat.argmin(2)
    return np.take_along_axis(flat, best[..., None], 2)[..., 0], support.ravel()[best]


def components_without(person: Dict[int, int], limb: int, config: PoseConfig
                       ) -> Tuple[List[int], List[int]]:
    """The slots of ``person`` on each side of ``limb`` once it is cut.

    The person's limbs are every limb type whose two slots it holds (the
    redundant ear-shoulder limbs included), but ``limb``.

    Args:
        person: slot -> peak id.
        limb: index of the limb type cut.
        config: pose configuration.

    Returns:
        ``(side_a, side_b)``: the slots still connected to the limb's first
        slot, and those connected to its second slot (the same list when
        another path joins them).
    """
    slot_a, slot_b = (arr.tolist() for arr in config.limb_arrays[:2])
    edges = [(sa, sb) for k, (sa, sb) in enumerate(zip(slot_a, slot_b))
             if k != limb and sa in person and sb in person]

    def reach(start: int) -> List[int]:
        seen, todo = {start}, [start]
        while todo:
            here = todo.pop()
            for sa, sb in edges:
                other = sb if sa == here else sa if sb == here else None
                if other is not None and other not in seen:
                    seen.add(other)
                    todo.append(other)
        return sorted(seen)

    return reach(slot_a[limb]), reach(slot_b[limb])


def implausible(features: Dict[str, np.ndarray], max_length_ratio: float,
                min_length_ratio: float, min_paf: float, near: float
                ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which limbs a rule rejects, and why (a NaN feature never rejects).

    A limb is rejected for its shape when its length ratio is above
    ``max_length_ratio`` or below ``min_length_ratio``, or its lowest PAF
    projection below ``min_paf``; an end of it is claimed by another person
    when it lies within ``near`` expected lengths of that person's keypoint of
    the same or mirrored slot and that person's best limb there is stronger
    (``near`` 0: never). Values exactly at a threshold pass.

    Args:
        features: :func:`limb_features`' output.
        max_length_ratio: see above.
        min_length_ratio: see above.
        min_paf: see above.
        near: see above.

    Returns:
        ``(shape, claimed_a, claimed_b)``: (K, L) bool each.
    """
    with np.errstate(invalid="ignore"):
        ratio = features["length_ratio"]
        shape = (ratio > max_length_ratio) | (ratio < min_length_ratio)
        shape |= features["paf_min"] < min_paf
        claimed_a = (features["near_a"] < near) & features["rival_a"]
        claimed_b = (features["near_b"] < near) & features["rival_b"]
    return shape, claimed_a, claimed_b


def rule_is_off(rule: Dict[str, float]) -> bool:
    """Whether ``rule`` (:func:`implausible`'s keyword arguments) can cut no limb: every
    threshold at its off value (``max_length_ratio`` inf, ``min_length_ratio`` 0,
    ``min_paf`` -inf, ``near`` 0)."""
    return (rule["max_length_ratio"] == np.inf and rule["min_length_ratio"] <= 0
            and rule["min_paf"] == -np.inf and rule["near"] <= 0)


def cut_limbs(people: List[Dict[int, int]], part_xy: np.ndarray, pafs: np.ndarray,
              config: PoseConfig, rule: Dict[str, float], samples: int = 10,
              min_size: int = 2) -> Tuple[List[Dict[int, int]], List[bool]]:
    """People with their implausible limbs cut: the smaller side of each goes.

    Each person's rejected limbs (:func:`implausible` of :func:`limb_features`,
    the weakest PAF first where the rule samples PAFs, else in limb order:
    from the neck out) are cut in turn: when the cut splits the person,
    a limb of implausible shape loses the side with fewer keypoints (on a tie
    the limb's second end, the one further from the neck); a limb with an end
    claimed by another person loses that end's side when it is not the larger
    side (else nothing); a cut that splits nothing (a loop closed by an
    ear-shoulder limb) drops nothing.

    Args:
        people: slot -> peak id per person (empty dicts allowed, kept as they are).
        part_xy: (N, 2) position of each peak id, in cells.
        pafs: (H, W, 2 * L) PAFs.
        config: pose configuration.
        rule: keyword arguments of :func:`implausible`.
        samples: PAF samples along each limb.
        min_size: people with fewer keypoints are neither judged nor cut
            (the decoder passes its ``min_parts``: it drops them anyway), and
            are no one's neighbour.

    Returns:
        ``(people, changed)``: new dicts (the unchanged ones are the same
        objects) and, per person, whether it lost keypoints.
    """
    out, changed = list(people), [False] * len(people)
    if rule_is_off(rule):                   # the default: nothing to measure
        return out, changed
    judged = [k for k, person in enumerate(people) if len(person) >= max(min_size, 2)]
    if not judged:
        return out, changed
    slots = np.full((len(judged), NUM_PARTS), -1, np.int64)
    for row, k in enumerate(judged):
        slots[row, list(people[k])] = list(people[k].values())
    features = limb_features(slots, part_xy, pafs, config, samples, claims=rule["near"] > 0,
                             paf=rule["min_paf"] > -np.inf)
    shape, claimed_a, claimed_b = implausible(features, **rule)
    bad = shape | claimed_a | claimed_b
    for row in np.flatnonzero(bad.any(1)):
        k = judged[row]
        person = dict(people[k])
        limbs = np.flatnonzero(bad[row])
        for limb in limbs[np.argsort(features["paf_min"][row, limbs], kind="stable")]:
            slot_a, slot_b = config.limb_arrays[0][limb], config.limb_arrays[1][limb]
            if slot_a not in person or slot_b not in person:
                continue
            side_a, side_b = components_without(person, int(limb), config)
            if slot_a in side_b:
                continue
            smaller = side_a if len(side_a) < len(side_b) else side_b
            if not shape[row, limb]:        # only claimed: its claimed end's side, if smaller
                ends = ((side_a,) if claimed_a[row, limb] else ()) + \
                    ((side_b,) if claimed_b[row, limb] else ())
                if not any(side is smaller or len(side) == len(smaller) for side in ends):
                    continue
                smaller = min(ends, key=len)
            for slot in smaller:
                del person[slot]
            changed[k] = True
        if changed[k]:
            out[k] = person
    return out, changed
