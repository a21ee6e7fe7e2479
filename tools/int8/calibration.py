"""Calibration inputs of the int8 ``mobilenet_thin``: the sample images, or dev images."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from posekit.paths import images_dir

#: Sample images used for calibration (fetched by ``posekit/networks/assets.py``).
CALIBRATION_IMAGES = ("bus.jpg", "zidane.jpg")
#: Longer side of the calibration inputs (the demo's and the evaluation's usual sizes).
CALIBRATION_SIDES = (368, 480, 640)

def calibration_batches(image_dir: str | os.PathLike[str] | None = None,
                        names: Sequence[str] = CALIBRATION_IMAGES,
                        sides: Sequence[int] = CALIBRATION_SIDES) -> list[np.ndarray]:
    """Calibration inputs from the sample images: sizes, mirrors and crops.

    Args:
        image_dir: Folder of the images (default ``images/`` of the project).
        names: Image file names in that folder.
        sides: Longer side, in pixels, of each resized copy.

    Returns:
        float32 ``(1, H, W, 3)`` BGR batches (``H``, ``W`` multiples of 8):
        for each image and side, the resized image, its mirror and its
        centre crop of half the area.

    Raises:
        FileNotFoundError: An image is missing (the message says to run ``make setup``).
        ValueError: An image cannot be decoded.
    """
    import cv2

    image_dir = Path(image_dir) if image_dir is not None else images_dir()
    batches = []
    for name in names:
        path = image_dir / name
        if not path.is_file():
            raise FileNotFoundError(f"calibration image {path} not found: run `make setup` "
                                    "(or `python posekit/networks/assets.py`) to fetch it")
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"calibration image {path} cannot be decoded: delete it and "
                             "rerun `make setup`")
        height, width = image.shape[:2]
        for side in sides:
            factor = side / max(height, width)
            size = (max(8, round(width * factor) // 8 * 8), max(8, round(height * factor) // 8 * 8))
            resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            h, w = resized.shape[:2]
            crop = resized[h // 4 // 8 * 8:(h // 4 + h // 2) // 8 * 8 + 8,
                           w // 4 // 8 * 8:(w // 4 + w // 2) // 8 * 8 + 8]
            for variant in (resized, resized[:, ::-1], crop):
                batches.append(np.ascontiguousarray(variant, dtype=np.float32)[None])
    return batches


def dev_calibration_batches(dev_images: Sequence[str | os.PathLike[str]],
                            sides: Sequence[int] = (640, 368)) -> list[np.ndarray]:
    """Calibration inputs from dev images: each at each longer side, plus the mirror of the first.

    Args:
        dev_images: Image paths.
        sides: Longer side of each resized copy, in pixels (the first is also mirrored).

    Returns:
        float32 ``(1, H, W, 3)`` BGR batches, ``H`` and ``W`` multiples of 8.

    Raises:
        ValueError: An image cannot be decoded.
    """
    import cv2

    batches = []
    for path in dev_images:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"calibration image {path} cannot be decoded")
        for k, side in enumerate(sides):
            batches += [view(image, side, mirror) for mirror in ((False, True) if k == 0
                                                                 else (False,))]
    return batches


def view(image: np.ndarray, side: int, mirror: bool = False) -> np.ndarray:
    """``image`` resized to longer side ``side`` (each side a multiple of 8), maybe mirrored.

    Args:
        image: (H, W, 3) uint8 BGR.
        side: Longer side in pixels.
        mirror: Flip left-right.

    Returns:
        float32 ``(1, h, w, 3)`` batch.
    """
    import cv2

    height, width = image.shape[:2]
    factor = side / max(height, width)
    size = (max(8, round(width * factor) // 8 * 8), max(8, round(height * factor) // 8 * 8))
    resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(resized[:, ::-1] if mirror else resized, dtype=np.float32)[None]
