"""COCO keypoint files: an annotation file read and checked, the images it names, and AP (once).

Every COCO AP of the project (the evaluation command, ``tools/``, the studies
and benchmarks) is :func:`coco_stats`: pycocotools on the person category only,
with images without detections counted, and zeros for no results at all.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path
from typing import Dict, List, Sequence

from posekit.extras import require

from posekit.io.images import (check_layout, check_readable_file, has_image_signature,
                               header_layout)

#: Names of pycocotools' 10 keypoint statistics, in its order.
STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")
#: Top-level keys a COCO keypoint file needs (pycocotools reads all three).
REQUIRED_KEYS = ("images", "annotations", "categories")
#: Fields of each annotation that pycocotools' keypoint evaluation reads.
ANNOTATION_FIELDS = ("id", "image_id", "category_id", "iscrowd", "area", "bbox",
                     "num_keypoints", "keypoints")
#: COCO's keypoints per person, and the person category our results carry (to_coco).
COCO_PARTS = 17
PERSON = 1
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


def is_int(value: object) -> bool:
    """An ``int`` that is not a ``bool`` (JSON's integers)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    """A finite ``int`` or ``float`` that is not a ``bool``."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def _check_categories(path: Path, categories: list) -> set:
    """The person category (id :data:`PERSON`) our results name must be there.

    Returns:
        The declared category ids.
    """
    for k, entry in enumerate(categories):
        if not isinstance(entry, dict) or not is_int(entry.get("id")):
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
        person = ann.get("category_id") == PERSON and is_int(ann.get("category_id"))
        missing = [f for f in (ANNOTATION_FIELDS if person else INDEX_FIELDS) if f not in ann]
        if missing:
            raise ValueError(f"{where} lacks {', '.join(repr(f) for f in missing)}")
        if not is_int(ann["id"]) or ann["id"] in seen:
            raise ValueError(f"{where}: 'id' must be an integer used once, got {ann['id']!r}")
        seen.add(ann["id"])
        if ann["image_id"] not in image_ids or not is_int(ann["image_id"]):
            raise ValueError(f"{where}: 'image_id' {ann['image_id']!r} is not an image of "
                             "the file")
        if not is_int(ann["category_id"]):
            raise ValueError(f"{where}: 'category_id' must be an integer")
        if ann["category_id"] not in categories:
            raise ValueError(f"{where}: 'category_id' {ann['category_id']} is not a declared "
                             f"category (declared: {', '.join(map(str, sorted(categories)))})")
        if not person:
            continue                                   # not evaluated (person only)
        if ann["iscrowd"] not in (0, 1):
            raise ValueError(f"{where}: 'iscrowd' must be 0 or 1, got {ann['iscrowd']!r}")
        if not is_number(ann["area"]) or ann["area"] < 0:
            raise ValueError(f"{where}: 'area' must be a number >= 0, got {ann['area']!r}")
        box = ann["bbox"]
        if not (isinstance(box, list) and len(box) == 4 and all(map(is_number, box))
                and box[2] >= 0 and box[3] >= 0):
            raise ValueError(f"{where}: 'bbox' must be 4 numbers [x, y, w, h] with w, h >= 0")
        if not is_int(ann["num_keypoints"]) or not 0 <= ann["num_keypoints"] <= COCO_PARTS:
            raise ValueError(f"{where}: 'num_keypoints' must be an integer 0..{COCO_PARTS}")
        points = ann["keypoints"]
        if not (isinstance(points, list) and len(points) == 3 * COCO_PARTS
                and all(map(is_number, points))):
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
    require("pycocotools", "COCO evaluation")
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
