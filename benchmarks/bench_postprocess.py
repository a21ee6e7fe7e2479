"""Post-processing alone on the dev set: CPU time of the decoders on cached maps, and a digest of what they give.

The network's maps of each image (full size, the half-size pass, the mirrored
half-size pass: what ``posekit-eval`` feeds the scale-aware decoding) are
computed once and kept in ``--maps`` (one ``.npz`` per image id); then every
image is decoded ``--repeat`` times by the single pass (``decode``) and the
scale-aware decoding (``decode_passes``), with completion as the evaluation
runs them (``--no-complete``: the library's default), and the fastest process
CPU time of each is kept::

    python -m benchmarks.bench_postprocess --images DIR --annotations FILE --maps DIR
        [--limit N] [--repeat 3] [--runtime int8] [--no-complete]

Prints the mean and median milliseconds per image of each decoding and a
SHA-256 digest of every output (coords and rows): two trees whose digests
agree decode the same, so a speed-up that keeps the digest keeps every AP.
Run it on two checkouts (the maps folder shared) to compare them; the timings
of separate runs compare only on the same machine, alternately.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import statistics
import sys
import time
from pathlib import Path
from typing import Optional, Sequence, Tuple

import numpy as np


def cached_maps(maps: Path, images: Path, entry: dict, network) -> Tuple[np.ndarray, ...]:
    """``(heatmaps, pafs, half, mirrored)`` of one image, computed once into ``maps``.

    ``half`` and ``mirrored`` are the ``small_pass_maps`` triples without and with the
    mirrored half-size image.
    """
    from posekit.io.atomic import write_bytes
    from posekit.io.images import read_image
    from posekit.networks.accurate import small_pass_maps
    from posekit.networks.inference import infer

    path = maps / f"{entry['id']}.npz"
    if not path.is_file():
        image = read_image(images / entry["file_name"])
        heatmaps, pafs = infer(network(), image)
        half = small_pass_maps(network(), image, heatmaps, pafs)
        mirrored = small_pass_maps(network(), image, heatmaps, pafs, flip=True)
        buffer = io.BytesIO()
        np.savez(buffer, hm=heatmaps, pf=pafs, shm=half[0], spf=half[1], sf=half[2],
                 mhm=mirrored[0], mpf=mirrored[1], mf=mirrored[2])
        write_bytes(path, buffer.getvalue())
    with np.load(path) as z:
        return (z["hm"], z["pf"], (z["shm"], z["spf"], tuple(z["sf"].tolist())),
                (z["mhm"], z["mpf"], tuple(z["mf"].tolist())))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; returns the exit status."""
    from posekit.decode.decoder import DecoderParams, decode
    from posekit.decode.scales import decode_passes
    from posekit.io.coco import load_annotations
    from posekit.networks.inference import load_network

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--annotations", type=Path, required=True)
    parser.add_argument("--maps", type=Path, required=True, help="folder of the cached maps")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--runtime", default="int8")
    parser.add_argument("--no-complete", dest="complete", action="store_false")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    args.maps.mkdir(parents=True, exist_ok=True)
    loaded = []

    def network():
        if not loaded:
            loaded.append(load_network(runtime=args.runtime))
        return loaded[0]

    entries = sorted(load_annotations(args.annotations)["images"],
                     key=lambda e: e["id"])[:args.limit]
    params = DecoderParams(complete_people=args.complete)
    digest = hashlib.sha256()
    single, aware = [], []
    for entry in entries:
        heatmaps, pafs, half, mirrored = cached_maps(args.maps, args.images, entry, network)
        best = [np.inf, np.inf]
        for _ in range(args.repeat):
            start = time.process_time()
            out_single = decode(heatmaps, pafs, params)
            best[0] = min(best[0], time.process_time() - start)
            start = time.process_time()
            out_aware = decode_passes(heatmaps, pafs,
                                      lambda flip: mirrored if flip else half, params)
            best[1] = min(best[1], time.process_time() - start)
        single.append(best[0])
        aware.append(best[1])
        for coords, rows in (out_single, out_aware):
            digest.update(repr((coords, rows.tolist())).encode())
    print(f"{len(entries)} images, completion {'on' if args.complete else 'off'}, best of "
          f"{args.repeat}, process CPU time: single mean {1000 * statistics.mean(single):.2f} "
          f"ms, median {1000 * statistics.median(single):.2f} ms; scale-aware mean "
          f"{1000 * statistics.mean(aware):.2f} ms, median "
          f"{1000 * statistics.median(aware):.2f} ms; digest {digest.hexdigest()[:16]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
