"""Tracking and smoothing measured on clips made from real images with known motion.

Run from the project root::

    python -m benchmarks.bench_tracking [--frames 30] [--fps 30] [--sweep]

Clips (BGR frames built in memory from ``images/``, motion known exactly):

- ``pan``: zidane.jpg at 640x360, translated 3 px per frame (sub-pixel warps);
- ``zoom``: bus.jpg at 405x540, zoomed 1.0 -> 1.3 about its centre;
- ``still``: zidane.jpg at 640x360, still, with Gaussian camera noise (sigma 4
  grey levels) drawn afresh per frame: what the network sees of a still person;
- ``cross``: the two people of zidane.jpg cut out (their keypoint boxes plus a
  margin) and moved across each other on a flat background, the one walking
  left passing in front;
- ``hide``: zidane.jpg at 640x360 with the left person covered by the
  background for 5 frames (frames 10-14).

Every frame goes through the real network and decoder (``posekit.PoseEstimator``,
default network and decoder) once; the tracker and smoother then run on the
stored people. Ground truth is the frame-0 people (>= 8 keypoints) moved with
the known motion; each frame a true person takes the detection whose keypoint
centre is nearest (within half its box diagonal). Printed (markdown):

- identity switches: changes of the id a true person gets between frames;
- recoveries: the hidden person has its old id after the gap (``hide``);
- jitter: mean frame-to-frame keypoint displacement (px) on ``still``,
  raw and smoothed;
- lag: on ``pan``, (raw - smoothed) along the pan / pan speed, in frames,
  mean over the second half of the clip;
- tracker time: median ms per ``update`` on 10 hand-made walkers (300 frames)
  and on the real clips (tracker + smoother, per frame).

``--sweep`` adds the jitter / lag table over One Euro parameters used to pick
the defaults; ``--confirm-frames N`` sets ``TrackerParams.confirm_frames`` (1:
the tracker before tentative tracks, issue 35). No timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from posekit.video.smoothing import OneEuroParams, PoseSmoother  # noqa: E402
from posekit.video.tracking import PoseTracker, TrackerParams  # noqa: E402

from posekit.paths import ROOT  # noqa: E402
Clip = Tuple[List[np.ndarray], List[np.ndarray]]  # frames, per-frame (N, 2, 3) affines


def _affine(scale: float = 1.0, dx: float = 0.0, dy: float = 0.0,
            centre: Tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    cx, cy = centre
    return np.array([[scale, 0, cx - scale * cx + dx], [0, scale, cy - scale * cy + dy]])


def _warp(image: np.ndarray, m: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    return cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def load(name: str, scale: float) -> np.ndarray:
    image = cv2.imread(str(ROOT / "images" / name))
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def pan_clip(n: int, step: float = 3.0) -> Clip:
    base = load("zidane.jpg", 0.5)
    ms = [_affine(dx=step * (f - n / 2)) for f in range(n)]
    return [_warp(base, m) for m in ms], [m[None] for m in ms]


def zoom_clip(n: int, end: float = 1.3) -> Clip:
    base = load("bus.jpg", 0.5)
    h, w = base.shape[:2]
    ms = [_affine(1.0 + (end - 1.0) * f / (n - 1), centre=(w / 2, h / 2)) for f in range(n)]
    return [_warp(base, m) for m in ms], [m[None] for m in ms]


def still_clip(n: int, sigma: float = 4.0, seed: int = 0) -> Clip:
    base = load("zidane.jpg", 0.5).astype(np.float32)
    rng = np.random.default_rng(seed)
    frames = [np.clip(base + rng.normal(0, sigma, base.shape), 0, 255).astype(np.uint8)
              for _ in range(n)]
    return frames, [_affine()[None]] * n


def _boxes(keypoints: np.ndarray, margin: float) -> List[Tuple[int, int, int, int]]:
    out = []
    for person in keypoints:
        seen = person[:, 2] > 0
        x0, y0 = person[seen, :2].min(0)
        x1, y1 = person[seen, :2].max(0)
        mx, my = margin * (x1 - x0), margin * (y1 - y0)
        out.append((int(x0 - mx), int(y0 - my), int(x1 + mx), int(y1 + my)))
    return out


def true_people(estimator, image: np.ndarray, min_parts: int = 8) -> np.ndarray:
    people = estimator(image).keypoints
    return people[(people[..., 2] > 0).sum(1) >= min_parts]


def cross_clip(estimator, n: int, size: Tuple[int, int] = (640, 360)) -> Clip:
    """The two left people of bus.jpg cut out and walked across each other on a flat
    background, the second one (walking left) passing in front."""
    source = load("bus.jpg", 0.5)
    people = true_people(estimator, source)
    people = people[np.argsort(people[:, 1, 0])][:2]
    cuts = []
    for x0, y0, x1, y1 in _boxes(people, 0.12):
        x0, y0 = max(x0, 0), max(y0, 0)
        cuts.append(source[y0:y1, x0:x1].copy())
    width, height = size
    background = np.full((height, width, 3), tuple(int(c) for c in source.reshape(-1, 3).mean(0)),
                         np.uint8)
    def place(k: int, f: int) -> Tuple[int, int]:
        ch, cw = cuts[k].shape[:2]
        span = width - cw - 2 * 40
        x = 40 + (span * f / (n - 1) if k == 0 else span * (1 - f / (n - 1)))
        return int(round(x)), height - ch - 10

    frames, ms = [], []
    for f in range(n):
        frame = background.copy()
        for k, cut in enumerate(cuts):  # the second last: it passes in front
            x, y = place(k, f)
            frame[y:y + cut.shape[0], x:x + cut.shape[1]] = cut
        frames.append(frame)
        ms.append(np.stack([_affine(dx=place(k, f)[0] - place(k, 0)[0]) for k in range(2)]))
    return frames, ms


def hide_clip(estimator, n: int, start: int = 10, gap: int = 5) -> Tuple[Clip, int]:
    base = load("zidane.jpg", 0.5)
    people = true_people(estimator, base)
    hidden = int(np.argmin(people[:, 1, 0]))  # the left person
    x0, y0, x1, y1 = _boxes(people[hidden:hidden + 1], 0.15)[0]
    covered = base.copy()
    fill = cv2.blur(base, (61, 61))
    covered[max(y0, 0):y1, max(x0, 0):x1] = fill[max(y0, 0):y1, max(x0, 0):x1]
    frames = [covered if start <= f < start + gap else base for f in range(n)]
    return (frames, [_affine()[None]] * n), hidden


# --------------------------------------------------------------------------- scoring

def centre(person: np.ndarray) -> np.ndarray:
    seen = person[:, 2] > 0
    return person[seen, :2].mean(0)


def ground_truth(first: np.ndarray, ms: List[np.ndarray], truth_motion: str) -> List[np.ndarray]:
    """(P, 2) true centres per frame: frame-0 centres moved by the known affine(s)."""
    c0 = np.array([centre(p) for p in first])
    out = []
    for m in ms:
        mm = m if len(m) == len(c0) else np.repeat(m[:1], len(c0), 0)
        out.append(np.einsum("pij,pj->pi", mm[:, :, :2], c0) + mm[:, :, 2])
    return out


def match_truth(people: np.ndarray, truth: np.ndarray, radius: np.ndarray) -> List[int]:
    """Index of the detection of each true person (-1: none within ``radius``), one-to-one,
    nearest pairs first."""
    out = [-1] * len(truth)
    if not len(people):
        return out
    centres = np.array([centre(p) for p in people])
    d = np.hypot(*(centres[None] - truth[:, None]).transpose(2, 0, 1))  # (P, K)
    used = set()
    for flat in np.argsort(d, axis=None):
        p, k = np.unravel_index(flat, d.shape)
        if out[p] < 0 and k not in used and d[p, k] <= radius[p]:
            out[p] = int(k)
            used.add(k)
    return out


#: The tracker's settings (``--confirm-frames`` changes them).
PARAMS = [TrackerParams()]


def track(detections: List[np.ndarray], fps: float, smooth: Optional[OneEuroParams]):
    tracker = PoseTracker(PARAMS[0])
    smoother = PoseSmoother(smooth) if smooth else None
    ids, outs, times = [], [], []
    for f, people in enumerate(detections):
        t = f / fps
        start = time.perf_counter()
        frame_ids = tracker.update(people, t)
        out = smoother.update(people, frame_ids, t) if smoother else people
        times.append(time.perf_counter() - start)
        ids.append(frame_ids)
        outs.append(out)
    return ids, outs, times


def switches(detections, ids, truth, radius) -> Tuple[int, List[List[int]]]:
    per_person: List[List[int]] = [[] for _ in truth[0]]
    count = 0
    for people, frame_ids, t in zip(detections, ids, truth):
        for p, k in enumerate(match_truth(people, t, radius)):
            if k < 0:
                continue
            if per_person[p] and per_person[p][-1] != frame_ids[k]:
                count += 1
            per_person[p].append(int(frame_ids[k]))
    return count, per_person


def jitter(outs, ids) -> float:
    """Mean frame-to-frame displacement (px) of keypoints seen in both frames, same id."""
    steps = []
    for a, ia, b, ib in zip(outs, ids, outs[1:], ids[1:]):
        where = {int(i): k for k, i in enumerate(ib)}
        for k, i in enumerate(ia):
            if int(i) in where:
                q = b[where[int(i)]]
                both = (a[k, :, 2] > 0) & (q[:, 2] > 0)
                steps.extend(np.hypot(*(a[k, both, :2] - q[both, :2]).T))
    return float(np.mean(steps)) if steps else float("nan")


def lag_frames(raw, smoothed, ids, step: float) -> float:
    """Mean (raw - smoothed) x offset / pan step, over the second half (frames)."""
    lags = []
    for f in range(len(raw) // 2, len(raw)):
        both = (raw[f][..., 2] > 0)
        lags.extend((raw[f][..., 0] - smoothed[f][..., 0])[both] / step)
    return float(np.mean(lags)) if lags else float("nan")


def walkers(n_people: int = 10, frames: int = 300, seed: int = 0) -> List[np.ndarray]:
    """Hand-made people walking with noise, for the tracker's own time."""
    rng = np.random.default_rng(seed)
    shape = rng.uniform(-60, 60, (18, 2))
    start = rng.uniform(0, 1500, (n_people, 2))
    vel = rng.uniform(-5, 5, (n_people, 2))
    out = []
    for f in range(frames):
        people = np.ones((n_people, 18, 3))
        people[:, :, :2] = start[:, None] + vel[:, None] * f + shape + rng.normal(0, 2, (n_people,
                                                                                         18, 2))
        out.append(people[rng.permutation(n_people)])
    return out


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--confirm-frames", type=int, default=TrackerParams().confirm_frames)
    args = parser.parse_args(argv)
    PARAMS[0] = TrackerParams(confirm_frames=args.confirm_frames)
    from posekit import PoseEstimator

    estimator = PoseEstimator()
    n = args.frames
    hide, hidden = hide_clip(estimator, max(n, 25))
    clips: Dict[str, Clip] = {"pan": pan_clip(n), "zoom": zoom_clip(n), "still": still_clip(n),
                              "cross": cross_clip(estimator, n + 10), "hide": hide}
    detections: Dict[str, List[np.ndarray]] = {}
    start = time.perf_counter()
    for name, (frames, _) in clips.items():
        detections[name] = [estimator(f).keypoints for f in frames]
    network_s = time.perf_counter() - start
    total = sum(len(v) for v in detections.values())
    print(f"network + decoder: {total} frames in {network_s:.1f} s "
          f"({total / network_s:.2f} frames/s)\n")

    smooth = OneEuroParams()
    print(f"tracker: confirm_frames {PARAMS[0].confirm_frames}\n")
    print("| clip | frames | people | identity switches | ids per true person | ids given | "
          "people without an id (person-frames) |")
    print("|---|---|---|---|---|---|---|")
    results = {}
    for name, (frames, ms) in clips.items():
        first_people = true_people(estimator, frames[0])
        if name == "cross":
            first_people = first_people[np.argsort(first_people[:, 1, 0])][:2]
        truth = ground_truth(first_people, ms, name)
        radius = np.array([0.5 * np.hypot(*np.ptp(p[p[:, 2] > 0, :2], axis=0))
                           for p in first_people])
        ids, _, times = track(detections[name], args.fps, None)
        count, per_person = switches(detections[name], ids, truth, radius)
        results[name] = (ids, per_person, times)
        given = {i for frame_ids in ids for i in frame_ids.tolist() if i >= 0}
        unnamed = sum(int((frame_ids < 0).sum()) for frame_ids in ids)
        print(f"| {name} | {len(frames)} | {len(first_people)} | {count} | "
              f"{[sorted(set(p)) for p in per_person]} | {len(given)} | {unnamed} |")
    ids, per_person, _ = results["hide"]
    # the hidden person: its ids before and after the gap
    print(f"\nhide: the covered person's ids over the clip: {per_person[hidden]} "
          f"(recovered: {len(set(per_person[hidden])) == 1})")

    def smooth_measure(params: Optional[OneEuroParams]) -> Tuple[float, float]:
        sids, souts, _ = track(detections["still"], args.fps, params)
        pids, pouts, _ = track(detections["pan"], args.fps, params)
        return jitter(souts, sids), lag_frames(detections["pan"], pouts, pids, 3.0)

    raw_jitter, _ = smooth_measure(None)
    smooth_jitter, lag = smooth_measure(smooth)
    print(f"\n| still jitter raw (px/frame) | smoothed | ratio | pan lag smoothed (frames) |"
          f"\n|---|---|---|---|\n| {raw_jitter:.2f} | {smooth_jitter:.2f} | "
          f"{smooth_jitter / raw_jitter:.2f} | {lag:.2f} |")
    print(f"(One Euro min_cutoff={smooth.min_cutoff}, beta={smooth.beta}, "
          f"{args.fps:g} frames/s)")
    if args.sweep:
        print("\n| min_cutoff | beta | jitter ratio | pan lag (frames) |\n|---|---|---|---|")
        for mc in (0.3, 0.5, 1.0):
            for beta in (0.0, 0.01, 0.02, 0.05, 0.1):
                j, lg = smooth_measure(OneEuroParams(min_cutoff=mc, beta=beta))
                print(f"| {mc} | {beta} | {j / raw_jitter:.2f} | {lg:.2f} |")

    synthetic = walkers()
    tracker = PoseTracker(PARAMS[0])
    times = []
    for f, people in enumerate(synthetic):
        start = time.perf_counter()
        tracker.update(people, f / args.fps)
        times.append(time.perf_counter() - start)
    _, _, both_times = track(synthetic, args.fps, smooth)
    real = [t for name in results for t in track(detections[name], args.fps, smooth)[2]]
    print(f"\n| tracker ms/frame, 10 walkers | + smoother | real clips, tracker + smoother |"
          f"\n|---|---|---|\n| {1000 * statistics.median(times):.3f} | "
          f"{1000 * statistics.median(both_times):.3f} | {1000 * statistics.median(real):.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
