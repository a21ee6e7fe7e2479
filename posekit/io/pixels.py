"""Pixel conversion: any decoded picture (grey, 16-bit, float, alpha) to the networks' 8-bit BGR.

Grey is copied into the three channels; 16-bit is scaled by 255 / 65535 and
rounded; float ``0..1`` is scaled to ``0..255`` (clipped, NaN becomes 0); an
alpha channel is composited over mid-grey (128, the networks' padding value).
"""

from __future__ import annotations

import numpy as np

#: Pixels converted at once by :func:`to_bgr8`: bounds its temporary float copies (about
#: 60 bytes a pixel for 4 channels, 16 MB) whatever the image's shape (a band of rows did
#: not: a 1,000,000 x 50 image is one band).
CONVERT_PIXELS = 1 << 18
#: Value the alpha channel is composited over (all three channels).
BACKGROUND = 128


def to_bgr8(image: np.ndarray) -> np.ndarray:
    """Normalise a decoded image to 8-bit, 3-channel BGR (rules in the module docstring).

    Converted :data:`CONVERT_PIXELS` pixels at a time, so its temporary float copies stay
    bounded whatever the image's shape.

    Args:
        image: ``(H, W)`` or ``(H, W, C)`` with C in 1..4; uint8, uint16 or float.

    Returns:
        ``(H, W, 3)`` uint8 BGR (the input itself when it already is one).

    Raises:
        ValueError: an empty size, an unsupported pixel type or channel count.
    """
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (2, 3, 4)):
        raise ValueError(f"unsupported image layout {arr.shape} (expected H x W with 1 to 4 "
                         "channels)")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"the image has a zero dimension ({arr.shape[1]}x{arr.shape[0]} "
                         "pixels)")
    channels = 1 if arr.ndim == 2 else arr.shape[2]
    if arr.dtype == np.uint8 and channels == 3:
        return arr
    if arr.dtype not in (np.uint8, np.uint16) and arr.dtype.kind != "f":
        raise ValueError(f"unsupported pixel type {arr.dtype} (expected 8-bit, 16-bit or float)")
    height, width = arr.shape[:2]
    out = np.empty((height, width, 3), np.uint8)
    rows, cols = max(1, CONVERT_PIXELS // width), min(width, CONVERT_PIXELS)
    for top in range(0, height, rows):             # float copies of one block at a time
        for left in range(0, width, cols):
            out[top:top + rows, left:left + cols] = _band_to_bgr8(
                arr[top:top + rows, left:left + cols], channels)
    return out


def _band_to_bgr8(arr: np.ndarray, channels: int) -> np.ndarray:
    """:func:`to_bgr8` on a block of a validated image."""
    if arr.dtype == np.uint8:
        unit = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        unit = arr.astype(np.float32) / 65535.0
    else:  # float (the caller checked the type)
        unit = np.clip(np.nan_to_num(arr.astype(np.float32), nan=0.0), 0.0, 1.0)
    if channels in (2, 4):
        alpha = unit[:, :, -1:]
        unit = unit[:, :, :-1] * alpha + (BACKGROUND / 255.0) * (1.0 - alpha)
        channels -= 1
    if channels == 1:
        unit = np.repeat(unit.reshape(unit.shape[0], unit.shape[1], 1), 3, axis=2)
    return np.rint(unit * 255.0).astype(np.uint8)
