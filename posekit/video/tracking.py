"""People tracking across frames: each person keeps one id while the stream lasts.

:class:`PoseTracker` is fed the people of one frame at a time (``(K, 18, 3)``
keypoints, CMU order, as the decoders and :func:`posekit.io.export.skeleton_keypoints`
give them) and answers one id per person. People are matched to the live
tracks by an OKS-like keypoint similarity (COCO's per-keypoint sigmas, the
track's box area as the scale) against each track's predicted position
(constant velocity of its centre); the assignment is greedy on the similarity
matrix, best pair first, which never gives one track to two people. A track
that finds no person is kept ``max_missed`` frames, so a short occlusion
keeps the id. An unmatched person starts a *tentative* track, as SORT's
``min_hits`` and DeepSORT's ``n_init`` do: the track gets its id (ids are
never reused) once matched in ``confirm_frames`` frames in a row, and dies
silently when it misses a frame before that; people on the stream's first
frame get their ids at once. Until then the person is returned with id -1
(unconfirmed: no id yet). Confirmed tracks are matched first, tentative
ones to the people left. An unmatched person is not even a tentative track
when it is a fragment of a person matched in the same frame: few keypoints,
lying on that track's predicted keypoints (the decoder sometimes splits a
large person into a body and a 4-9 keypoint piece for a frame or two).
:meth:`PoseTracker.update` answers -1 for a fragment too (:attr:`PoseTracker.fragments`
says which) and :meth:`PoseTracker.update_people` joins it to its person.

Works on any stream of frames: the tracker holds only its tracks, no frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from posekit.lab.config import NUM_PARTS, BodyPart

_P = BodyPart
#: COCO's keypoint sigmas (cocoapi, cocoeval.py) in our CMU slot order; the neck, which COCO
#: lacks, takes the shoulders' sigma.
KEYPOINT_SIGMAS = np.array([
    0.026,  # nose
    0.079,  # neck (shoulders' value)
    0.079, 0.072, 0.062,  # right shoulder, elbow, wrist
    0.079, 0.072, 0.062,  # left shoulder, elbow, wrist
    0.107, 0.087, 0.089,  # right hip, knee, ankle
    0.107, 0.087, 0.089,  # left hip, knee, ankle
    0.025, 0.025,  # right eye, left eye
    0.035, 0.035,  # right ear, left ear
])
KEYPOINT_SIGMAS.setflags(write=False)
assert len(KEYPOINT_SIGMAS) == NUM_PARTS and _P.left_ear == NUM_PARTS - 1


@dataclass(frozen=True)
class TrackerParams:
    """Settings of :class:`PoseTracker`, validated at construction.

    Raises:
        ValueError: naming the field out of range.
    """

    # Least similarity (0..1) of a person to a track for a match; tuned on the benchmark's
    # crossing clip (benchmarks/bench_tracking.py): no switch from 0.05 to 0.15, one at 0.2.
    min_similarity: float = 0.1
    # Frames a track is kept without a match; the target is a 5-frame occlusion.
    max_missed: int = 10
    # Least keypoints seen in both a person and a track for any similarity (OKS over 1 is noise).
    min_common: int = 2
    # Smallest box side (pixels) used as the OKS scale, so that a person with few keypoints
    # (a face only) still has a finite tolerance: a 32-px box is COCO's "small" object size.
    min_box_side: float = 32.0
    # Weight of the newest velocity measurement (median keypoint step) in the track's
    # velocity, an exponential average; 0.3-0.8 behave alike on the benchmark clips.
    velocity_weight: float = 0.5
    # An unmatched person is a fragment of a track matched in the same frame when its
    # similarity to that track's prediction is at least this (0 disables), ...
    fragment_similarity: float = 0.3
    # ... this share of its keypoints lies in the prediction's box (10 % margin), ...
    fragment_inside: float = 0.8
    # ... and it has at most this many keypoints. Set on the clips of
    # benchmarks/bench_fragments.py (docs/records/accuracy_scales.md): zidane.jpg's split
    # Zidane scores 0.6-0.96 with all inside; the person cut by the close-up's left
    # edge 0.2-0.6 with 14-62 % inside (once 0.36 with all inside).
    fragment_parts: int = 9
    # Frames in a row a new track must be matched before it gets its id (1: at once, the
    # tracker before): DeepSORT's n_init; on benchmarks/bench_fragments.py's clips
    # (docs/records/accuracy_scales.md) short-lived ids 13 -> 1 (2: 13 -> 3).
    confirm_frames: int = 3

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_similarity <= 1.0:
            raise ValueError(f"min_similarity must be in [0, 1], got {self.min_similarity}")
        if int(self.max_missed) != self.max_missed or self.max_missed < 0:
            raise ValueError(f"max_missed must be an integer >= 0, got {self.max_missed}")
        if int(self.min_common) != self.min_common or self.min_common < 1:
            raise ValueError(f"min_common must be an integer >= 1, got {self.min_common}")
        if not self.min_box_side > 0:
            raise ValueError(f"min_box_side must be > 0, got {self.min_box_side}")
        if not 0.0 <= self.velocity_weight <= 1.0:
            raise ValueError(f"velocity_weight must be in [0, 1], got {self.velocity_weight}")
        if not 0.0 <= self.fragment_inside <= 1.0:
            raise ValueError(f"fragment_inside must be in [0, 1], got {self.fragment_inside}")
        if not 0.0 <= self.fragment_similarity <= 1.0:
            raise ValueError(f"fragment_similarity must be in [0, 1], got "
                             f"{self.fragment_similarity}")
        if int(self.fragment_parts) != self.fragment_parts or not \
                0 <= self.fragment_parts <= NUM_PARTS:
            raise ValueError(f"fragment_parts must be an integer in [0, {NUM_PARTS}], got "
                             f"{self.fragment_parts}")
        if int(self.confirm_frames) != self.confirm_frames or self.confirm_frames < 1:
            raise ValueError(f"confirm_frames must be an integer >= 1, got {self.confirm_frames}")


def check_keypoints(keypoints: np.ndarray, name: str = "keypoints") -> np.ndarray:
    """``keypoints`` as a finite (K, 18, 3) float64 array.

    Raises:
        ValueError: naming ``name`` when the shape is wrong or a value is not finite.
    """
    arr = np.asarray(keypoints, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, NUM_PARTS, 3))
    if arr.ndim != 3 or arr.shape[1:] != (NUM_PARTS, 3):
        raise ValueError(f"{name} must have shape (K, {NUM_PARTS}, 3), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite")
    return arr


def box_areas(keypoints: np.ndarray, min_side: float) -> np.ndarray:
    """Area of each person's keypoint box, each side at least ``min_side``.

    Args:
        keypoints: (K, 18, 3); a keypoint with score 0 is missing.
        min_side: the smallest side, pixels.

    Returns:
        (K,) float64 areas in square pixels.
    """
    seen = keypoints[..., 2] > 0
    big, small = np.inf, -np.inf
    xs, ys = keypoints[..., 0], keypoints[..., 1]
    width = np.where(seen, xs, small).max(1) - np.where(seen, xs, big).min(1)
    height = np.where(seen, ys, small).max(1) - np.where(seen, ys, big).min(1)
    width = np.where(seen.any(1), np.maximum(width, min_side), min_side)
    height = np.where(seen.any(1), np.maximum(height, min_side), min_side)
    return width * height


def similarity(tracks: np.ndarray, people: np.ndarray, min_common: int = 2,
               min_box_side: float = 32.0) -> np.ndarray:
    """OKS-like similarity of every track to every person.

    ``mean over keypoints seen in both of exp(-d^2 / (2 * area * (2 sigma)^2))``,
    COCO's OKS with the track's keypoint box area (sides >= ``min_box_side``)
    standing for the object area; 0 when fewer than ``min_common`` keypoints are
    seen in both.

    Args:
        tracks: (T, 18, 3) the tracks' (predicted) keypoints.
        people: (K, 18, 3) this frame's keypoints.
        min_common: least keypoints seen in both.
        min_box_side: smallest box side, pixels.

    Returns:
        (T, K) float64 in [0, 1].
    """
    if len(tracks) == 0 or len(people) == 0:
        return np.zeros((len(tracks), len(people)))
    both = (tracks[:, None, :, 2] > 0) & (people[None, :, :, 2] > 0)  # (T, K, 18)
    d2 = ((tracks[:, None, :, :2] - people[None, :, :, :2]) ** 2).sum(-1)
    area = box_areas(tracks, min_box_side)[:, None, None]
    e = d2 / (2.0 * area * (2.0 * KEYPOINT_SIGMAS) ** 2)
    count = both.sum(-1)
    oks = np.where(both, np.exp(-e), 0.0).sum(-1) / np.maximum(count, 1)
    return np.where(count >= min_common, oks, 0.0)


def inside_share(points: np.ndarray, person: np.ndarray, margin: float = 0.1) -> float:
    """Share of ``points`` (n, 2) inside ``person``'s (18, 3) keypoint box, grown by
    ``margin`` of its width and height on each side (0 when either has no points)."""
    seen = person[:, 2] > 0
    if not len(points) or not seen.any():
        return 0.0
    low, high = person[seen, :2].min(0), person[seen, :2].max(0)
    pad = margin * (high - low)
    return float(((points >= low - pad) & (points <= high + pad)).all(1).mean())


def greedy_assignment(scores: np.ndarray, threshold: float) -> List[tuple]:
    """Pairs (row, column) taken best score first, each row and column once.

    Args:
        scores: (T, K) similarities.
        threshold: a pair needs a score >= this.

    Returns:
        ``[(row, column), ...]`` in the order taken.
    """
    pairs = []
    if scores.size == 0:
        return pairs
    flat = np.argsort(-scores, axis=None, kind="stable")
    used_rows, used_cols = set(), set()
    rows, cols = np.unravel_index(flat, scores.shape)
    for r, c in zip(rows.tolist(), cols.tolist()):
        if scores[r, c] < threshold:
            break
        if r in used_rows or c in used_cols:
            continue
        used_rows.add(r)
        used_cols.add(c)
        pairs.append((r, c))
        if len(used_rows) == scores.shape[0] or len(used_cols) == scores.shape[1]:
            break
    return pairs


@dataclass
class _Track:
    keypoints: np.ndarray  # (18, 3) last seen
    time: float            # when last seen
    velocity: Optional[np.ndarray] = None  # (2,) pixels per time unit of the centre
    missed: int = 0
    track_id: int = -1     # its public id; -1 while tentative
    hits: int = 1          # frames matched in a row while tentative
    age: np.ndarray = field(default_factory=lambda: np.zeros(NUM_PARTS, dtype=np.int64))


class PoseTracker:
    """Stateful tracker: feed it each frame's people, get back one id per person.

    Example::

        tracker = PoseTracker()
        for t, image in frames:
            ids = tracker.update(estimator(image).keypoints, t)   # (K,) int64

    Ids start at 0 and are never reused; no two people of one frame share an id;
    -1 marks a person without an id (a fragment, or a track not confirmed yet).
    """

    def __init__(self, params: TrackerParams = TrackerParams()) -> None:
        if not isinstance(params, TrackerParams):
            raise ValueError(f"params must be a TrackerParams, got {type(params).__name__}")
        self.params = params
        self._tracks: Dict[int, _Track] = {}   # by a private key; the public id is inside
        self._next_id = 0
        self._next_key = 0
        self._frame = 0
        self._last_time: Optional[float] = None
        #: Of the last update: fragment index -> index of the person it belongs to.
        self.fragments: Dict[int, int] = {}
        #: Of the last update: indices of the people on a tentative track (id -1, no fragment).
        self.tentative: List[int] = []

    @property
    def live_ids(self) -> List[int]:
        """Ids of the confirmed tracks kept now (seen, or missed for at most ``max_missed``
        frames)."""
        return [t.track_id for t in self._tracks.values() if t.track_id >= 0]

    def reset(self) -> None:
        """Forget every track (a new stream; ids keep counting up)."""
        self._tracks.clear()
        self._frame = 0
        self._last_time = None

    def _predicted(self, time: float) -> np.ndarray:
        out = np.zeros((len(self._tracks), NUM_PARTS, 3))
        for i, track in enumerate(self._tracks.values()):
            out[i] = track.keypoints
            if track.velocity is not None:
                shift = track.velocity * (time - track.time)
                out[i, :, :2] += np.where(track.keypoints[:, 2:] > 0, shift, 0.0)
        return out

    def update(self, keypoints: np.ndarray, time: Optional[float] = None) -> np.ndarray:
        """Match this frame's people to the tracks and return their ids.

        Args:
            keypoints: (K, 18, 3) ``x, y, score`` in pixels; score 0 marks a missing keypoint.
            time: the frame's time (seconds), strictly increasing; None counts frames
                (0, 1, 2, ...), which must then be used for the whole stream.

        Returns:
            (K,) int64 ids, in the order of ``keypoints``; -1 for a fragment of
            another person of the frame (:attr:`fragments` says whose;
            :meth:`update_people` joins them) and for a person whose track is
            not confirmed yet (:attr:`tentative`).

        Raises:
            ValueError: if ``keypoints`` is malformed or ``time`` is not after the last one.
        """
        people = check_keypoints(keypoints)
        now = float(self._frame) if time is None else float(time)
        if not np.isfinite(now):
            raise ValueError(f"time must be finite, got {time}")
        if self._last_time is not None and now <= self._last_time:
            raise ValueError(f"time must increase: got {now} after {self._last_time}")
        first = self._frame == 0
        self._frame += 1
        self._last_time = now
        p = self.params
        keys = list(self._tracks)
        predicted = self._predicted(now)
        scores = similarity(predicted, people, p.min_common, p.min_box_side)
        matched = np.full(len(people), -1, dtype=np.int64)    # row in keys, per person
        confirmed = np.array([self._tracks[k].track_id >= 0 for k in keys], dtype=bool)
        for rows in (np.flatnonzero(confirmed), np.flatnonzero(~confirmed)):
            free = np.flatnonzero(matched < 0)
            for r, c in greedy_assignment(scores[np.ix_(rows, free)], p.min_similarity):
                matched[free[c]] = rows[r]
        ids = np.full(len(people), -1, dtype=np.int64)
        for col in np.flatnonzero(matched >= 0).tolist():
            track = self._tracks[keys[matched[col]]]
            self._follow(track, people[col], now)
            if track.track_id < 0:
                track.hits += 1
                if track.hits >= p.confirm_frames:
                    track.track_id, self._next_id = self._next_id, self._next_id + 1
            ids[col] = track.track_id
        seen = set(matched.tolist())
        for row, key in enumerate(keys):
            track = self._tracks[key]
            if row not in seen:
                track.missed += 1
                if track.track_id < 0 or track.missed > p.max_missed:
                    del self._tracks[key]      # a tentative track dies at its first miss
        self.fragments = self._find_fragments(scores, matched, people, predicted)
        for col in np.flatnonzero(matched < 0).tolist():
            if col in self.fragments:
                continue
            track = self._tracks[self._next_key] = _Track(people[col].copy(), now)
            self._next_key += 1
            if first or p.confirm_frames <= 1:
                track.track_id, self._next_id = self._next_id, self._next_id + 1
            ids[col] = track.track_id
        self.tentative = [c for c in np.flatnonzero(ids < 0).tolist() if c not in self.fragments]
        return ids

    def update_people(self, keypoints: np.ndarray, time: Optional[float] = None
                      ) -> "tuple[np.ndarray, np.ndarray, np.ndarray]":
        """:meth:`update`, with each fragment joined to its person.

        Args:
            keypoints: (K, 18, 3) as for :meth:`update`.
            time: as for :meth:`update`.

        Returns:
            ``(people (K', 18, 3), ids (K',), kept (K',))``: the people
            without their fragments, each fragment's keypoints filling the
            slots its person lacks; their ids as :meth:`update` gives them
            (-1: a person not confirmed yet, kept); the index in ``keypoints`` of each.

        Raises:
            ValueError: as :meth:`update`.
        """
        ids = self.update(keypoints, time)
        people = check_keypoints(keypoints).copy()
        for col, owner in self.fragments.items():
            empty = people[owner, :, 2] <= 0
            people[owner, empty] = people[col, empty]
        kept = np.array([k for k in range(len(ids)) if k not in self.fragments], np.int64)
        return people[kept], ids[kept], kept

    def _find_fragments(self, scores: np.ndarray, rows: np.ndarray, people: np.ndarray,
                        predicted: np.ndarray) -> Dict[int, int]:
        """Unmatched people (``rows`` -1: (K,) each person's track row) that are fragments
        of a person matched this frame: ``{fragment index: person index}``."""
        p = self.params
        out: Dict[int, int] = {}
        if p.fragment_similarity <= 0 or not len(predicted):
            return out
        matched = {int(row): col for col, row in enumerate(rows.tolist()) if row >= 0}
        counts = (people[:, :, 2] > 0).sum(1)
        for col in np.flatnonzero(rows < 0).tolist():
            if counts[col] > p.fragment_parts:
                continue
            best, owner = p.fragment_similarity, None
            found = people[col, people[col, :, 2] > 0, :2]
            for row, person in matched.items():
                if scores[row, col] >= best and inside_share(
                        found, predicted[row]) >= p.fragment_inside:
                    best, owner = scores[row, col], person
            if owner is not None:
                out[col] = owner
        return out

    def _follow(self, track: _Track, person: np.ndarray, now: float) -> None:
        both = (track.keypoints[:, 2] > 0) & (person[:, 2] > 0)
        step = np.zeros(2)
        if both.any():
            step = np.median(person[both, :2] - track.keypoints[both, :2], axis=0)
            shift = step / (now - track.time)
            w = self.params.velocity_weight
            track.velocity = shift if track.velocity is None \
                else w * shift + (1.0 - w) * track.velocity
        # A keypoint this detection lacks is remembered (moved with the person) for up to
        # max_missed frames, so a partly hidden person still matches on its whole body.
        seen = person[:, 2] > 0
        kept = ~seen & (track.keypoints[:, 2] > 0) & (track.age < self.params.max_missed)
        keypoints = person.copy()
        keypoints[kept] = track.keypoints[kept]
        keypoints[kept, :2] += step
        track.age = np.where(seen, 0, track.age + 1)
        track.keypoints = keypoints
        track.time = now
        track.missed = 0
