"""An uploaded image (JPEG, PNG or WebP bytes) checked from its header, then decoded in memory.

The same bounds as files (``posekit.io.images``): the size and sample layout read from the
header (:func:`posekit.io.image_sizes.handle_layout`) against the 50-megapixel and decode
memory limits before any decoder runs, a JPEG or PNG cut short refused from its structure;
then OpenCV decodes the bytes (``cv2.imdecode``) into 8-bit BGR. Nothing reaches the file
system.
"""

from __future__ import annotations

import io
from typing import Optional

import cv2
import numpy as np

from posekit.io.headers import handle_truncation
from posekit.io.image_sizes import handle_layout
from posekit.io.images import check_layout
from posekit.io.pixels import to_bgr8

#: The formats the service takes, by their first bytes.
MEDIA_TYPES = ("image/jpeg", "image/png", "image/webp")


class UploadError(ValueError):
    """An upload refused, with the HTTP status that says why (400, 413 or 415)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def image_kind(data: bytes) -> Optional[str]:
    """``"jpeg"``, ``"png"`` or ``"webp"`` by the first bytes of ``data``; None otherwise."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def decode_upload(data: bytes) -> np.ndarray:
    """The pixels of an uploaded image, checked before decoding.

    Args:
        data: the request body.

    Returns:
        (H, W, 3) uint8 BGR (EXIF orientation applied to 8-bit JPEGs, as files).

    Raises:
        UploadError: empty (400); not a JPEG, PNG or WebP (415); over the pixel or decode
            memory limit by its header (413); a header without a size, cut short or corrupt
            (400). One line each, naming "the image".
    """
    if not isinstance(data, (bytes, bytearray, memoryview)) or not len(data):
        raise UploadError("the body is empty: send the image's bytes (JPEG, PNG or WebP)")
    data = bytes(data)
    if image_kind(data) is None:
        raise UploadError("the body is not a JPEG, PNG or WebP image (by its first bytes)", 415)
    handle = io.BytesIO(data)
    layout = handle_layout(handle)
    if layout is None:
        raise UploadError("the image's header gives no size (cut short or malformed), so its "
                          "limits cannot be checked: it was not decoded")
    try:
        check_layout("the image", layout)
    except ValueError as exc:
        raise UploadError(str(exc), 413) from None
    cut = handle_truncation(handle, len(data))
    if cut:
        raise UploadError(f"cannot decode the image: it is truncated or corrupt ({cut})")
    buffer = np.frombuffer(data, dtype=np.uint8)
    image = _imdecode(buffer, cv2.IMREAD_UNCHANGED)
    if image.shape[0] != layout.height or image.shape[1] != layout.width:
        raise UploadError(f"cannot decode the image: its header says {layout.width}x"
                          f"{layout.height}, its data {image.shape[1]}x{image.shape[0]}")
    if image.dtype == np.uint8 and (image.ndim == 2 or image.shape[2] in (1, 3)):
        image = None                                   # one decoded copy at a time
        image = _imdecode(buffer, cv2.IMREAD_COLOR)    # EXIF orientation applied
    try:
        return to_bgr8(image)
    except ValueError as exc:
        raise UploadError(f"the image: {exc}") from None


def _imdecode(buffer: np.ndarray, flags: int) -> np.ndarray:
    try:
        image = cv2.imdecode(buffer, flags)
    except cv2.error as exc:
        raise UploadError("cannot decode the image: "
                          f"{str(exc).strip().splitlines()[-1]}") from None
    if image is None:
        raise UploadError("cannot decode the image: it is truncated or corrupt")
    return image
