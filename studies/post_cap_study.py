"""Post-processing time of the best decoder against the cap of candidates per part.

Run from the project root (needs the dev set)::

    python -m studies.post_cap_study --weights MODEL.int8.tflite [--limit 40]

Runs the given TFLite model (e.g. a noisy int8 model) once over the first
``--limit`` dev images, then decodes the same maps with each cap of
candidates per part (``estimation.limits.strongest_per_part``'s default,
patched in this process only) and prints the median and maximum
milliseconds. No timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from posekit.paths import ROOT  # noqa: E402

DEV = ROOT.parent / "shared" / "eval" / "coco_val2017_dev"


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m studies.post_cap_study",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, required=True, help="a .tflite model")
    parser.add_argument("--limit", type=int, default=40, help="first N dev images by name")
    parser.add_argument("--caps", type=int, nargs="+", default=[128, 64, 48, 32])
    args = parser.parse_args(argv)
    import estimation.limits as limits
    from posekit.decode.registry import get_decoder
    from posekit.networks.inference import infer_multiscale, load_network
    from posekit.io.images import read_image

    runtime = "int8" if args.weights.name.endswith(".int8.tflite") else "tflite"
    network = load_network(weights=args.weights, runtime=runtime)
    paths = sorted((DEV / "images").glob("*.jpg"))[:args.limit]
    maps = [infer_multiscale(network, read_image(path))[:2] for path in paths]
    decode = get_decoder("best")
    default = limits.strongest_per_part.__defaults__
    try:
        for cap in args.caps:
            limits.strongest_per_part.__defaults__ = (cap,)
            seconds = []
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", limits.CandidateCapWarning)
                for heatmaps, pafs in maps:
                    start = time.perf_counter()
                    decode(heatmaps, pafs)
                    seconds.append(time.perf_counter() - start)
            print(f"cap {cap}: median {1000 * np.median(seconds):.1f} ms, "
                  f"max {1000 * max(seconds):.1f} ms")
    finally:
        limits.strongest_per_part.__defaults__ = default
    return 0


if __name__ == "__main__":
    sys.exit(main())
