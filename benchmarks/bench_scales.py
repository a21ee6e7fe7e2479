"""Scale-aware decoding on the COCO dev set: AP, APm, APl and network work of each mode.

Runs ``posekit.apps.evaluate.evaluate`` (what ``posekit-eval`` runs) for the
single-scale path without the second pass (``--no-scale-aware``, the default
before issue 35), the scale-aware default, the maps of scales 0.5 and 1
averaged everywhere (``--scales 0.5 1``) and the accurate mode
(``--scales 0.75 1 1.5 --flip``), on the whole set and on each half (the
tuning half ``A``: even positions of the images sorted by id; ``B``: odd)::

    python -m benchmarks.bench_scales --images DIR --annotations FILE [--modes ...] [--limit N]

Prints one line per mode and subset: AP, APm, APl, the median network time
per image and the network work relative to the first mode (sum of network
seconds), and the median post-processing time (peaks + connections + grouping).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Optional, Sequence

MODES = {
    "single": dict(scale_aware=False),
    "scale-aware": dict(scale_aware=True),
    "fused-0.5-1": dict(scales=(0.5, 1.0)),
    "accurate": dict(scales=(0.75, 1.0, 1.5), flip=True),
}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; returns the exit status."""
    from posekit.apps.evaluate import evaluate
    from posekit.io.coco import coco_stats

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--annotations", type=Path, required=True)
    parser.add_argument("--modes", nargs="+", choices=tuple(MODES), default=list(MODES))
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--runtime", default="auto")
    args = parser.parse_args(argv)
    base = None
    for mode in args.modes:
        results, ids, times = evaluate(args.images, args.annotations, progress=False,
                                       runtime=args.runtime, limit=args.limit, **MODES[mode])
        network = sum(times["network"])
        base = base or network
        post = [sum(parts) for parts in zip(times["peaks"], times["connections"],
                                            times["grouping"])]
        ids = sorted(ids)
        for name, subset in (("all", ids), ("A", ids[0::2]), ("B", ids[1::2])):
            chosen = set(subset)
            stats = coco_stats(args.annotations, [r for r in results if r["image_id"] in chosen],
                               subset)
            print(f"{mode:12s} {name:3s} AP {stats['AP']:.3f} APm {stats['APm']:.3f} "
                  f"APl {stats['APl']:.3f}", end="")
            if name == "all":
                print(f"  network median {1000 * statistics.median(times['network']):.1f} ms, "
                      f"work {network / base:.2f}x, post median "
                      f"{1000 * statistics.median(post):.1f} ms", end="")
            print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
