"""Which layers int8 hurts: rebuild int8 variants and measure their maps and AP on dev images.

Run from the project root (after ``make setup``; needs the dev set)::

    python -m studies.int8_study [--variants tails backbone ...] [--limit 100]

Each variant is the recipe of ``tools.int8.build`` with another set of
graph nodes kept float (or another calibration), calibrated on every 25th dev
image (longer side 640 and 368) unless said otherwise; then, on the first
``--limit`` dev images by id: single-scale AP of the best decoder, mean
absolute map error against float32 TFLite (18 part heatmaps; 38 PAFs), the
error where the float32 map is strong (> 0.3), and the median
post-processing time. A last row times each model's network against float32
TFLite in one process (process CPU time, 352x640). The figures of
``docs/records/int8.md`` come from this script; the dev images are the set the
recipe was chosen on. No timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from posekit.paths import ROOT  # noqa: E402

DEV = ROOT.parent / "shared" / "eval" / "coco_val2017_dev"
from tools.int8.build import FLOAT_PATTERN  # noqa: E402  (recipes 5 and 6)
from tools.int8.build import STAGE_TAIL_PATTERN as TAILS  # noqa: E402  (recipes 2-4)
#: Variant name -> (float-node pattern beyond the stage-6 outputs or None, calibration).
VARIANTS: Dict[str, tuple] = {
    "recipe1-samples": (None, "samples"),          # the previous model: sample images only
    "recipe1-dev": (None, "dev"),                   # same nodes, dev calibration
    "tails": (TAILS, "dev"),                        # recipe 2
    "tails+backbone1-4": (FLOAT_PATTERN, "dev"),    # the float layers of recipes 5 and 6
    "tails+first-depthwise": (TAILS + r"|^Openpose/MConv_Stage\d_L\d_1_depthwise", "dev"),
    "tails+stage6": (TAILS + r"|^Openpose/MConv_Stage6_", "dev"),
    "tails+backbone6-11": (TAILS + r"|^MobilenetV1/Conv2d_([6-9]|1[01])_", "dev"),
    "tails+stage1-first": (TAILS + r"|^Openpose/MConv_Stage1_L\d_1_", "dev"),
    "only-backbone-int8": (TAILS + r"|^Openpose/", "dev"),   # where the error comes from
    "only-stages-int8": (TAILS + r"|^MobilenetV1/", "dev"),
}


def dev_entries() -> List[dict]:
    """The dev images' entries, by id."""
    data = json.loads((DEV / "person_keypoints.json").read_text())
    return sorted(data["images"], key=lambda e: e["id"])


def build(name: str, dest: Path) -> Path:
    """Build variant ``name`` into ``dest`` (with a manifest the loader accepts)."""
    from tools.int8 import build as m8
    from posekit.networks import mobilenet_tflite as mtl
    from posekit.networks.mobilenet_thin import DEFAULT_WEIGHTS, WEIGHTS_SHA256

    pattern, calibration = VARIANTS[name]
    if calibration == "samples":
        batches = m8.calibration_batches()
    else:
        batches = m8.dev_calibration_batches(
            [DEV / "images" / e["file_name"] for e in dev_entries()[7::25]])
    data, _ = m8.convert_int8(DEFAULT_WEIGHTS, WEIGHTS_SHA256, batches, float_pattern=pattern)
    dest.write_bytes(data)
    mtl.manifest_path(dest).write_text(json.dumps({
        "format": mtl.MANIFEST_FORMAT, "source_sha256": WEIGHTS_SHA256,
        "tflite_sha256": hashlib.sha256(data).hexdigest()}))
    return dest


def measure(path: Optional[Path], limit: int) -> Dict[str, float]:
    """AP, map errors and post-processing median of a model (None: float32 TFLite)."""
    from posekit.decode.registry import get_decoder
    from posekit.io.export import people_to_coco
    from posekit.networks.inference import infer_multiscale, load_network
    from posekit.io.coco import coco_stats
    from posekit.io.images import read_image

    reference = load_network(runtime="tflite")
    network = reference if path is None else load_network(weights=path, runtime="int8")
    decode = get_decoder("best")
    results, errors, post = [], [], []
    entries = dev_entries()[:limit]
    for entry in entries:
        image = read_image(DEV / "images" / entry["file_name"])
        heatmaps, pafs, scale = infer_multiscale(network, image)
        if path is not None:
            ref_h, ref_p, _ = infer_multiscale(reference, image)
            strong_h, strong_p = ref_h[..., :18] > 0.3, np.abs(ref_p) > 0.3
            dh, dp = np.abs(heatmaps[..., :18] - ref_h[..., :18]), np.abs(pafs - ref_p)
            errors.append([dh.mean(), dp.mean(), dh[strong_h].mean() if strong_h.any() else 0,
                           dp[strong_p].mean() if strong_p.any() else 0])
        start = time.perf_counter()
        coords, people = decode(heatmaps, pafs)
        post.append(time.perf_counter() - start)
        results += people_to_coco(coords, people, entry["id"], scale=1.0 / scale)
    with contextlib.redirect_stdout(io.StringIO()):
        ap = coco_stats(DEV / "person_keypoints.json", results, [e["id"] for e in entries])["AP"]
    mean = np.mean(errors, axis=0) if errors else [0.0] * 4
    return {"AP": float(ap), "heatmap_mae": float(mean[0]), "paf_mae": float(mean[1]),
            "heatmap_strong": float(mean[2]), "paf_strong": float(mean[3]),
            "post_ms": 1000 * float(np.median(post))}


def speed(paths: Dict[str, Path], runs: int = 7) -> Dict[str, float]:
    """Median process CPU ms at 352x640 of each model and of float32 TFLite, interleaved."""
    from posekit.networks import mobilenet_tflite as mtl
    from posekit.networks.mobilenet_thin import DEFAULT_WEIGHTS

    models = {"float32": mtl.MobilenetThinTFLite(mtl.converted_path(DEFAULT_WEIGHTS), None)}
    models.update({name: mtl.MobilenetThinTFLite(path, None) for name, path in paths.items()})
    batch = np.random.default_rng(0).uniform(0, 255, (1, 352, 640, 3)).astype(np.float32)
    times: Dict[str, list] = {name: [] for name in models}
    for round_ in range(runs + 1):
        for name, model in models.items():
            start = time.process_time()
            model(batch)
            if round_:
                times[name].append(time.process_time() - start)
    return {name: 1000 * float(np.median(t)) for name, t in times.items()}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m studies.int8_study",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--limit", type=int, default=100, help="first N dev images by id")
    args = parser.parse_args(argv)
    if not (DEV / "person_keypoints.json").is_file():
        print(f"{parser.prog}: error: dev set not found at {DEV}", file=sys.stderr)
        return 2
    from benchmarks.bench_int8 import cpu_line

    print(cpu_line())
    print("| variant | AP | heatmap MAE | PAF MAE | heatmap MAE (strong) | PAF MAE (strong) "
          "| post ms |\n|---|---:|---:|---:|---:|---:|---:|")
    row = measure(None, args.limit)
    print(f"| float32 TFLite | {row['AP']:.3f} | - | - | - | - | {row['post_ms']:.1f} |",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="int8_study.") as tmp:
        paths = {}
        for name in args.variants:
            paths[name] = build(name, Path(tmp) / f"{name}.int8.tflite")
            row = measure(paths[name], args.limit)
            print(f"| {name} | {row['AP']:.3f} | {row['heatmap_mae']:.4f} | {row['paf_mae']:.4f} "
                  f"| {row['heatmap_strong']:.4f} | {row['paf_strong']:.4f} "
                  f"| {row['post_ms']:.1f} |", flush=True)
        ms = speed(paths)
    print("\nnetwork, process CPU ms at 352x640: " + ", ".join(
        f"{name} {value:.1f} ({ms['float32'] / value:.2f}x)" for name, value in ms.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
