"""Close-up set: 640x480 crops of COCO images where one person's box fills 70-95 % of the frame.

The webcam / fitness case (one person filling the frame) is rare in COCO, so
this set is made from the dev images, deterministically, and never committed::

    python -m tools.make_closeups --images ../shared/eval/coco_val2017_dev/images \\
        --annotations ../shared/eval/coco_val2017_dev/person_keypoints.json \\
        --out build/closeups
    posekit-eval --images build/closeups/images \\
        --annotations build/closeups/person_keypoints.json

For each annotated person (not a crowd, at least :data:`MIN_KEYPOINTS`
keypoints) the crop is the 4:3 window centred on its box in which the box's
larger relative side is a fill of 0.70, 0.75, ... 0.95 (the next in turn,
person by person in annotation-id order), moved inside the image; a window
that does not fit, or that would be magnified more than :data:`MAX_ZOOM` to
reach 640x480, is skipped. Every person of the image is carried into the
crop (keypoints outside it become unlabelled; a person left with none is
ignored by the evaluation, as COCO ignores people without keypoints).
Outputs: ``OUT/images/<crop id>.jpg`` and ``OUT/person_keypoints.json``,
each written whole or not at all; ``OUT`` must not lie inside the images' folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from posekit.io.atomic import encode_image, json_bytes, write_bytes
from posekit.io.coco import load_annotations
from posekit.io.images import read_image

#: The frame every crop is resized to (width, height).
FRAME = (640, 480)
#: Fills of the frame by the person's box, taken in turn.
FILLS = (0.70, 0.75, 0.80, 0.85, 0.90, 0.95)
#: A person needs this many labelled keypoints to be the subject of a crop.
MIN_KEYPOINTS = 8
#: Crops smaller than the frame by more than this factor are skipped (blur).
MAX_ZOOM = 2.0


def crop_window(box: Sequence[float], fill: float, image_size: Tuple[int, int],
                frame: Tuple[int, int] = FRAME) -> Optional[Tuple[float, float, float]]:
    """The crop around a person box, or None when it does not fit the image.

    Args:
        box: COCO ``[x, y, w, h]`` of the person, in pixels.
        fill: the box's larger side relative to the window's, in (0, 1].
        image_size: (width, height) of the image.
        frame: (width, height) of the output frame (sets the aspect ratio).

    Returns:
        ``(x0, y0, zoom)``: the window's top-left corner in image pixels
        and the factor that maps it onto ``frame``.

    Raises:
        ValueError: ``fill`` not in (0, 1] or a box without positive size.
    """
    if not 0 < fill <= 1:
        raise ValueError(f"fill must be in (0, 1], got {fill!r}")
    x, y, w, h = (float(v) for v in box)
    if w <= 0 or h <= 0:
        raise ValueError(f"box must have a positive width and height, got {list(box)}")
    aspect = frame[0] / frame[1]
    win_w = max(w, h * aspect) / fill
    win_h = win_w / aspect
    if win_w > image_size[0] or win_h > image_size[1] or frame[0] / win_w > MAX_ZOOM:
        return None
    x0 = min(max(x + w / 2 - win_w / 2, 0.0), image_size[0] - win_w)
    y0 = min(max(y + h / 2 - win_h / 2, 0.0), image_size[1] - win_h)
    return x0, y0, frame[0] / win_w


def move_person(ann: dict, x0: float, y0: float, zoom: float,
                frame: Tuple[int, int] = FRAME) -> dict:
    """A COCO person annotation in the crop's pixels (keypoints outside it unlabelled)."""
    kp = np.asarray(ann["keypoints"], np.float64).reshape(-1, 3).copy()
    kp[:, 0] = (kp[:, 0] - x0 + 0.5) * zoom - 0.5
    kp[:, 1] = (kp[:, 1] - y0 + 0.5) * zoom - 0.5
    inside = (kp[:, 2] > 0) & (kp[:, 0] >= 0) & (kp[:, 0] <= frame[0] - 1) \
        & (kp[:, 1] >= 0) & (kp[:, 1] <= frame[1] - 1)
    kp[~inside] = 0
    x, y, w, h = ann["bbox"]
    left, top = max((x - x0) * zoom, 0.0), max((y - y0) * zoom, 0.0)
    right, bottom = min((x + w - x0) * zoom, frame[0]), min((y + h - y0) * zoom, frame[1])
    box_w, box_h = max(right - left, 0.0), max(bottom - top, 0.0)
    kept = box_w * box_h / max(w * h * zoom * zoom, 1e-9)
    flat = [v for x, y, vis in kp.tolist() for v in (round(x, 2), round(y, 2), int(vis))]
    return {**ann, "keypoints": flat,
            "num_keypoints": int(inside.sum()), "bbox": [round(v, 2) for v in
                                                         (left, top, box_w, box_h)],
            "area": round(float(ann["area"]) * zoom * zoom * kept, 2)}


def make_closeups(images: Path, annotations: Path, limit: Optional[int] = None,
                  ) -> Tuple[dict, List[Tuple[str, np.ndarray]]]:
    """The close-up set's annotation file and its images, in memory.

    Args:
        images: folder of the COCO images.
        annotations: their COCO person-keypoint file.
        limit: at most this many crops (None: all).

    Returns:
        ``(coco_dict, [(file name, (480, 640, 3) uint8 BGR image)])``.

    Raises:
        ValueError: a bad annotation file or an unreadable image.
    """
    data = load_annotations(annotations)
    by_image: Dict[int, List[dict]] = {}
    people = [a for a in data["annotations"] if a["category_id"] == 1]
    for ann in people:
        by_image.setdefault(ann["image_id"], []).append(ann)
    entries = {im["id"]: im for im in data["images"]}
    subjects = sorted((a for a in people if not a.get("iscrowd")
                       and a.get("num_keypoints", 0) >= MIN_KEYPOINTS), key=lambda a: a["id"])
    out_images, out_anns, pictures = [], [], []
    turn = 0
    for subject in subjects:
        entry = entries[subject["image_id"]]
        window = crop_window(subject["bbox"], FILLS[turn % len(FILLS)],
                             (entry["width"], entry["height"]))
        if window is None:
            continue
        turn += 1
        x0, y0, zoom = window
        image = read_image(Path(images) / entry["file_name"])
        matrix = np.array([[zoom, 0, (0.5 - x0) * zoom - 0.5], [0, zoom, (0.5 - y0) * zoom - 0.5]])
        crop = cv2.warpAffine(image, matrix, FRAME, flags=cv2.INTER_CUBIC,
                              borderMode=cv2.BORDER_REPLICATE)
        crop_id = int(subject["id"])
        name = f"{crop_id}.jpg"
        out_images.append({"id": crop_id, "file_name": name, "width": FRAME[0],
                           "height": FRAME[1], "source_image_id": entry["id"]})
        for ann in by_image[entry["id"]]:
            moved = move_person(ann, x0, y0, zoom)
            out_anns.append({**moved, "id": len(out_anns) + 1, "image_id": crop_id})
        pictures.append((name, crop))
        if limit is not None and len(pictures) >= limit:
            break
    coco = {"images": out_images, "annotations": out_anns, "categories": data["categories"]}
    return coco, pictures


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=Path, required=True, help="folder of the COCO images")
    parser.add_argument("--annotations", type=Path, required=True,
                        help="their COCO person_keypoints JSON")
    parser.add_argument("--out", type=Path, default=Path("build/closeups"),
                        help="output folder (default build/closeups, ignored by git)")
    parser.add_argument("--limit", type=int, default=None, help="at most N crops")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    source = args.images.resolve()
    if out == source or source in out.parents:
        parser.error(f"--out {args.out} lies inside --images {args.images}")
    if args.limit is not None and args.limit < 1:
        parser.error(f"--limit must be at least 1, got {args.limit}")
    try:
        coco, pictures = make_closeups(args.images, args.annotations, args.limit)
        (out / "images").mkdir(parents=True, exist_ok=True)
        for name, picture in pictures:
            write_bytes(out / "images" / name, encode_image(picture, ".jpg", 95))
        write_bytes(out / "person_keypoints.json", json_bytes(coco))
    except (ValueError, OSError) as exc:
        print(f"make_closeups: {exc}", file=sys.stderr)
        return 2
    print(f"{len(pictures)} close-ups from {len({im['source_image_id'] for im in coco['images']})}"
          f" images in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
