"""Short-lived track ids on clips made from real images: fragments in video (issue 35).

Run from the project root::

    python -m benchmarks.bench_fragments [--frames 90] [--fps 30]

Clips (BGR frames built in memory from ``images/``, as ``benchmarks.bench_tracking``
makes them):

- ``bus-pan-zoom``: bus.jpg at 810x1080 (the estimator downscales it to 640),
  panned 2 px per frame and zoomed 1.0 -> 1.3 about its centre;
- ``zidane-pan``: zidane.jpg at 640x360 translated 3 px per frame;
- ``bus-zoom``: bus.jpg at 405x540 zoomed 1.0 -> 1.3;
- ``close-up``: the two men of bus.jpg cropped to 480x640 (x 0-435, y 360-940:
  the man in the fur coat fills ~93 % of the height), zoomed 1.0 -> 1.2.

Each frame goes through ``posekit.PoseEstimator`` (default network) with and
without the scale-aware decoding, then through ``PoseTracker`` with three
settings: ``before`` (``fragment_similarity = 0``, ``confirm_frames = 1``: the
tracker before issue 35), ``fragments joined`` (``confirm_frames = 1``) and
the default (fragments joined, a new track confirmed after 3 frames).
Printed: per clip and setting, the ids and how many lived at most 5 frames
(short-lived), the fragments joined, and the person-frames returned without an
id (-1: on a track not confirmed yet) out of all returned. ``--sweep`` adds the
totals over the clips (scale-aware) for ``confirm_frames`` 1 to 5 and for 3
without fragment joining. No timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Dict, List, Optional, Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.bench_tracking import _affine, _warp, load  # noqa: E402
from posekit.video.tracking import PoseTracker, TrackerParams  # noqa: E402

#: An id seen in at most this many frames is short-lived.
SHORT = 5


def clips(n: int) -> Dict[str, List[np.ndarray]]:
    """The clips' frames, by name."""
    bus = load("bus.jpg", 1.0)
    h, w = bus.shape[:2]
    out = {"bus-pan-zoom": [_warp(bus, _affine(1.0 + 0.3 * f / (n - 1), dx=2.0 * f - n,
                                                centre=(w / 2, h / 2))) for f in range(n)]}
    zidane = load("zidane.jpg", 0.5)
    out["zidane-pan"] = [_warp(zidane, _affine(dx=3.0 * (f - n / 2))) for f in range(n)]
    small = load("bus.jpg", 0.5)
    sh, sw = small.shape[:2]
    out["bus-zoom"] = [_warp(small, _affine(1.0 + 0.3 * f / (n - 1), centre=(sw / 2, sh / 2)))
                       for f in range(n)]
    close = cv2.resize(bus[360:940, 0:435], (480, 640), interpolation=cv2.INTER_AREA)
    out["close-up"] = [_warp(close, _affine(1.0 + 0.2 * f / (n - 1), centre=(240, 320)))
                       for f in range(n)]
    return out


#: The tracker settings compared, by label.
SETTINGS = {"before": TrackerParams(fragment_similarity=0.0, confirm_frames=1),
            "fragments joined": TrackerParams(confirm_frames=1),
            "default": TrackerParams()}


def short_lived(detections: List[np.ndarray], fps: float, params: TrackerParams):
    """(ids, short-lived ids, fragments joined, person-frames without an id, person-frames)
    of one tracked clip."""
    tracker = PoseTracker(params)
    frames: Dict[int, int] = {}
    joined = unnamed = returned = 0
    for f, people in enumerate(detections):
        _, ids, _ = tracker.update_people(people, f / fps)
        for i in ids.tolist():
            if i >= 0:
                frames[i] = frames.get(i, 0) + 1
        joined += len(tracker.fragments)
        unnamed += int((ids < 0).sum())
        returned += len(ids)
    return len(frames), sum(1 for c in frames.values() if c <= SHORT), joined, unnamed, returned


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; returns the exit status."""
    from posekit import PoseEstimator
    from posekit.networks.inference import load_network

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--sweep", action="store_true")
    args = parser.parse_args(argv)
    network = load_network()
    print(f"runtime {network.runtime}, {args.frames} frames per clip at {args.fps:g} fps")
    print("| clip | decoding | tracker | ids | short-lived (<= 5 frames) | fragments joined | "
          "person-frames without id / all |")
    print("|---|---|---|---|---|---|---|")
    aware_detections = []
    for name, frames in clips(args.frames).items():
        for aware in (False, True):
            estimator = PoseEstimator(network, scale_aware=aware)
            detections = [estimator(frame).keypoints for frame in frames]
            if aware:
                aware_detections.append(detections)
            for label, params in SETTINGS.items():
                total, short, joined, unnamed, returned = short_lived(detections, args.fps,
                                                                      params)
                print(f"| {name} | {'scale-aware' if aware else 'single scale'} | {label} | "
                      f"{total} | {short} | {joined} | {unnamed} / {returned} |", flush=True)
    if args.sweep:
        print("\n| tracker (scale-aware, all clips) | ids | short-lived | without id / all |")
        print("|---|---|---|---|")
        sweep = {f"confirm_frames {n}": TrackerParams(confirm_frames=n) for n in range(1, 6)}
        sweep["confirm_frames 3, no joining"] = TrackerParams(fragment_similarity=0.0)
        for label, params in sweep.items():
            sums = np.sum([short_lived(d, args.fps, params) for d in aware_detections], axis=0)
            print(f"| {label} | {sums[0]} | {sums[1]} | {sums[3]} / {sums[4]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
