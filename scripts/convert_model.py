"""Convert the mobilenet_thin frozen graph to TFLite for the fast CPU runtime.

Run from anywhere as ``python scripts/convert_model.py`` (``make setup`` /
``make assets`` run it after ``scripts/fetch_assets.py``). It reads
``model_weights/mobilenet_thin/graph_opt.pb`` (hash-checked), converts it
with TensorFlow's TFLite converter (float32, dynamic input size; about 2 s)
and writes ``model_weights/mobilenet_thin/graph_opt.tflite`` and its manifest
``graph_opt.tflite.json`` atomically. Nothing is downloaded.

Idempotent: a converted model that matches its manifest and the current graph
is left alone (``--force`` converts again). Exit status 0 on success, 1 on
failure with a one-line message on stderr.

Options:
    --weights PATH   another frozen graph (not hash-checked); output beside it
    --force          convert even when an up-to-date model is present
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Convert the frozen graph unless an up-to-date conversion exists.

    Returns:
        Process exit status: 0 on success, 1 on failure.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=None,
                        help="frozen graph to convert (default: the fetched mobilenet_thin graph)")
    parser.add_argument("--force", action="store_true", help="convert even if up to date")
    args = parser.parse_args(argv)

    from models import mobilenet_thin as mt
    from models import mobilenet_tflite as mtl

    weights = args.weights if args.weights is not None else mt.DEFAULT_WEIGHTS
    expected = None if args.weights is not None else mt.WEIGHTS_SHA256
    dest = mtl.converted_path(weights)
    try:
        if not Path(weights).is_file():
            raise FileNotFoundError(f"frozen graph {weights} not found: run "
                                    "`python scripts/fetch_assets.py` (or `make setup`) first")
        source_sha256 = mt.file_sha256(weights)
        if expected is not None and source_sha256 != expected:
            raise ValueError(f"frozen graph {weights} is corrupt (SHA-256 {source_sha256}, "
                             f"expected {expected}): delete it and rerun `make setup`")
        if not args.force and mtl.is_current(dest, source_sha256):
            print(f"convert_model: {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest}"
                  " is up to date.")
            return 0
        written = mtl.write_converted(weights, dest, expected)
    except (OSError, ValueError, ImportError) as exc:
        print(f"convert_model: error: {exc}", file=sys.stderr)
        return 1
    print(f"convert_model: wrote {written} and {mtl.manifest_path(written).name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
