"""The One Euro smoother's settings on varied motion and on live frame timing (issue 33, item 5).

Run from the project root::

    python -m benchmarks.bench_smoothing [--frames 90] [--live-step 2.5]

Clips built from ``images/`` with known motion (the builders of
:mod:`benchmarks.bench_tracking`), 30 frames/s: ``still`` (zidane.jpg with fresh
camera noise per frame), ``pan`` (zidane.jpg, 3 px/frame), ``pan-bus`` (bus.jpg,
2 px/frame), ``zoom`` (bus.jpg, 1.0 -> 1.3), ``walk`` (two people of bus.jpg cut out
and walked across each other). Every frame goes through the network once.

Truth: each person's keypoints in frame 0's coordinates are the mean, over the clip,
of its detected keypoints moved back by the known motion (the per-frame noise
averages out); frame f's truth is that moved by frame f's motion. The score of a
setting on a clip is the mean distance (px) from the smoothed keypoints to the truth,
over the frames after the first 5, divided by the same for the raw keypoints: below 1
the smoother helps (less jitter), and lag on moving clips raises it.

Two timings: every frame at 1/30 s (a file), and **live**: the frames a consumer
that is ``--live-step`` times slower than the source would take, newest first
(gaps of 2 or 3 frames, times on the source's clock), as a live run sees them.

Printed: the score per clip and timing for a grid of ``min_cutoff`` x ``beta``, the
mean over all, the current defaults' row, and the best setting.
"""

from __future__ import annotations

import argparse
import os
import pickle
from typing import Dict, List, Optional, Tuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from benchmarks.bench_tracking import (  # noqa: E402
    _affine, _warp, centre, cross_clip, load, match_truth, pan_clip, still_clip, true_people,
    zoom_clip)
from posekit.video.smoothing import OneEuroParams, PoseSmoother  # noqa: E402
from posekit.video.tracking import PoseTracker  # noqa: E402

FPS = 30.0
GRID_MIN_CUTOFF = (0.3, 0.5, 0.7, 1.0, 1.5, 2.0)
GRID_BETA = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4)
WARM_UP = 5


def pan_bus_clip(n: int, step: float = 2.0):
    base = load("bus.jpg", 0.5)
    ms = [_affine(dx=step * (f - n / 2)) for f in range(n)]
    return [_warp(base, m) for m in ms], [m[None] for m in ms]


def live_indices(n: int, step: float) -> List[int]:
    """The frames a consumer ``step`` times slower than the source takes (newest first)."""
    out, t = [], 0.0
    while round(t) < n:
        out.append(int(round(t)))
        t += step
    return sorted(set(out))


def _moved(ms_f: np.ndarray, people: int) -> np.ndarray:
    return ms_f if len(ms_f) == people else np.repeat(ms_f[:1], people, 0)


def truth(detections: List[np.ndarray], ms: List[np.ndarray], first: np.ndarray
          ) -> List[np.ndarray]:
    """(P, 18, 3) true keypoints per frame (score 1 where the keypoint is known)."""
    people = len(first)
    radius = np.array([0.5 * np.hypot(*np.ptp(p[p[:, 2] > 0, :2], axis=0)) for p in first])
    m0 = _moved(ms[0], people)                 # frame 0's people, back to the source image
    c0 = np.einsum("pij,pj->pi", np.linalg.inv(m0[:, :, :2]),
                   np.array([centre(p) for p in first]) - m0[:, :, 2])
    sums, counts = np.zeros((people, 18, 2)), np.zeros((people, 18))
    for found, m in zip(detections, ms):
        mm = _moved(m, people)
        centres = np.einsum("pij,pj->pi", mm[:, :, :2], c0) + mm[:, :, 2]
        for p, k in enumerate(match_truth(found, centres, radius)):
            if k < 0:
                continue
            seen = found[k, :, 2] > 0
            inverse = np.linalg.inv(mm[p, :, :2])
            back = (found[k, :, :2] - mm[p, :, 2]) @ inverse.T
            sums[p][seen] += back[seen]
            counts[p][seen] += 1
    known = counts >= 0.5 * len(detections)
    x0 = sums / np.maximum(counts, 1)[..., None]
    out = []
    for m in ms:
        mm = _moved(m, people)
        t = np.zeros((people, 18, 3))
        t[..., :2] = np.einsum("pij,pkj->pki", mm[:, :, :2], x0) + mm[:, None, :, 2]
        t[..., 2] = known
        out.append(t)
    return out


def error(outs: List[np.ndarray], truths: List[np.ndarray]) -> float:
    """Mean distance (px) of keypoints to their truth, after :data:`WARM_UP` frames."""
    dists = []
    for found, true in list(zip(outs, truths))[WARM_UP:]:
        radius = np.full(len(true), 1e9)
        centres = np.array([centre(p) for p in true])
        for p, k in enumerate(match_truth(found, centres, radius)):
            if k < 0:
                continue
            both = (found[k, :, 2] > 0) & (true[p, :, 2] > 0)
            dists.extend(np.hypot(*(found[k, both, :2] - true[p, both, :2]).T))
    return float(np.mean(dists)) if dists else float("nan")


def step_jitter(outs: List[np.ndarray], truths: List[np.ndarray]) -> float:
    """Mean frame-to-frame step error (px): how far each keypoint's step between two
    processed frames is from its true step. A steady lag does not count, shaking does."""
    steps = []
    matched = []
    for found, true in zip(outs, truths):
        centres = np.array([centre(p) for p in true])
        pairs = match_truth(found, centres, np.full(len(true), 1e9))
        matched.append([found[k] if k >= 0 else None for k in pairs])
    for f in range(WARM_UP, len(outs) - 1):
        for p in range(len(truths[f])):
            a, b = matched[f][p], matched[f + 1][p]
            if a is None or b is None:
                continue
            both = (a[:, 2] > 0) & (b[:, 2] > 0) & (truths[f][p, :, 2] > 0)
            moved = (b[both, :2] - a[both, :2]) - (truths[f + 1][p, both, :2]
                                                    - truths[f][p, both, :2])
            steps.extend(np.hypot(*moved.T))
    return float(np.mean(steps)) if steps else float("nan")


def smoothed(detections: List[np.ndarray], times: List[float],
             params: Optional[OneEuroParams]) -> List[np.ndarray]:
    tracker = PoseTracker()
    smoother = PoseSmoother(params) if params else None
    outs = []
    for people, t in zip(detections, times):
        ids = tracker.update(people, t)
        outs.append(smoother.update(people, ids, t) if smoother else people)
    return outs


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--live-step", type=float, default=2.5,
                        help="how many times slower than the source the live consumer is")
    parser.add_argument("--cache", metavar="PATH.pkl",
                        help="keep the network's detections there (reused when present)")
    args = parser.parse_args(argv)
    n = args.frames
    cached = None
    if args.cache and os.path.exists(args.cache):
        with open(args.cache, "rb") as handle:
            cached = pickle.load(handle)
    if cached is None:
        from posekit import PoseEstimator

        estimator = PoseEstimator()
        clips = {"still": still_clip(n), "pan": pan_clip(n), "pan-bus": pan_bus_clip(n),
                 "zoom": zoom_clip(n), "walk": cross_clip(estimator, n)}
        cached = {}
        for name, (frames, ms) in clips.items():
            first = true_people(estimator, frames[0])
            if name == "walk":
                first = first[np.argsort(first[:, 1, 0])][:2]
            cached[name] = ([estimator(f).keypoints for f in frames], ms, first)
        if args.cache:
            with open(args.cache, "wb") as handle:
                pickle.dump(cached, handle)
    cases: Dict[Tuple[str, str], Tuple[List[np.ndarray], List[float], List[np.ndarray]]] = {}
    for name, (detections, ms, first) in cached.items():
        truths = truth(detections, ms, first)
        every = list(range(n))
        live = live_indices(n, args.live_step)
        for timing, picks in (("file", every), ("live", live)):
            cases[(name, timing)] = ([detections[k] for k in picks], [k / FPS for k in picks],
                                     [truths[k] for k in picks])
    keys = list(cases)
    raw = {key: error(smoothed(d, t, None), tr) for key, (d, t, tr) in cases.items()}
    raw_jitter = {key: step_jitter(smoothed(d, t, None), tr)
                  for key, (d, t, tr) in cases.items()}
    print("raw error / step jitter (px): " + ", ".join(
        f"{a}/{b} {raw[(a, b)]:.2f} / {raw_jitter[(a, b)]:.2f}" for a, b in keys))
    print("\nPer clip: step jitter ratio / error ratio (smoothed over raw; below 1: better)\n")
    print("| min_cutoff | beta | " + " | ".join(f"{a} {b}" for a, b in keys)
          + " | mean jitter | mean error | worst error |")
    print("|---|---|" + "---|" * (len(keys) + 3))
    rows = []
    default = OneEuroParams()
    for mc in GRID_MIN_CUTOFF:
        for beta in GRID_BETA:
            params = OneEuroParams(min_cutoff=mc, beta=beta)
            outs = {key: smoothed(d, t, params) for key, (d, t, _) in cases.items()}
            jit = [step_jitter(outs[key], cases[key][2]) / raw_jitter[key] for key in keys]
            err = [error(outs[key], cases[key][2]) / raw[key] for key in keys]
            rows.append((float(np.mean(jit)), float(np.mean(err)), max(err), mc, beta))
            mark = " (default)" if (mc, beta) == (default.min_cutoff, default.beta) else ""
            print(f"| {mc} | {beta}{mark} | " + " | ".join(
                f"{j:.2f} / {e:.2f}" for j, e in zip(jit, err))
                + f" | {np.mean(jit):.3f} | {np.mean(err):.3f} | {max(err):.2f} |", flush=True)
    for bound in (1.1, 1.25, 1.5):
        fit = [r for r in rows if r[2] <= bound]
        if fit:
            best = min(fit)
            print(f"\nleast jitter with every clip's error ratio <= {bound}: min_cutoff="
                  f"{best[3]}, beta={best[4]}: mean jitter ratio {best[0]:.3f}, mean error "
                  f"ratio {best[1]:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
