"""Drawing: skeletons (limbs and joints) over a copy of the input image."""

from __future__ import annotations

from typing import Dict, Sequence

import cv2
import numpy as np

from .config import NUM_PARTS, PoseConfig


def cell_to_pixel(value, stride: float):
    """Map a heatmap cell coordinate to image pixels (cell centre convention).

    Cell ``i`` covers pixels ``[i * stride, (i + 1) * stride)``, so its centre
    is at ``(i + 0.5) * stride - 0.5``; with ``stride == 1`` this is the identity.
    """
    return (np.asarray(value, dtype=np.float64) + 0.5) * stride - 0.5


def check_image(image) -> np.ndarray:
    """Validate a BGR image.

    Raises:
        ValueError: if ``image`` is not an (H, W, 3) uint8 array with H, W > 0.
    """
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise ValueError(
            f"image must be an (H, W, 3) uint8 BGR array, got {arr.shape} {arr.dtype}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"image has an empty size {arr.shape[:2]}")
    return arr


def draw(config: PoseConfig, image: np.ndarray, coords: Dict[str, Sequence],
         skeletons: np.ndarray, resize_fac: float = 1) -> np.ndarray:
    """Draw each skeleton's limbs and joints.

    Args:
        config: pose configuration (limbs, colours).
        image: (H, W, 3) uint8 BGR image; it is not modified.
        coords: ``{part name: [(x, y, score, id), ...]}`` in heatmap cells.
        skeletons: (K, 20) rows of 18 slot ids, score, parts_num.
        resize_fac: image pixels per heatmap cell (8 for the networks' maps).

    Returns:
        A new (H, W, 3) uint8 image with the skeletons drawn.

    Raises:
        ValueError: malformed image or skeletons, or a skeleton id that is not
            in ``coords``.
    """
    canvas = check_image(image).copy()
    skel = np.asarray(skeletons, dtype=np.float64).reshape(-1, NUM_PARTS + 2) \
        if np.size(skeletons) else np.zeros((0, NUM_PARTS + 2))
    position = {}
    for peaks in coords.values():
        for peak in peaks:
            position[int(peak[3])] = cell_to_pixel(peak[:2], resize_fac)
    thickness = max(2, round(min(canvas.shape[:2]) / 200))
    for row in skel:
        ids = row[:NUM_PARTS].astype(int)
        missing = [i for i in ids if i >= 0 and i not in position]
        if missing:
            raise ValueError(f"skeleton part id {missing[0]} is not in coords")
        for limb in config.connection_types:
            if limb.redundant:
                continue
            a = ids[config.body_parts[limb.from_body_part].slot_idx]
            b = ids[config.body_parts[limb.to_body_part].slot_idx]
            if a >= 0 and b >= 0:
                pa = tuple(int(round(v)) for v in position[a])
                pb = tuple(int(round(v)) for v in position[b])
                cv2.line(canvas, pa, pb, limb.color, thickness, cv2.LINE_AA)
        for slot, part_id in enumerate(ids):
            if part_id >= 0:
                centre = tuple(int(round(v)) for v in position[part_id])
                cv2.circle(canvas, centre, thickness + 1, config.part_colors[slot], -1,
                           cv2.LINE_AA)
    return canvas
