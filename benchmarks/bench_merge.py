"""merge.py judged inside the handout's kit, as printed and with the CMU row score, in one process.

Run from the project root::

    python -m benchmarks.bench_merge [--dev-dir ../shared/eval/coco_val2017_dev]
                                     [--limit N] [--runtime auto] [--maps-cache DIR]
                                     [--json PATH]

For every dev image (read by path) the network runs once; on those maps the
kit's stages as printed (``estimation.handout``: ``>=`` peaks, connections
without one-to-one matching, one row per connection) make the rows twice,
once per row score of ``estimation.handout.ROW_SCORES``:

* **as printed**: ``part_a + part_b + connections[k][i][2]`` = ``2 s_a + s_b``
  (what a student's kit runs; ``--decoder handout`` of the evaluation);
* **CMU row score**: ``s_a + s_b + limb``, what the original code computed
  (``--handout-row-score cmu``).

On each set of rows it runs **our merge** (``estimation.merge.merge``) and the
**greedy reference** (``estimation.handout.merge_greedy_reference``: rows by
score, every conflicting row skipped); **our lab path**
(``get_coordinates`` / ``get_connections`` with one-to-one matching /
``estimate``) does not use the kit's rows, so it has one figure for both.

It prints a markdown table (ready for the README): pycocotools keypoint AP
and AP50 in each kit, the number of images where a method raised, and the
median grouping milliseconds per image (the merge call alone for the kit
rows, timed on the same rows back to back; ``estimate`` for the lab path)
with the ratio to the greedy reference in the printed kit. Thresholds are the
lab's defaults. No timing is asserted anywhere.

``--maps-cache DIR`` reads ``DIR/<image id>.npz`` (``heatmaps``, ``pafs``,
``out_scale``, as ``infer_multiscale(network, image, (1.0,), False)``
returns them) instead of running the network: for quick experiments only.
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
from posekit.io.coco import coco_stats, load_annotations  # noqa: E402
from posekit.io.export import people_to_coco  # noqa: E402
from estimation.handout import (  # noqa: E402
    estimate_rows_reference,
    get_connections_reference,
    ROW_SCORES,
    get_coordinates_reference,
    merge_greedy_reference,
)
from estimation.merge import merge  # noqa: E402

from posekit.paths import ROOT  # noqa: E402
DEFAULT_DEV_DIR = ROOT.parent / "shared" / "eval" / "coco_val2017_dev"
KITS = tuple(ROW_SCORES)                      # ("printed", "cmu")
METHODS = ("our merge.py", "greedy reference", "our lab path")
KIT_MERGES: Dict[str, Callable[[np.ndarray], np.ndarray]] = {
    METHODS[0]: merge, METHODS[1]: merge_greedy_reference}


def _maps_source(dev_dir: Path, maps_cache: Optional[Path], runtime: str):
    """A function ``entry -> (heatmaps, pafs, out_scale)``: the network, or the cache."""
    if maps_cache is not None:
        def cached(entry: dict):
            path = Path(maps_cache) / f"{entry['id']}.npz"
            if not path.is_file():
                raise ValueError(f"--maps-cache has no {path.name} for image {entry['id']}")
            with np.load(path) as data:
                return data["heatmaps"], data["pafs"], float(data["out_scale"])
        return cached

    import cv2

    from posekit.networks.inference import infer_multiscale, load_network

    network = load_network("mobilenet_thin", None, runtime=runtime)

    def infer(entry: dict):
        image = cv2.imread(str(dev_dir / "images" / entry["file_name"]), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"cannot read {entry['file_name']} in {dev_dir}")
        return infer_multiscale(network, image)
    return infer


def run(dev_dir: Path, limit: Optional[int] = None, runtime: str = "auto",
        progress: bool = True, maps_cache: Optional[Path] = None) -> Dict[str, Dict[str, dict]]:
    """AP, crashes and grouping times of each method in each kit on the dev set.

    Returns:
        ``{method: {kit: {"AP": .., "AP50": .., "crashes": n, "grouping_ms":
        median, "images": n}}}`` for the methods of :data:`METHODS` and the
        kits of :data:`KITS` (the lab path's entries are one measurement).

    Raises:
        ValueError: missing or malformed dev set, or a cache file missing.
    """
    from tqdm import tqdm

    annotations = dev_dir / "person_keypoints.json"
    entries = sorted(load_annotations(annotations)["images"], key=lambda e: e["id"])[:limit]
    maps_of = _maps_source(dev_dir, maps_cache, runtime)
    cfg = get_default_configuration()
    keys = [(m, k) for m in KIT_MERGES for k in KITS] + [(METHODS[2], None)]
    results: Dict[tuple, List[dict]] = {key: [] for key in keys}
    crashes = {key: 0 for key in keys}
    times: Dict[tuple, List[float]] = {key: [] for key in keys}
    for entry in tqdm(entries, desc="bench_merge", unit="img", disable=not progress):
        heatmaps, pafs, scale = maps_of(entry)
        coords = get_coordinates_reference(cfg, heatmaps)
        connections = get_connections_reference(cfg, coords, pafs)
        outputs = {}
        for kit in KITS:
            rows = estimate_rows_reference(cfg, connections, row_score=kit)
            for method, merge_fn in KIT_MERGES.items():
                try:
                    start = time.perf_counter()
                    skeletons = merge_fn(rows)
                    times[method, kit].append(time.perf_counter() - start)
                    outputs[method, kit] = (coords, skeletons)
                except Exception:  # noqa: BLE001 - a crash is what is counted
                    crashes[method, kit] += 1
        try:
            lab_coords = get_coordinates(cfg, heatmaps)
            lab_connections = get_connections(cfg, lab_coords, pafs)
            start = time.perf_counter()
            skeletons = estimate(cfg, lab_connections)
            times[METHODS[2], None].append(time.perf_counter() - start)
            outputs[METHODS[2], None] = (lab_coords, skeletons)
        except Exception:  # noqa: BLE001
            crashes[METHODS[2], None] += 1
        for key, (found, skeletons) in outputs.items():
            results[key] += people_to_coco(found, skeletons, entry["id"], scale=1.0 / scale)
    image_ids = [e["id"] for e in entries]
    report: Dict[str, Dict[str, dict]] = {m: {} for m in METHODS}
    for key in keys:
        stats = coco_stats(annotations, results[key], image_ids)
        row = {"AP": stats["AP"], "AP50": stats["AP50"], "crashes": crashes[key],
               "grouping_ms": 1000 * statistics.median(times[key])
               if times[key] else float("nan"),
               "images": len(image_ids)}
        method, kit = key
        for k in ([kit] if kit else KITS):
            report[method][k] = row
    return report


def table(report: Dict[str, Dict[str, dict]]) -> str:
    """The markdown table of :func:`run`'s report: the two kits side by side."""
    greedy = report[METHODS[1]][KITS[0]]["grouping_ms"]
    lines = ["| merge.py judged in | AP, kit as printed (2 sA + sB) | AP50 "
             "| AP, CMU row score (sA + sB + limb) | AP50 | crashes (printed / CMU) "
             "| grouping ms / image, median (printed / CMU) | time / greedy reference (printed) |",
             "|---|---|---|---|---|---|---|---|"]
    for method in METHODS:
        printed, cmu = report[method][KITS[0]], report[method][KITS[1]]
        name = method if method != METHODS[2] else \
            "our lab path (one-to-one connections, no kit rows)"
        lines.append(
            f"| {name} | {printed['AP']:.3f} | {printed['AP50']:.3f} | {cmu['AP']:.3f} "
            f"| {cmu['AP50']:.3f} | {printed['crashes']} / {cmu['crashes']} "
            f"| {printed['grouping_ms']:.2f} / {cmu['grouping_ms']:.2f} "
            f"| {printed['grouping_ms'] / greedy:.2f}x |")
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
    parser.add_argument("--maps-cache", type=Path, default=None,
                        help="read <image id>.npz maps from this folder instead of running the "
                             "network (quick experiments)")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    try:
        report = run(args.dev_dir, args.limit, args.runtime, progress=not args.quiet,
                     maps_cache=args.maps_cache)
    except (ValueError, OSError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    source = f"maps from {args.maps_cache}" if args.maps_cache else \
        "mobilenet_thin maps at native resolution, one network run per image"
    print(f"{report[METHODS[0]][KITS[0]]['images']} dev images, {source}, shared by every "
          "row; the kit's rows made once per row score:\n")
    print(table(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
