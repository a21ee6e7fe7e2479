"""What a demo run reads: the input's kind, and images checked against the network's size limits.

Problems a user can fix are :class:`CommandError` (one line on standard error).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from posekit.lab.config import STRIDE
from posekit.networks.inference import MAX_NETWORK_PIXELS

from posekit.io import images as imageio
from posekit.apps.command import CommandError

#: Smallest image side the networks accept (one map cell).
MIN_SIDE = STRIDE


def classify_input(path: Path, default_input: str = "images/1.jpg") -> str:
    """``"folder"``, ``"image"`` or ``"video"``.

    Raises:
        CommandError: missing, unreadable or empty path, or a file named like an
            image whose content is not one.
    """
    if path.is_dir():
        return "folder"
    if not path.exists():
        hint = " (the sample images are fetched by `make setup`)" \
            if path == Path(default_input) else ""
        raise CommandError(f"{path}: no such file or folder{hint}")
    if not os.access(path, os.R_OK):
        raise CommandError(f"{path} is not readable (permission denied)")
    if path.stat().st_size == 0:
        raise CommandError(f"{path} is empty (0 bytes)")
    if imageio.has_image_signature(path):
        return "image"
    if imageio.is_image_name(path):
        raise CommandError(f"{path} is not an image file OpenCV can read (its content is not "
                       f"{path.suffix.lstrip('.').upper()} or any other image format)")
    return "video"


def check_size(height: int, width: int, name: object, max_side: Optional[int],
               scales: Sequence[float] = (1.0,)) -> None:
    """Raise CommandError unless the network can take the image at every scale it will see
    (after any downscaling to ``max_side``; ``scales``: the accurate mode's), before any work.
    """
    if height < MIN_SIDE or width < MIN_SIDE:
        raise CommandError(f"{name} is {width}x{height} pixels; the network needs at least "
                       f"{MIN_SIDE}x{MIN_SIDE}")
    factor = 1.0
    if max_side and max(height, width) > max_side:
        if round(min(height, width) * max_side / max(height, width)) < MIN_SIDE:
            raise CommandError(f"{name} is {width}x{height} pixels: downscaled to --max-side "
                           f"{max_side} its short side would be below {MIN_SIDE} pixels")
        factor = max_side / max(height, width)
    # the sizes the network runs at: imageio.fit_max_side's rounding; the accurate mode
    # then resizes the image padded to a multiple of the stride by each scale
    seen_w, seen_h = max(1, round(width * factor)), max(1, round(height * factor))
    if tuple(scales) != (1.0,):
        seen_w, seen_h = (-(-v // STRIDE) * STRIDE for v in (seen_w, seen_h))
    for scale in scales:
        run_w, run_h = max(1, round(seen_w * scale)), max(1, round(seen_h * scale))
        at = "" if scale == 1 else f" at the accurate mode's scale {scale:g} ({run_w}x{run_h})"
        if min(run_w, run_h) < MIN_SIDE:
            raise CommandError(f"{name} is {width}x{height} pixels: too small for the network{at}; "
                           f"it needs at least {MIN_SIDE}x{MIN_SIDE} (drop --accurate)")
        if run_w * run_h > MAX_NETWORK_PIXELS:
            hint = "lower --max-side or drop --accurate" if scale != 1 else \
                "downscale it first (--max-side, e.g. the default 640)"
            raise CommandError(f"{name}: {width}x{height} pixels is too large for the network{at}: "
                           f"more than {MAX_NETWORK_PIXELS // 1_000_000} megapixels, the "
                           f"memory bound; {hint}")


def load_checked_image(path: Path, max_side: Optional[int],
                       scales: Sequence[float] = (1.0,)) -> np.ndarray:
    """Read an image for the network.

    Raises:
        CommandError: unreadable, truncated, not an image, or a size the network cannot
            take at one of ``scales`` (:func:`check_size`).
    """
    try:
        image = imageio.read_image(path)
    except (OSError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    check_size(*image.shape[:2], path, max_side, scales)
    return image


def fit_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """A frame at the video's size (a stream may change its frame size midway)."""
    if frame.shape[:2] == (height, width):
        return frame
    import cv2

    return cv2.resize(imageio.to_bgr8(frame), (width, height))
