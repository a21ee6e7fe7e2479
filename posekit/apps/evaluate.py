"""COCO keypoint evaluation: run the network and a decoder over a COCO-format set.

Usage::

    python -m posekit.apps.evaluate --images DIR --annotations person_keypoints.json \\
        [--decoder best|lab|handout] [--handout-row-score printed|cmu]
        [--scales 1.0 1.5] [--flip] [--limit N] [--results out.json]

Writes the COCO results JSON (each person's ``score``: its confidence in
[0, 1], :mod:`posekit.decode.confidence`, an increasing function of the
decoder's score, so the AP is the raw score's), prints pycocotools' keypoint table (AP, AP50,
AP75, APm, APl, AR, ...) and the median time of each stage per image. The
network is imported only when this command runs. The annotation file, its
images and the AP itself are :mod:`posekit.io.coco`'s.
"""

from __future__ import annotations

import argparse
import dataclasses
import numbers
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from posekit.apps.command import EXIT_USAGE, CommandError, run_command
from posekit.decode.confidence import calibration
from posekit.decode.registry import get_decoder
from posekit.extras import require
from posekit.lab.handout import ROW_SCORES

from posekit.io.atomic import json_bytes, write_bytes
from posekit.io.coco import (STAT_NAMES, check_images, coco_stats, is_int,
                             load_annotations)
from posekit.io.export import people_to_coco
from posekit.io.images import read_image

STAGES = ("network", "peaks", "connections", "grouping")
#: Accepted test-time scales: 1/8 to 4 (at 4 a 640-px image becomes 2560 px).
SCALE_RANGE = (0.125, 4.0)


def format_table(stats: Dict[str, float], times: Dict[str, List[float]]) -> str:
    """The keypoint table and median stage times, as printed by the command."""
    lines = ["  ".join(f"{name:>5}" for name in STAT_NAMES),
             "  ".join(f"{stats[name]:5.3f}" for name in STAT_NAMES),
             "median time per image (ms): " + ", ".join(
                 f"{stage} {1000 * statistics.median(times[stage]):.1f}"
                 for stage in STAGES if times.get(stage))]
    return "\n".join(lines)


def evaluate(images: Path, annotations: Path, decoder: str = "best", model: str = "mobilenet_thin",
             weights: Optional[str] = None, scales: Sequence[float] = (1.0,), flip: bool = False,
             limit: Optional[int] = None, progress: bool = True, runtime: str = "auto",
             handout_row_score: str = "printed", complete: bool = True,
             scale_aware: bool = True):
    """Run network + decoder over the annotated images.

    ``handout_row_score`` (``decoder="handout"`` only): the kit's row score,
    ``"printed"`` (the handout's ``connections[k][i][2]``) or ``"cmu"``
    (``score_a + score_b + limb_score``, what the original code computed).
    ``complete``: decoders that can (``best``) guess a position for every
    keypoint a person lacks (``posekit.decode.completion``), which COCO's OKS
    rewards. ``scale_aware``: with the ``best`` decoder at the single scale 1
    without flip, what ``PoseEstimator`` does by default: a half-size pass when
    the full-size one suggests a large person, large people taken from it
    (``posekit.decode.scales``; its network time joins ``"network"``).

    Returns:
        ``(results, image_ids, times)``: COCO results, the evaluated image ids
        and per-stage lists of seconds.

    Raises:
        ValueError: ``limit`` not None or an integer >= 1, ``scales`` not
            numbers within :data:`SCALE_RANGE`, bad annotation file, unknown
            decoder, or an image missing, unreadable, too large or named
            outside ``images`` (every image is checked before the network
            loads: :func:`check_images`).
    """
    from tqdm import tqdm

    from posekit.decode.scales import SMALL_SCALE, decode_passes
    from posekit.networks.accurate import small_pass_maps
    from posekit.networks.inference import infer_multiscale, padded_size
    from posekit.pipeline import load_pose_network

    if limit is not None and (not is_int(limit) or limit < 1):
        raise ValueError(f"limit must be None or an integer >= 1, got {limit!r}")
    if isinstance(scales, (str, bytes)) or not scales or not all(
            isinstance(s, numbers.Real) and not isinstance(s, bool)
            and SCALE_RANGE[0] <= s <= SCALE_RANGE[1] for s in scales):
        raise ValueError(f"scales must be numbers between {SCALE_RANGE[0]} and "
                         f"{SCALE_RANGE[1]}, got {scales!r}")
    chosen = get_decoder(decoder)
    if handout_row_score != "printed" and not _has_row_score(decoder):
        raise ValueError("handout_row_score applies to the handout decoder only")
    params = chosen.make_params(**({"row_score": handout_row_score}
                                  if _has_row_score(decoder) else {}),
                                **({"complete_people": complete}
                                   if _has_param(decoder, "complete_people") else {}))
    data = load_annotations(annotations)
    entries = sorted(data["images"], key=lambda im: im["id"])[:limit]
    paths = dict(zip((entry["id"] for entry in entries), check_images(images, entries)))
    # The library's one way to a network; given weights are taken as they are (the
    # default ones are hash-checked), as this command has no --skip-hash-check.
    network = load_pose_network(model, weights, skip_hash_check=weights is not None,
                                runtime=runtime)
    confidence = calibration(decoder, getattr(network, "name", None),
                             getattr(network, "runtime", None))
    results: List[dict] = []
    times: Dict[str, List[float]] = {stage: [] for stage in STAGES}
    # Images of one padded input shape run together, so each shape sets up the TFLite
    # interpreter once (results do not depend on the order; they are sorted back below).
    def shape_key(im: dict) -> tuple:
        size = im.get("height"), im.get("width")
        if all(isinstance(n, int) and n > 0 for n in size):
            return padded_size(*size, network.bucket), im["id"]
        return (0, 0), im["id"]  # no size recorded: read in id order

    two_passes = (scale_aware and decoder == "best" and not flip
                  and tuple(scales) == (1.0,))
    order = sorted(entries, key=shape_key)
    for entry in tqdm(order, desc=f"evaluating ({decoder})", unit="img", disable=not progress):
        image = read_image(paths[entry["id"]])
        start = time.perf_counter()
        heatmaps, pafs, out_scale = infer_multiscale(network, image, scales, flip)
        times["network"].append(time.perf_counter() - start)
        stage_times: Dict[str, float] = {}
        if two_passes:
            def small_pass(flip, image=image, heatmaps=heatmaps, pafs=pafs):
                if min(image.shape[:2]) * SMALL_SCALE < 16:
                    return None
                begin = time.perf_counter()
                maps = small_pass_maps(network, image, heatmaps, pafs, SMALL_SCALE, flip)
                times["network"][-1] += time.perf_counter() - begin
                return maps

            coords, skeletons = decode_passes(heatmaps, pafs, small_pass, params,
                                              timings=stage_times)
        else:
            coords, skeletons = chosen(heatmaps, pafs, params, timings=stage_times)
        for stage, seconds in stage_times.items():
            if stage in times:
                times[stage].append(seconds)
        results += people_to_coco(coords, skeletons, entry["id"], scale=1.0 / out_scale,
                                  confidence=confidence)
    results.sort(key=lambda result: result["image_id"])  # stable: each image's people keep their order
    return results, [entry["id"] for entry in entries], times


def check_results_path(path: Path, annotations: Path, images: Optional[Path] = None) -> None:
    """Refuse a results path that cannot be written, before any work is done.

    The demo's rule: no output on an input, none inside the folder being read.

    Raises:
        ValueError: the folder is missing or not writable, the path is a folder,
            a symlink or a special file, it is the annotation file, or it lies
            inside the ``images`` folder.
    """
    path = Path(path)
    if images is not None and Path(images).is_dir():
        where, folder = path.resolve(), Path(images).resolve()
        if folder == where or folder in where.parents:
            raise ValueError(f"--results {path} is inside the --images folder {images}; "
                             "outputs must go elsewhere (it would overwrite or join the inputs)")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ValueError(f"--results folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"--results folder {folder} is not writable")
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise ValueError(f"--results {path} is a folder, a symlink or a special file; "
                         "name a regular file")
    if path.exists() and Path(annotations).exists() and path.samefile(annotations):
        raise ValueError(f"--results {path} is the annotation file")


def write_results(path: Path, results: List[dict]) -> None:
    """Write the results JSON atomically: complete or absent, never half-written."""
    write_bytes(path, json_bytes(results))


def _has_param(decoder: str, name: str) -> bool:
    """Whether the registered decoder's parameters have field ``name``."""
    return any(f.name == name for f in dataclasses.fields(get_decoder(decoder).params))


def _has_row_score(decoder: str) -> bool:
    """Whether the registered decoder's parameters have a ``row_score`` (the handout kit's)."""
    return _has_param(decoder, "row_score")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; returns the exit status."""
    from posekit.apps.common import (HelpFormatter, add_decoder_options, add_network_options,
                                     add_verbosity_options, add_version_option,
                                     configure_logging, native_stderr_filtered,
                                     quiet_native_logs)

    parser = argparse.ArgumentParser(
        prog="posekit-eval", description=__doc__.split("\n")[0],
        formatter_class=HelpFormatter)
    parser.add_argument("--images", required=True, type=Path, help="folder of the images")
    parser.add_argument("--annotations", required=True, type=Path,
                        help="COCO person_keypoints JSON of those images")
    add_decoder_options(parser, thresholds=False)
    parser.add_argument("--handout-row-score", choices=tuple(ROW_SCORES), default="printed",
                        help="--decoder handout: the kit's row score; printed: as the handout "
                             "prints it (connections[k][i][2], part A's score: 2 sA + sB); cmu: "
                             "sA + sB + limb score, what the original code computed")
    add_network_options(parser, hash_check=False)
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0],
                        help="input scales averaged (relative to the native resolution)")
    parser.add_argument("--flip", action="store_true", help="also average a mirrored pass")
    parser.add_argument("--no-complete", dest="complete", action="store_false",
                        help="leave the keypoints a person lacks empty (by default the best "
                             "decoder guesses them, which COCO's OKS rewards; the demo and "
                             "the library leave them empty)")
    parser.add_argument("--no-scale-aware", dest="scale_aware", action="store_false",
                        help="--decoder best at scale 1: decode the full-size pass only (by "
                             "default a half-size pass runs where the full-size one suggests a "
                             "large person, and large people are taken from it, as "
                             "PoseEstimator does)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N images")
    parser.add_argument("--results", type=Path, default=Path("coco_results.json"),
                        help="where to write the COCO results JSON")
    add_verbosity_options(parser, "no progress bar")
    add_version_option(parser)
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error(f"--limit must be at least 1, got {args.limit}")
    if args.handout_row_score != "printed" and not _has_row_score(args.decoder):
        parser.error("--handout-row-score applies to --decoder handout only")
    low, high = SCALE_RANGE
    bad = [s for s in args.scales if not low <= s <= high]
    if bad:
        parser.error(f"--scales must be between {low} and {high}, got {bad[0]:g}")
    with native_stderr_filtered(args.verbose):     # TFLite's notices: only with -v
        configure_logging(args.quiet, args.verbose)
        quiet_native_logs()
        return run_command(parser.prog, lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    """:func:`main` once the command line is parsed."""
    require("pycocotools", "posekit-eval")     # before any image is read
    try:
        check_results_path(args.results, args.annotations, args.images)
        results, image_ids, times = evaluate(
            args.images, args.annotations, args.decoder, args.model, args.weights,
            args.scales, args.flip, args.limit, progress=not args.quiet, runtime=args.runtime,
            handout_row_score=args.handout_row_score, complete=args.complete,
            scale_aware=args.scale_aware)
        write_results(args.results, results)
    except (ValueError, RuntimeError, OSError) as exc:      # bad input: a usage-like error
        raise CommandError(str(exc), EXIT_USAGE) from None
    stats = coco_stats(args.annotations, results, image_ids)
    kit = f" (row score {args.handout_row_score})" if _has_row_score(args.decoder) else ""
    aware = " (scale-aware)" if (args.scale_aware and args.decoder == "best" and not args.flip
                                 and args.scales == [1.0]) else ""
    print(f"{len(image_ids)} images, {len(results)} people found, decoder {args.decoder}{kit}, "
          f"scales {args.scales}{aware}{' + flip' if args.flip else ''}; results in "
          f"{args.results}")
    print(format_table(stats, times))
    return 0


if __name__ == "__main__":
    sys.exit(main())
