"""merge.py judged inside the handout's kit: dev-set AP and grouping time, in one process.

Run from the project root::

    python -m benchmarks.bench_merge [--dev-dir ../shared/eval/coco_val2017_dev]
                                     [--limit N] [--runtime auto] [--json PATH]

For every dev image (read by path) the network runs once; on those maps:

* **handout kit + our merge**: the kit's stages as printed
  (``estimation.handout``: ``>=`` peaks, connections without one-to-one
  matching, one row per connection), then ``estimation.merge.merge``; the same
  as ``python -m posekit.evaluate --decoder handout``;
* **handout kit + greedy reference**: the same rows, then
  ``estimation.handout.merge_greedy_reference`` (rows by score, every
  conflicting row skipped);
* **our lab path**: ``get_coordinates`` / ``get_connections`` (one-to-one) /
  ``estimate`` with our merge (``--decoder lab``).

It prints a markdown table (ready for the README): pycocotools keypoint AP and
AP50 of each, the number of images where it raised, and the median grouping
milliseconds per image (the merge call alone for the two kit rows, timed on
the same rows back to back; ``estimate`` for the lab path), with the ratio to
the greedy reference. Thresholds are the lab's defaults; nothing was tuned by
this script. No timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from estimation.config import get_default_configuration  # noqa: E402
from estimation.connections import get_connections  # noqa: E402
from estimation.coordinates import get_coordinates  # noqa: E402
from estimation.estimators import estimate  # noqa: E402
from posekit.evaluate import coco_stats, load_annotations  # noqa: E402
from estimation.export import skeleton_keypoints, to_coco  # noqa: E402
from estimation.handout import (  # noqa: E402
    estimate_rows_reference,
    get_connections_reference,
    get_coordinates_reference,
    merge_greedy_reference,
)
from estimation.merge import merge  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEV_DIR = ROOT.parent / "shared" / "eval" / "coco_val2017_dev"
METHODS = ("handout kit + our merge.py", "handout kit + greedy reference", "our lab path")


def run(dev_dir: Path, limit: Optional[int] = None, runtime: str = "auto",
        progress: bool = True) -> Dict[str, dict]:
    """AP, crashes and grouping times of each method on the dev set.

    Returns:
        ``{method: {"AP": .., "AP50": .., "crashes": n, "grouping_ms": median,
        "images": n}}``.

    Raises:
        ValueError: missing or malformed dev set.
    """
    import cv2
    from tqdm import tqdm

    from models.inference import infer_multiscale, load_network

    annotations = dev_dir / "person_keypoints.json"
    entries = sorted(load_annotations(annotations)["images"], key=lambda e: e["id"])[:limit]
    network = load_network("mobilenet_thin", None, runtime=runtime)
    cfg = get_default_configuration()
    results: Dict[str, List[dict]] = {m: [] for m in METHODS}
    crashes = {m: 0 for m in METHODS}
    times: Dict[str, List[float]] = {m: [] for m in METHODS}
    kit_merges: Dict[str, Callable[[np.ndarray], np.ndarray]] = {
        METHODS[0]: merge, METHODS[1]: merge_greedy_reference}
    for entry in tqdm(entries, desc="bench_merge", unit="img", disable=not progress):
        image = cv2.imread(str(dev_dir / "images" / entry["file_name"]), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"cannot read {entry['file_name']} in {dev_dir}")
        heatmaps, pafs, scale = infer_multiscale(network, image)
        coords = get_coordinates_reference(cfg, heatmaps)
        rows = estimate_rows_reference(cfg, get_connections_reference(cfg, coords, pafs))
        outputs = {}
        for method, merge_fn in kit_merges.items():
            try:
                start = time.perf_counter()
                skeletons = merge_fn(rows)
                times[method].append(time.perf_counter() - start)
                outputs[method] = (coords, skeletons)
            except Exception:  # noqa: BLE001 - a crash is what is counted
                crashes[method] += 1
        try:
            lab_coords = get_coordinates(cfg, heatmaps)
            connections = get_connections(cfg, lab_coords, pafs)
            start = time.perf_counter()
            skeletons = estimate(cfg, connections)
            times[METHODS[2]].append(time.perf_counter() - start)
            outputs[METHODS[2]] = (lab_coords, skeletons)
        except Exception:  # noqa: BLE001
            crashes[METHODS[2]] += 1
        for method, (found, skeletons) in outputs.items():
            keypoints = skeleton_keypoints(found, skeletons, scale=1.0 / scale)
            results[method] += to_coco(keypoints, skeletons[:, -2], entry["id"])
    image_ids = [e["id"] for e in entries]
    report = {}
    for method in METHODS:
        stats = coco_stats(annotations, results[method], image_ids)
        report[method] = {"AP": stats["AP"], "AP50": stats["AP50"], "crashes": crashes[method],
                          "grouping_ms": 1000 * statistics.median(times[method])
                          if times[method] else float("nan"),
                          "images": len(image_ids)}
    return report


def table(report: Dict[str, dict]) -> str:
    """The markdown table of :func:`run`'s report."""
    greedy = report[METHODS[1]]["grouping_ms"]
    lines = ["| merge.py judged in | dev AP | AP50 | crashes | grouping ms / image "
             "(median) | time / greedy reference |",
             "|---|---|---|---|---|---|"]
    for method, row in report.items():
        lines.append(f"| {method} | {row['AP']:.3f} | {row['AP50']:.3f} | {row['crashes']} "
                     f"| {row['grouping_ms']:.2f} | {row['grouping_ms'] / greedy:.2f}x |")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_merge",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--dev-dir", type=Path, default=DEFAULT_DEV_DIR,
                        help="COCO dev set: images/ and person_keypoints.json (read by path)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N images")
    parser.add_argument("--runtime", choices=("auto", "tensorflow", "tflite", "int8"), default="auto",
                        help="network runtime")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    try:
        report = run(args.dev_dir, args.limit, args.runtime, progress=not args.quiet)
    except (ValueError, OSError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    print(f"{report[METHODS[0]]['images']} dev images, mobilenet_thin maps at native "
          "resolution, one network run per image shared by the three rows:\n")
    print(table(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
