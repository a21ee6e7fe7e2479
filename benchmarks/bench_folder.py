"""Steady-state network and post-processing medians over a folder of mixed image sizes.

Run from the project root (after ``make setup``)::

    python -m benchmarks.bench_folder [--images DIR] [--limit N] [--passes 2] [--json PATH]

Default folder: the dev images (``../shared/eval/coco_val2017_dev/images``,
read by path). Every runtime present (int8 and float32 TFLite) gets the same
images in the same order, calls interleaved image by image, for ``--passes``
passes over the folder; the first pass sets up one interpreter per padded
shape (``posekit.networks.mobilenet_tflite``), later passes show the steady state a
folder, evaluation or batch run reaches. For each pass it prints the median
and 90th percentile network milliseconds, the int8 / float32 ratio, the
median and maximum post-processing milliseconds of the best decoder (peaks,
connections and grouping) on each runtime's maps, and the interpreter
set-ups with their seconds. The CPU is named on the first line. No timing
is asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from posekit.paths import ROOT  # noqa: E402

from benchmarks.bench_int8 import cpu_line  # noqa: E402
from posekit.decode.registry import DECODERS  # noqa: E402
from posekit.networks.inference import infer, load_network, padded_size  # noqa: E402

DEFAULT_IMAGES = ROOT.parent / "shared" / "eval" / "coco_val2017_dev" / "images"
RUNTIMES = ("int8", "tflite")
SUFFIXES = (".jpg", ".jpeg", ".png")


def read_images(folder: Path, limit: Optional[int]) -> List[np.ndarray]:
    """The folder's images (sorted by name, at most ``limit``), BGR uint8."""
    from posekit.io.images import read_image

    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES)[:limit]
    if not paths:
        raise FileNotFoundError(f"no images in {folder}")
    return [read_image(p) for p in paths]


def run_pass(networks: Dict[str, object], images: List[np.ndarray]) -> Dict[str, Dict[str, list]]:
    """One pass: ``{runtime: {"network": [s], "post": [s]}}`` plus set-up counts."""
    decode = DECODERS["best"]
    out: Dict[str, Dict[str, list]] = {name: {"network": [], "post": []} for name in networks}
    before = {name: (net.model.reshapes, net.model.reshape_seconds)
              for name, net in networks.items()}
    for image in images:
        for name, network in networks.items():
            start = time.perf_counter()
            heatmaps, pafs = infer(network, image)
            out[name]["network"].append(time.perf_counter() - start)
            start = time.perf_counter()
            decode(heatmaps, pafs)
            out[name]["post"].append(time.perf_counter() - start)
    for name, net in networks.items():
        out[name]["setups"] = [net.model.reshapes - before[name][0],
                               net.model.reshape_seconds - before[name][1]]
    return out


def report(index: int, result: Dict[str, Dict[str, list]], count: int) -> str:
    """Markdown table of one pass."""
    lines = [f"\npass {index} over {count} images:",
             "| runtime | network median ms | network p90 ms | post median ms | post max ms "
             "| interpreter set-ups (s) |", "|---|---:|---:|---:|---:|---:|"]
    for name, per in result.items():
        net = np.array(per["network"]) * 1000
        post = np.array(per["post"]) * 1000
        lines.append(f"| {name} | {np.median(net):.1f} | {np.percentile(net, 90):.1f} | "
                     f"{np.median(post):.2f} | {post.max():.1f} | "
                     f"{per['setups'][0]} ({per['setups'][1]:.2f}) |")
    if all(name in result for name in RUNTIMES):
        ratio = (statistics.median(result["tflite"]["network"])
                 / statistics.median(result["int8"]["network"]))
        lines.append(f"int8 / float32 network median: {ratio:.2f}x")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_folder",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES, help="folder of images")
    parser.add_argument("--limit", type=int, default=100, help="first N images by name")
    parser.add_argument("--passes", type=int, default=2, help="passes over the folder")
    parser.add_argument("--threads", type=int, default=None, help="TFLite threads")
    parser.add_argument("--json", type=Path, default=None, help="also write all times here")
    args = parser.parse_args(argv)
    if args.limit < 1 or args.passes < 1:
        parser.error("--limit and --passes must be at least 1")
    try:
        images = read_images(args.images, args.limit)
    except (FileNotFoundError, ValueError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    networks = {}
    for runtime in RUNTIMES:
        try:
            networks[runtime] = load_network(runtime=runtime, num_threads=args.threads)
        except (FileNotFoundError, ValueError, ImportError) as exc:
            print(f"skipping {runtime}: {exc}", file=sys.stderr)
    if not networks:
        print(f"{parser.prog}: error: no runtime could be loaded", file=sys.stderr)
        return 2
    print(cpu_line())
    bucket = next(iter(networks.values())).bucket
    shapes = {padded_size(*image.shape[:2], bucket) for image in images}
    print(f"{len(images)} images, {len(shapes)} padded shapes ({bucket}-px buckets)")
    passes = []
    for index in range(1, args.passes + 1):
        passes.append(run_pass(networks, images))
        print(report(index, passes[-1], len(images)), flush=True)
    if args.json:
        args.json.write_text(json.dumps(passes, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
