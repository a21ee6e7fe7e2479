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

``--cost N`` instead times, on the first N images, the full-size pass, the
second pass (the half-size run and the averaging; and with the mirrored
half-size run too) and the decoding of both modes, interleaved image by image
so that a busy machine slows all alike;
prints the network work of the scale-aware mode relative to the single
pass (second pass counted only where it runs) and the post-processing medians.
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
    parser.add_argument("--cost", type=int, default=None, metavar="N",
                        help="time the passes and decoders on the first N images instead")
    args = parser.parse_args(argv)
    if args.cost:
        return cost(args.images, args.annotations, args.cost, args.runtime)
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


def cost(images: Path, annotations: Path, limit: int, runtime: str) -> int:
    """The ``--cost`` measurement (see the module's docstring)."""
    import time

    from posekit.decode.decoder import DecoderParams, decode
    from posekit.decode.scales import decode_passes
    from posekit.io.coco import load_annotations
    from posekit.io.images import read_image
    from posekit.networks.accurate import small_pass_maps
    from posekit.networks.inference import infer, load_network

    network = load_network(runtime=runtime)
    entries = sorted(load_annotations(annotations)["images"], key=lambda e: e["id"])[:limit]
    params = DecoderParams(complete_people=True)
    full_s, second_s, flip_s, ran, flipped, single_post, aware_post = [], [], [], [], [], [], []
    for entry in entries:
        image = read_image(Path(images) / entry["file_name"])
        start = time.perf_counter()
        heatmaps, pafs = infer(network, image)
        full_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        second = small_pass_maps(network, image, heatmaps, pafs)
        second_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        mirrored = small_pass_maps(network, image, heatmaps, pafs, flip=True)
        flip_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        decode(heatmaps, pafs, params)
        single_post.append(time.perf_counter() - start)
        timings: dict = {}
        start = time.perf_counter()
        decode_passes(heatmaps, pafs, lambda flip: mirrored if flip else second, params,
                      timings=timings)
        aware_post.append(time.perf_counter() - start)
        ran.append(timings["small_pass"])
        flipped.append(timings["small_flip"])
    work = (sum(full_s) + sum(s * r * (1 - f) + m * f
                              for s, m, r, f in zip(second_s, flip_s, ran, flipped))) / sum(full_s)
    print(f"{len(entries)} images, runtime {network.runtime}: full pass median "
          f"{1000 * statistics.median(full_s):.1f} ms, second pass median "
          f"{1000 * statistics.median(second_s):.1f} ms ({sum(second_s) / sum(full_s):.2f}x "
          f"of the full pass; mirrored too: {sum(flip_s) / sum(full_s):.2f}x), run on "
          f"{sum(ran):.0f} images, mirrored on {sum(flipped):.0f}; scale-aware network work "
          f"{work:.2f}x; post-processing median single {1000 * statistics.median(single_post):.2f}"
          f" ms, scale-aware {1000 * statistics.median(aware_post):.2f} ms "
          f"(mean {1000 * statistics.mean(single_post):.2f} / "
          f"{1000 * statistics.mean(aware_post):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
