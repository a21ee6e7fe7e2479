"""Join two fragments of one person that greedy assembly left apart.

Greedy assembly never merges two people that hold the same slot. When the
network gives one person two peaks of a part (Zidane bent forward on
``images/zidane.jpg`` at 640 px gets two neck peaks), each peak starts its own
person and the person comes out in two fragments. Here two people are joined
when at least :data:`MIN_CROSS_LIMBS` candidate limbs between them pass the
decoder's strict limb test, counting only limbs whose two ends survive the
join; where both hold a slot, the stronger heatmap peak is kept. Two people
who merely stand close rarely have even one PAF-supported limb between them,
so crowds are left alone (the dev-set measurement is in README).
"""

from __future__ import annotations

from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np

from posekit.lab.config import PoseConfig

#: Strict cross limbs needed to join two people: one could be a limb of a
#: neighbour pointing the same way; Zidane's two fragments have three.
MIN_CROSS_LIMBS = 2

#: A shared slot's weaker peak must be at most this share of the stronger: two
#: strong necks are two people; Zidane's second neck is 0.32 of his first.
MAX_LOSER_RATIO = 0.5

#: ``(a_xy (P, 2), b_xy (P, 2), limb types (P,)) -> (score (P,), strong (P,) bool)``.
PairScorer = Callable[[np.ndarray, np.ndarray, np.ndarray], Tuple[np.ndarray, np.ndarray]]


def join(first: Dict[int, int], second: Dict[int, int],
         part_scores: Sequence[float]) -> Dict[int, int]:
    """The union of two people (slot -> peak id); a shared slot keeps the stronger peak."""
    out = dict(first)
    for slot, peak in second.items():
        if slot not in out or part_scores[peak] > part_scores[out[slot]]:
            out[slot] = peak
    return out


def join_fragments(people: List[Dict[int, int]], part_scores: np.ndarray,
                   part_xy: np.ndarray, score_pairs: PairScorer,
                   config: PoseConfig) -> List[Tuple[Dict[int, int], Tuple[int, ...]]]:
    """Join fragments of one person, strongest evidence first, until none is left.

    Args:
        people: slot -> peak id per person (empty dicts are ignored).
        part_scores: (N,) heatmap value of each peak id.
        part_xy: (N, 2) position of each peak id, in cells.
        score_pairs: the decoder's limb scorer.
        config: pose configuration (limb types).

    Returns:
        The people after joining, each with the indices in ``people`` of the
        fragments it is made of (empty people are dropped).
    """
    sources = [(k,) for k, p in enumerate(people) if p]
    people = [dict(p) for p in people if p]
    slot_a, slot_b = (a.tolist() for a in config.limb_arrays[:2])
    scores = np.asarray(part_scores, np.float64).tolist()    # Python floats: the same values
    while len(people) > 1:
        boxes = _boxes(part_xy, people)
        cand_i, cand_j, joined_of, a_ids, b_ids, types = [], [], [], [], [], []
        for i in range(len(people)):
            for j in range(i + 1, len(people)):
                shared = people[i].keys() & people[j].keys()
                if not shared or not _overlap(boxes[i], boxes[j]):
                    continue      # no shared slot (assembly would have joined them), or apart
                pairs = [(scores[people[i][s]], scores[people[j][s]]) for s in shared]
                if any(min(p) > MAX_LOSER_RATIO * max(p) for p in pairs):
                    continue              # two real peaks of a part: two people
                union = join(people[i], people[j], scores)
                for k, (sa, sb) in enumerate(zip(slot_a, slot_b)):
                    if sa not in union or sb not in union:
                        continue
                    a, b = union[sa], union[sb]
                    src_a = people[i].get(sa) == a
                    src_b = people[i].get(sb) == b
                    if src_a != src_b:    # one end from each fragment: a cross limb
                        cand_i.append(i)
                        cand_j.append(j)
                        a_ids.append(a)
                        b_ids.append(b)
                        types.append(k)
                joined_of.append(((i, j), union))
        if not types:
            break
        _, strong = score_pairs(part_xy[a_ids], part_xy[b_ids], np.asarray(types, np.intp))
        count: Dict[Tuple[int, int], int] = {}
        for i, j, ok in zip(cand_i, cand_j, strong.tolist()):
            count[(i, j)] = count.get((i, j), 0) + ok
        best = max(count, key=lambda key: (count[key], -key[0], -key[1]))
        if count[best] < MIN_CROSS_LIMBS:
            break
        i, j = best
        people[i] = dict(joined_of)[best]
        sources[i] = sources[i] + sources[j]
        del people[j], sources[j]
    return list(zip(people, sources))


def _boxes(part_xy: np.ndarray, people: List[Dict[int, int]]) -> List[List[float]]:
    """``[x0, y0, x1, y1]`` of each (non-empty) person's parts, all people at once."""
    ids = np.fromiter((i for p in people for i in p.values()), np.intp)
    starts = np.cumsum([0] + [len(p) for p in people[:-1]])
    xy = np.asarray(part_xy)[ids]
    return np.concatenate([np.minimum.reduceat(xy, starts), np.maximum.reduceat(xy, starts)],
                          axis=1).tolist()


def _overlap(first: List[float], second: List[float]) -> bool:
    """Whether two boxes ``x0, y0, x1, y1`` intersect."""
    return (first[0] <= second[2] and second[0] <= first[2]
            and first[1] <= second[3] and second[1] <= first[3])
