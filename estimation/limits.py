"""Bounds on the work of the decoding stages, so memory is bounded for any map.

Pairs of candidates grow with the square of the candidates per part, so a
noise map (or a threshold of 0) could ask for billions of candidate limbs.
Every stage therefore keeps at most :data:`MAX_PEAKS_PER_PART` candidates of
each part (the strongest; a :class:`CandidateCapWarning` says so, once per
place) and scores candidate limbs in blocks of at most :data:`PAIR_BLOCK`
pairs. With these bounds a stage holds at most 19 x 128 x 128 = 311,296
candidate pairs and about 30 MB of per-block sampling arrays (measured worst
case in docs/limits.md).
"""

from __future__ import annotations

import warnings

import numpy as np

# Candidates kept per body part. The most found on one of the 400 COCO dev
# images is 36 at the lab's threshold 0.1 and 54 at the best decoder's 0.03,
# so 128 only ever binds on maps no network produced for a real photo.
MAX_PEAKS_PER_PART = 128
# Samples along one candidate limb: 10x the 10 of CMU, the handout and our decoders.
MAX_LIMB_SAMPLES = 100
# Gaussian smoothing of the best decoder, in cells (kernel radius 2.5 sigma = 25 cells);
# the dev-set sweep found 0 best and 1 already costs 0.02 AP.
MAX_SMOOTH_SIGMA = 10.0
# Candidate limbs sampled at once (x 10 samples x ~10 arrays x 8 bytes ~ 26 MB).
PAIR_BLOCK = 32768


class CandidateCapWarning(UserWarning):
    """More candidates of a part than :data:`MAX_PEAKS_PER_PART`: the weakest were dropped."""


def strongest_per_part(part: np.ndarray, score: np.ndarray,
                       cap: int = MAX_PEAKS_PER_PART) -> np.ndarray:
    """Indices of the ``cap`` highest-scored candidates of each part, in input order.

    Args:
        part: (N,) int part index of each candidate.
        score: (N,) float score of each candidate.
        cap: candidates kept per part (>= 1).

    Returns:
        (M,) sorted int indices into the inputs, ``M <= N``; all of them when
        no part has more than ``cap`` candidates (then nothing is warned).

    Raises:
        ValueError: ``cap`` < 1 or ``part`` and ``score`` of different lengths.
    """
    part = np.asarray(part)
    score = np.asarray(score, dtype=np.float64)
    if int(cap) < 1:
        raise ValueError(f"cap must be at least 1, got {cap}")
    if part.shape != score.shape:
        raise ValueError(f"part {part.shape} and score {score.shape} differ in length")
    if len(part) == 0 or np.bincount(part.astype(np.intp)).max() <= cap:
        return np.arange(len(part))
    order = np.lexsort((-score, part))                # by part, strongest first
    sorted_part = part[order]
    first = np.searchsorted(sorted_part, sorted_part)  # start of each part's run
    rank = np.arange(len(part)) - first
    warnings.warn(f"more than {cap} candidates of one body part: only the {cap} strongest of "
                  "each part are kept (see estimation.limits)", CandidateCapWarning,
                  stacklevel=3)
    return np.sort(order[rank < cap])


def blocks(total: int, size: int = PAIR_BLOCK):
    """``slice`` objects covering ``range(total)`` in blocks of at most ``size``."""
    for start in range(0, total, size):
        yield slice(start, min(start + size, total))
