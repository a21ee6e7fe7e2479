"""Build the shipped int8 mobilenet_thin from the dev images, check it, write it with its provenance.

Run from the project root as ``python tools/int8/build_int8.py`` (``make int8``);
it needs the frozen graph (``make setup``) and the dev set beside the project
(``../shared/eval/coco_val2017_dev``, read by path). It writes
``posekit/networks/weights/mobilenet_thin/graph_opt.int8.tflite`` and its
manifest (committed, shipped in the package, so set-up never rebuilds it):

1. calibration inputs: every ``--every``-th dev image by id, at longer sides
   640 (and its mirror) and 368 (``tools.int8.build.dev_calibration_batches``);
2. ``tools.int8.build.convert_int8`` (the exact rewrite, post-training
   quantization with the stage tails float, bias correction, then
   quantization-aware fine-tuning, ``tools.int8.qat``, on the dev images
   that the AP check does not use);
3. the checks: map error on the calibration views, and single-scale dev AP of
   the best decoder on the first ``--check-images`` dev images, int8 against
   float32 TFLite; the model passes when both hold (``MAX_AP_DROP``).

The build is deterministic on one kind of CPU (seeded fine-tuning,
TensorFlow's deterministic ops; same TensorFlow, same inputs, same bytes;
another CPU's float kernels may round differently); the manifest records the
image ids, the annotation file's SHA-256, the fine-tuning's settings, the
check's figures and the model's SHA-256. Exit status 0 when
written (whether or not it passed the check), 1 on error.
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
from pathlib import Path
from typing import Optional, Sequence

from posekit.paths import ROOT  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DEFAULT_DEV = ROOT.parent / "shared" / "eval" / "coco_val2017_dev"
#: Largest dev AP the int8 model may lose against float32 TFLite and still pass (the
#: issue's bar for the accurate mode, 0.01 AP).
MAX_AP_DROP = 0.01


def dev_ap(dev: Path, weights: Optional[Path], runtime: str, limit: int) -> float:
    """Single-scale dev AP of the best decoder with ``weights`` (None: the shipped network) on
    ``runtime`` (first ``limit``)."""
    from posekit.apps.evaluate import evaluate
    from posekit.io.coco import coco_stats

    annotations = dev / "person_keypoints.json"
    results, ids, _ = evaluate(dev / "images", annotations, weights=None if weights is None else str(weights),
                               runtime=runtime, limit=limit, progress=False)
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its table
        return float(coco_stats(annotations, results, ids)["AP"])


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Build, check and write the int8 model; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev-dir", type=Path, default=DEFAULT_DEV, help="the dev set")
    parser.add_argument("--every", type=int, default=16, help="calibrate on every N-th image")
    # 200: on 100 images the AP of models this close moved by +-0.007 (docs/records/int8.md)
    parser.add_argument("--check-images", type=int, default=200,
                        help="dev images of the AP check (the first N by id)")
    parser.add_argument("--dest", type=Path, default=None, help="output (default: the shipped model, "
                        "posekit/networks/weights/mobilenet_thin/graph_opt.int8.tflite)")
    args = parser.parse_args(argv)
    if args.every < 1 or args.check_images < 1:
        parser.error("--every and --check-images must be at least 1")
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()      # the fine-tuning's gradients

    from tools.int8 import build as m8
    from posekit.networks import mobilenet_thin as mt
    from posekit.networks import mobilenet_tflite as mtl

    annotations = args.dev_dir / "person_keypoints.json"
    try:
        if not annotations.is_file():
            raise FileNotFoundError(f"dev set not found at {args.dev_dir} (needs "
                                    "person_keypoints.json and images/)")
        entries = sorted(json.loads(annotations.read_text())["images"], key=lambda e: e["id"])
        chosen = entries[::args.every]
        batches = m8.dev_calibration_batches(
            [args.dev_dir / "images" / e["file_name"] for e in chosen])
        calibration = {
            "dev_image_ids": [e["id"] for e in chosen],
            "annotations_sha256": hashlib.sha256(annotations.read_bytes()).hexdigest(),
            "sides": [640, 368], "mirrored": "the 640 view", "inputs": len(batches)}
        # Fine-tuning: every dev image but those of the AP check (the first --check-images).
        trained = entries[args.check_images:]
        training = {"dev_image_ids": [e["id"] for e in trained],
                    "rule": f"every dev image by id after the first {args.check_images}"}
        float_ap = dev_ap(args.dev_dir, None, "tflite", args.check_images)

        def accuracy(data: bytes) -> dict:
            with tempfile.TemporaryDirectory(prefix="int8_check.") as tmp:
                path = Path(tmp) / "graph_opt.int8.tflite"
                path.write_bytes(data)
                mtl.manifest_path(path).write_text(json.dumps({
                    "format": mtl.MANIFEST_FORMAT, "source_sha256": mt.WEIGHTS_SHA256,
                    "tflite_sha256": hashlib.sha256(data).hexdigest()}))
                int8_ap = dev_ap(args.dev_dir, path, "int8", args.check_images)
            return {"dev_images": args.check_images, "decoder": "best",
                    "float32_ap": round(float_ap, 4), "int8_ap": round(int8_ap, 4),
                    "max_ap_drop": MAX_AP_DROP, "passed": int8_ap >= float_ap - MAX_AP_DROP}

        dest = args.dest if args.dest is not None else m8.int8_path(mt.SHIPPED_GRAPH)
        written = m8.write_int8(mt.DEFAULT_WEIGHTS, dest, mt.WEIGHTS_SHA256,
                                batches=batches, calibration=calibration,
                                accuracy_check=accuracy,
                                train_images=[args.dev_dir / "images" / e["file_name"]
                                              for e in trained],
                                training=training)
    except (OSError, ValueError, KeyError) as exc:
        print(f"build_int8: error: {exc}", file=sys.stderr)
        return 1
    manifest = json.loads(mtl.manifest_path(written).read_text())
    print(f"build_int8: wrote {written}: map error {manifest['check']}, "
          f"accuracy {manifest['accuracy']}, passed_check {manifest['passed_check']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
