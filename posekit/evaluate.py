"""COCO keypoint evaluation: run the network and a decoder over a COCO-format set.

Usage::

    python -m posekit.evaluate --images DIR --annotations person_keypoints.json \\
        [--decoder best|lab|handout] [--handout-row-score printed|cmu]
        [--scales 1.0 1.5] [--flip] [--limit N] [--results out.json]

Writes the COCO results JSON, prints pycocotools' keypoint table (AP, AP50,
AP75, APm, APl, AR, ...) and the median time of each stage per image. The
network is imported only when this command runs. Part of the application
layer: it uses ``models`` (the network) and ``estimation`` (the decoders).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import math
import numbers
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from estimation.registry import get_decoder
from estimation.export import skeleton_keypoints, to_coco
from estimation.handout import ROW_SCORES

from .imageio import (check_layout, check_readable_file, has_image_signature, header_layout,
                      read_image)

#: Names of pycocotools' 10 keypoint statistics, in its order.
STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")
STAGES = ("network", "peaks", "connections", "grouping")
#: Top-level keys a COCO keypoint file needs (pycocotools reads all three).
REQUIRED_KEYS = ("images", "annotations", "categories")
#: Fields of each annotation that pycocotools' keypoint evaluation reads.
ANNOTATION_FIELDS = ("id", "image_id", "category_id", "iscrowd", "area", "bbox",
                     "num_keypoints", "keypoints")
#: COCO's keypoints per person, and the person category our results carry (to_coco).
COCO_PARTS = 17
PERSON = 1
#: Accepted test-time scales: 1/8 to 4 (at 4 a 640-px image becomes 2560 px).
SCALE_RANGE = (0.125, 4.0)


def load_annotations(path: Path) -> dict:
    """Read a COCO keypoint annotation file.

    Raises:
        ValueError: the file is missing, not JSON, lacks ``images`` /
            ``annotations`` / ``categories``, has an image entry without an
            integer ``id`` and a ``file_name`` (or a repeated id), has no
            person category (id 1), an annotation of a category it does not
            declare, or a person annotation misses a field the evaluation
            reads or has it with a wrong type or length.
    """
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ValueError(f"annotation file not found: {path}") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read annotation file {path}: {exc}") from None
    if not isinstance(data, dict) or any(key not in data for key in REQUIRED_KEYS):
        raise ValueError(f"{path} is not a COCO annotation file (needs "
                         + ", ".join(repr(k) for k in REQUIRED_KEYS) + ")")
    for key in REQUIRED_KEYS:
        if not isinstance(data[key], list):
            raise ValueError(f"{path}: {key!r} must be a list")
    ids = set()
    for k, entry in enumerate(data["images"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("file_name"), str) \
                or not isinstance(entry.get("id"), int) or isinstance(entry.get("id"), bool):
            raise ValueError(f"{path}: image entry {k} needs an integer 'id' and a "
                             f"'file_name' string, got {str(entry)[:80]}")
        if entry["id"] in ids:
            raise ValueError(f"{path}: image id {entry['id']} appears twice")
        ids.add(entry["id"])
    categories = _check_categories(path, data["categories"])
    _check_people(path, data["annotations"], ids, categories)
    return data


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def _check_categories(path: Path, categories: list) -> set:
    """The person category (id :data:`PERSON`) our results name must be there.

    Returns:
        The declared category ids.
    """
    for k, entry in enumerate(categories):
        if not isinstance(entry, dict) or not _is_int(entry.get("id")):
            raise ValueError(f"{path}: category {k} needs an integer 'id', got "
                             f"{str(entry)[:80]}")
    declared = {entry["id"] for entry in categories}
    if len(declared) < len(categories):
        raise ValueError(f"{path}: a category id appears twice")
    if PERSON not in declared:
        raise ValueError(f"{path}: no category with id {PERSON} (person); every metric would "
                         "be undefined")
    return declared


#: Fields every annotation needs, whatever its category (pycocotools indexes them all).
INDEX_FIELDS = ("id", "image_id", "category_id")


def _check_people(path: Path, annotations: list, image_ids: set, categories: set) -> None:
    """Every field pycocotools' keypoint evaluation reads, with its type and length.

    Every annotation: ``id`` (int, unique), ``image_id`` (one of the images)
    and ``category_id`` (one of the declared categories). Person annotations
    (the only ones evaluated) also: ``iscrowd`` (0 / 1), ``area`` (number
    >= 0), ``bbox`` (4 numbers, width and height >= 0), ``num_keypoints``
    (int 0..17) and ``keypoints`` (17 x 3 numbers, visibility 0, 1 or 2).
    """
    seen = set()
    for k, ann in enumerate(annotations):
        where = f"{path}: annotation {k}"
        if not isinstance(ann, dict):
            raise ValueError(f"{where} is not an object: {str(ann)[:80]}")
        person = ann.get("category_id") == PERSON and _is_int(ann.get("category_id"))
        missing = [f for f in (ANNOTATION_FIELDS if person else INDEX_FIELDS) if f not in ann]
        if missing:
            raise ValueError(f"{where} lacks {', '.join(repr(f) for f in missing)}")
        if not _is_int(ann["id"]) or ann["id"] in seen:
            raise ValueError(f"{where}: 'id' must be an integer used once, got {ann['id']!r}")
        seen.add(ann["id"])
        if ann["image_id"] not in image_ids or not _is_int(ann["image_id"]):
            raise ValueError(f"{where}: 'image_id' {ann['image_id']!r} is not an image of "
                             "the file")
        if not _is_int(ann["category_id"]):
            raise ValueError(f"{where}: 'category_id' must be an integer")
        if ann["category_id"] not in categories:
            raise ValueError(f"{where}: 'category_id' {ann['category_id']} is not a declared "
                             f"category (declared: {', '.join(map(str, sorted(categories)))})")
        if not person:
            continue                                   # not evaluated (person only)
        if ann["iscrowd"] not in (0, 1):
            raise ValueError(f"{where}: 'iscrowd' must be 0 or 1, got {ann['iscrowd']!r}")
        if not _is_number(ann["area"]) or ann["area"] < 0:
            raise ValueError(f"{where}: 'area' must be a number >= 0, got {ann['area']!r}")
        box = ann["bbox"]
        if not (isinstance(box, list) and len(box) == 4 and all(map(_is_number, box))
                and box[2] >= 0 and box[3] >= 0):
            raise ValueError(f"{where}: 'bbox' must be 4 numbers [x, y, w, h] with w, h >= 0")
        if not _is_int(ann["num_keypoints"]) or not 0 <= ann["num_keypoints"] <= COCO_PARTS:
            raise ValueError(f"{where}: 'num_keypoints' must be an integer 0..{COCO_PARTS}")
        points = ann["keypoints"]
        if not (isinstance(points, list) and len(points) == 3 * COCO_PARTS
                and all(map(_is_number, points))):
            raise ValueError(f"{where}: 'keypoints' must be {3 * COCO_PARTS} numbers "
                             f"({COCO_PARTS} x, y, visibility), got "
                             f"{len(points) if isinstance(points, list) else type(points).__name__}"
                             + (" values" if isinstance(points, list) else ""))
        if any(v not in (0, 1, 2) for v in points[2::3]):
            raise ValueError(f"{where}: keypoint visibility must be 0, 1 or 2")


def coco_stats(annotations: Path, results: List[dict], image_ids: Sequence[int]) -> Dict[str, float]:
    """pycocotools' keypoint statistics of ``results`` on ``image_ids``.

    Args:
        annotations: path of the COCO ground-truth file.
        results: COCO keypoint results (``to_coco`` output).
        image_ids: the images evaluated (images with no detections count).

    Only the person category counts (pycocotools otherwise averages over every
    category of the file: one bicycle halved the AP).

    Returns:
        ``{"AP": ..., "AP50": ..., ...}``; all zeros when ``results`` is empty.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if not results:
        return {name: 0.0 for name in STAT_NAMES}
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO(str(annotations))
        found = truth.loadRes(results)
        ev = COCOeval(truth, found, "keypoints")
        ev.params.imgIds = list(image_ids)
        ev.params.catIds = [PERSON]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return dict(zip(STAT_NAMES, (float(v) for v in ev.stats)))


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
             handout_row_score: str = "printed", complete: bool = True):
    """Run network + decoder over the annotated images.

    ``handout_row_score`` (``decoder="handout"`` only): the kit's row score,
    ``"printed"`` (the handout's ``connections[k][i][2]``) or ``"cmu"``
    (``score_a + score_b + limb_score``, what the original code computed).
    ``complete``: decoders that can (``best``) guess a position for every
    keypoint a person lacks (``estimation.completion``), which COCO's OKS
    rewards.

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

    from models.inference import infer_multiscale, load_network, padded_size

    if limit is not None and (not _is_int(limit) or limit < 1):
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
    network = load_network(model, weights, runtime=runtime)
    results: List[dict] = []
    times: Dict[str, List[float]] = {stage: [] for stage in STAGES}
    # Images of one padded input shape run together, so each shape sets up the TFLite
    # interpreter once (results do not depend on the order; they are sorted back below).
    def shape_key(im: dict) -> tuple:
        size = im.get("height"), im.get("width")
        if all(isinstance(n, int) and n > 0 for n in size):
            return padded_size(*size, network.bucket), im["id"]
        return (0, 0), im["id"]  # no size recorded: read in id order

    order = sorted(entries, key=shape_key)
    for entry in tqdm(order, desc=f"evaluating ({decoder})", unit="img", disable=not progress):
        image = read_image(paths[entry["id"]])
        start = time.perf_counter()
        heatmaps, pafs, out_scale = infer_multiscale(network, image, scales, flip)
        times["network"].append(time.perf_counter() - start)
        stage_times: Dict[str, float] = {}
        coords, skeletons = chosen(heatmaps, pafs, params, timings=stage_times)
        for stage, seconds in stage_times.items():
            times[stage].append(seconds)
        keypoints = skeleton_keypoints(coords, skeletons, scale=1.0 / out_scale)
        results += to_coco(keypoints, skeletons[:, -2], entry["id"])
    results.sort(key=lambda result: result["image_id"])  # stable: each image's people keep their order
    return results, [entry["id"] for entry in entries], times


def check_images(images: Path, entries: Sequence[dict]) -> List[Path]:
    """Every image of ``entries``, checked before any work: inside ``images``, readable and
    within the pixel and memory limits by its header.

    A ``file_name`` is joined to ``images`` and resolved (``..``, an absolute
    name and symbolic links followed): it must stay inside ``images``.

    Args:
        images: the folder of the images.
        entries: image entries of the annotation file (``id``, ``file_name``).

    Returns:
        The path of each entry's image, in order.

    Raises:
        ValueError: ``images`` is not a folder, or one line naming the first
            image that leaves it, is missing, unreadable, not an image or too
            large (and how many more have a problem).
    """
    folder = Path(images)
    if not folder.is_dir():
        raise ValueError(f"--images {images} is not a folder")
    root = folder.resolve()
    paths, problems = [], []
    for entry in entries:
        name = entry["file_name"]
        path = folder / name
        try:
            inside = root in (root / name).resolve().parents
        except (OSError, ValueError, RuntimeError):     # a NUL byte, a symlink loop
            inside = False
        try:
            if not inside:
                raise ValueError(f"its file_name leaves the --images folder {images}")
            check_readable_file(path)
            if not has_image_signature(path):
                raise ValueError("not an image file OpenCV can read")
            layout = header_layout(path)
            if layout is not None:
                check_layout(path, layout)
        except (OSError, ValueError) as exc:
            problems.append(f"image {entry['id']} ({name!r}): {exc}")
        paths.append(path)
    if problems:
        more = f" (and {len(problems) - 1} more of {len(entries)} images)" if problems[1:] else ""
        raise ValueError((problems[0] + more).replace("\n", "\\n").replace("\r", "\\r"))
    return paths


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
    fd, tmp = tempfile.mkstemp(prefix=f".{Path(path).name}.", suffix=".tmp",
                               dir=Path(path).parent or ".")
    try:
        with os.fdopen(fd, "w") as stream:
            json.dump(results, stream)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _has_param(decoder: str, name: str) -> bool:
    """Whether the registered decoder's parameters have field ``name``."""
    return any(f.name == name for f in dataclasses.fields(get_decoder(decoder).params))


def _has_row_score(decoder: str) -> bool:
    """Whether the registered decoder's parameters have a ``row_score`` (the handout kit's)."""
    return _has_param(decoder, "row_score")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; returns the exit status."""
    from .options import (HelpFormatter, add_decoder_options, add_network_options,
                          add_verbosity_options, configure_logging, quiet_native_logs)

    parser = argparse.ArgumentParser(
        prog="python -m posekit.evaluate", description=__doc__.split("\n")[0],
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
    parser.add_argument("--limit", type=int, default=None, help="only the first N images")
    parser.add_argument("--results", type=Path, default=Path("coco_results.json"),
                        help="where to write the COCO results JSON")
    add_verbosity_options(parser, "no progress bar")
    args = parser.parse_args(argv)
    configure_logging(args.quiet, args.verbose)
    quiet_native_logs()
    if args.limit is not None and args.limit < 1:
        parser.error(f"--limit must be at least 1, got {args.limit}")
    if args.handout_row_score != "printed" and not _has_row_score(args.decoder):
        parser.error("--handout-row-score applies to --decoder handout only")
    low, high = SCALE_RANGE
    bad = [s for s in args.scales if not low <= s <= high]
    if bad:
        parser.error(f"--scales must be between {low} and {high}, got {bad[0]:g}")
    try:
        check_results_path(args.results, args.annotations, args.images)
        results, image_ids, times = evaluate(
            args.images, args.annotations, args.decoder, args.model, args.weights,
            args.scales, args.flip, args.limit, progress=not args.quiet, runtime=args.runtime,
            handout_row_score=args.handout_row_score, complete=args.complete)
        write_results(args.results, results)
    except (ValueError, FileNotFoundError, OSError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130
    stats = coco_stats(args.annotations, results, image_ids)
    kit = f" (row score {args.handout_row_score})" if _has_row_score(args.decoder) else ""
    print(f"{len(image_ids)} images, {len(results)} people found, decoder {args.decoder}{kit}, "
          f"scales {args.scales}{' + flip' if args.flip else ''}; results in {args.results}")
    print(format_table(stats, times))
    return 0


if __name__ == "__main__":
    sys.exit(main())
