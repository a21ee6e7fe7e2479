"""What a demo run reads: the input's kind, and images checked against the network's size limits.

Problems a user can fix are :class:`CliError` (one line on standard error).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np

from posekit.lab.config import STRIDE

from posekit.io import images as imageio

#: Smallest image side the networks accept (one map cell).
MIN_SIDE = STRIDE


class CliError(Exception):
    """A problem the user can fix; printed as one ``demo_image.py: error:`` line."""


class Interrupted(Exception):
    """Ctrl-C during a run; the message says what was kept."""


def classify_input(path: Path, default_input: str = "images/1.jpg") -> str:
    """``"folder"``, ``"image"`` or ``"video"``.

    Raises:
        CliError: missing, unreadable or empty path, or a file named like an
            image whose content is not one.
    """
    if path.is_dir():
        return "folder"
    if not path.exists():
        hint = " (the sample images are fetched by `make setup`)" \
            if path == Path(default_input) else ""
        raise CliError(f"{path}: no such file or folder{hint}")
    if not os.access(path, os.R_OK):
        raise CliError(f"{path} is not readable (permission denied)")
    if path.stat().st_size == 0:
        raise CliError(f"{path} is empty (0 bytes)")
    if imageio.has_image_signature(path):
        return "image"
    if imageio.is_image_name(path):
        raise CliError(f"{path} is not an image file OpenCV can read (its content is not "
                       f"{path.suffix.lstrip('.').upper()} or any other image format)")
    return "video"


def check_size(height: int, width: int, name: object, max_side: Optional[int]) -> None:
    """Raise CliError unless the network can take the image (after any downscaling)."""
    if height < MIN_SIDE or width < MIN_SIDE:
        raise CliError(f"{name} is {width}x{height} pixels; the network needs at least "
                       f"{MIN_SIDE}x{MIN_SIDE}")
    if max_side and max(height, width) > max_side:
        if round(min(height, width) * max_side / max(height, width)) < MIN_SIDE:
            raise CliError(f"{name} is {width}x{height} pixels: downscaled to --max-side "
                           f"{max_side} its short side would be below {MIN_SIDE} pixels")


def load_checked_image(path: Path, max_side: Optional[int]) -> np.ndarray:
    """Read an image for the network.

    Raises:
        CliError: unreadable, truncated, not an image, smaller than 8x8, or
            too elongated to downscale to ``max_side``.
    """
    try:
        image = imageio.read_image(path)
    except (OSError, ValueError) as exc:
        raise CliError(str(exc)) from None
    check_size(*image.shape[:2], path, max_side)
    return image


def fit_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """A frame at the video's size (a stream may change its frame size midway)."""
    if frame.shape[:2] == (height, width):
        return frame
    import cv2

    return cv2.resize(imageio.to_bgr8(frame), (width, height))
