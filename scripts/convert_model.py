"""Convert the mobilenet_thin frozen graph to TFLite (float32 and int8) for the fast CPU runtimes.

Run from anywhere as ``python scripts/convert_model.py`` (``make setup`` /
``make assets`` run it after ``scripts/fetch_assets.py``). It reads
``model_weights/mobilenet_thin/graph_opt.pb`` (hash-checked) and writes, each
with its manifest and atomically:

* ``graph_opt.tflite``: float32, dynamic input size (about 5 s);
* ``graph_opt.int8.tflite``: int8 (``models.mobilenet_int8``). The model in
  the repository is built from the dev set by ``scripts/build_int8.py``
  (``make int8``) and is left alone when current; only a missing or stale one
  (another graph, another recipe) is built here, calibrated on the sample
  images ``images/bus.jpg`` and ``images/zidane.jpg`` (about 1-2 min).

Nothing is downloaded.

Idempotent: a converted model that matches its manifest and the current graph
is left alone (``--force`` converts again). Exit status 0 on success, 1 on
failure with a one-line message on stderr.

Options:
    --weights PATH   another frozen graph (not hash-checked); output beside it
    --force          convert the float32 model even when an up-to-date one is present
    --no-int8        skip the int8 model
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
    parser.add_argument("--no-int8", action="store_true", help="skip the int8 model")
    args = parser.parse_args(argv)

    from models import mobilenet_int8 as m8
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
        jobs = [(dest, mtl.is_current, lambda: mtl.write_converted(weights, dest, expected))]
        if not args.no_int8:
            quantized = m8.int8_path(weights)
            jobs.append((quantized, m8.is_current,
                         lambda: m8.write_int8(weights, quantized, expected)))
        for path, current, write in jobs:
            shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
            # --force redoes the float32 conversion only: the int8 model in the repository
            # was built from the dev set by `make int8` and is not rebuilt from the samples.
            if (not args.force or path != dest) and current(path, source_sha256):
                print(f"convert_model: {shown} is up to date.")
                continue
            written = write()
            print(f"convert_model: wrote {written} and {mtl.manifest_path(written).name}",
                  flush=True)
    except (OSError, ValueError, ImportError) as exc:
        print(f"convert_model: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
