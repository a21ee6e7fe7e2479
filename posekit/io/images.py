"""Reading pictures: image files decoded by OpenCV, checked and bounded, as 8-bit BGR.

Whatever OpenCV decodes becomes the 8-bit BGR ``(H, W, 3)`` image the
networks take (``posekit.io.pixels``):

* grey ``(H, W)`` or ``(H, W, 1)`` -> grey copied into the three channels;
* 16-bit -> scaled by 255 / 65535 and rounded; float -> ``0..1`` scaled to
  ``0..255`` (values outside are clipped, NaN becomes 0);
* with an alpha channel (grey + alpha, BGRA) -> composited over mid-grey
  (128, the value the networks' padding uses), so transparent areas are flat;
* palette PNGs are expanded by OpenCV itself.

Files are decoded with ``cv2.IMREAD_UNCHANGED`` (keeps depth and alpha). An
8-bit image without alpha is then read again with ``cv2.IMREAD_COLOR`` so that
the EXIF orientation of camera photos is applied exactly as ``cv2.imread``
does by default (``IMREAD_UNCHANGED`` ignores it); that second decode costs
about 10 ms for a 1-megapixel JPEG. A JPEG without its end marker after the
image data, or a PNG without its ``IEND`` chunk, is rejected as truncated from
its structure before any decoder runs (so libjpeg / libpng never print about
it). This module never redirects the process's standard error; the
command-line tools lower OpenCV's own log level instead.

Every file's size and sample layout are read from its header
(``posekit.io.image_sizes``) and checked against :data:`MAX_IMAGE_PIXELS` and
:data:`MAX_DECODE_BYTES` (the decoded array plus the decoder's own buffers)
before any decoder runs; a file whose header gives no size is not decoded.
OpenCV decodes straight into the array it returns (one copy at its peak), and
the conversion to 8-bit works on blocks of :data:`CONVERT_PIXELS` pixels. Writing lives in
``posekit.io.atomic``, header checks in ``posekit.io.headers`` (their public
names are re-exported here); videos are read by ``posekit.video.reader``. Importing this
module changes no process-wide state.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional, Tuple, Union

import cv2
import numpy as np

# Re-exported: this module was once all of image and video I/O.
from posekit.io.atomic import (NAME_MAX, STDOUT, atomic_path, check_output_file,  # noqa: F401
                     check_output_folder, destination_kind, encode_image, json_bytes,
                     make_output_folder, write_bytes, write_group, write_image, write_json)
from posekit.io.headers import (MAX_DECODE_BYTES, MAX_IMAGE_PIXELS,  # noqa: F401
                                check_readable_file, has_image_signature, truncation)
from posekit.io.image_sizes import Layout, header_layout, header_size  # noqa: F401
from posekit.io.pixels import BACKGROUND, CONVERT_PIXELS, to_bgr8  # noqa: F401

PathLike = Union[str, "os.PathLike[str]"]

#: File name extensions treated as images (lower case), as OpenCV can decode them.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".dib", ".tif", ".tiff",
                    ".webp", ".ppm", ".pgm", ".pbm", ".pnm", ".pfm", ".sr", ".ras",
                    ".jp2", ".exr", ".hdr", ".pic", ".gif", ".avif")


def is_image_name(path: PathLike) -> bool:
    """Whether the file name has one of :data:`IMAGE_EXTENSIONS` (case-insensitive)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def read_image(path: PathLike) -> np.ndarray:
    """Read an image file as 8-bit BGR (any depth, channel count or palette).

    Args:
        path: the image file.

    Returns:
        ``(H, W, 3)`` uint8 BGR, EXIF orientation applied for 8-bit images.

    Raises:
        FileNotFoundError: the file does not exist.
        IsADirectoryError: the path is a folder.
        PermissionError: the file is not readable.
        ValueError: empty, not an image OpenCV can decode, truncated or
            corrupt, larger than :data:`MAX_IMAGE_PIXELS` or whose decoding
            takes more than :data:`MAX_DECODE_BYTES` (both refused from its
            header, before decoding), a header that gives no size (not
            decoded: the limits cannot be checked), or an unsupported pixel layout
            (one-line messages that name the file).
    """
    path = Path(path)
    check_readable_file(path)
    if not has_image_signature(path):
        raise ValueError(f"{path} is not an image file OpenCV can read")
    layout = header_layout(path)
    if layout is not None:
        check_layout(path, layout)
    cut = truncation(path)
    if cut:
        raise ValueError(f"cannot decode {path}: the file is truncated or corrupt ({cut})")
    if layout is None:
        raise ValueError(f"cannot decode {path}: its header gives no image size, so its "
                         f"{MAX_IMAGE_PIXELS:,}-pixel limit cannot be checked before decoding")
    image = _decode(path, cv2.IMREAD_UNCHANGED)
    if image.shape[0] * image.shape[1] > MAX_IMAGE_PIXELS:      # its header understated it
        raise ValueError(f"{path} is too large: {image.shape[1]}x{image.shape[0]} pixels, "
                         f"more than {MAX_IMAGE_PIXELS:,} (the limit)")
    if image.nbytes > MAX_DECODE_BYTES:
        raise ValueError(f"{path} is too large: it decoded to {_mb(image.nbytes)}, more than "
                         f"{_mb(MAX_DECODE_BYTES)} (the limit)")
    if image.dtype == np.uint8 and (image.ndim == 2 or image.shape[2] in (1, 3)):
        image = None                                 # one decoded copy at a time
        try:
            image = _decode(path, cv2.IMREAD_COLOR)  # EXIF orientation applied
        except ValueError:
            image = _decode(path, cv2.IMREAD_UNCHANGED)
    try:
        return to_bgr8(image)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def check_layout(path: PathLike, layout: Layout) -> None:
    """Refuse an image whose header exceeds :data:`MAX_IMAGE_PIXELS` or :data:`MAX_DECODE_BYTES`.

    Args:
        path: the file (named in the message).
        layout: what its header says (``posekit.io.image_sizes.header_layout``).

    Raises:
        ValueError: one line naming the file, its size and the limit passed.
    """
    width, height = layout.width, layout.height
    if width * height > MAX_IMAGE_PIXELS:
        raise ValueError(f"{path} is too large: {width}x{height} pixels, more than "
                         f"{MAX_IMAGE_PIXELS:,} (the limit; nothing was decoded)")
    if layout.decode_bytes > MAX_DECODE_BYTES:
        work = (f" and {_mb(layout.work_bytes)} of the decoder's buffers"
                if layout.work_bytes else "")
        raise ValueError(
            f"{path} is too large to decode: {width}x{height} pixels of {layout.channels} x "
            f"{8 * layout.sample_bytes}-bit samples take {_mb(layout.array_bytes)}{work}, more "
            f"than {_mb(MAX_DECODE_BYTES)} (the limit; nothing was decoded)")


def _mb(size: int) -> str:
    """Bytes as megabytes, e.g. ``1,600 MB`` or ``0.004 MB``."""
    return f"{size / 1e6:,.0f} MB" if size >= 1e7 else f"{size / 1e6:.3g} MB"


#: Whether this OpenCV's ``cv2.imread`` takes an output array (4.10 and later): given
#: None, it decodes straight into the array it returns; the two-argument form decodes
#: into an array of its own and returns a copy (twice the memory at its peak).
_DECODES_IN_PLACE = "imread(filename[, dst" in (cv2.imread.__doc__ or "")


def _decode(path: Path, flags: int) -> np.ndarray:
    """``cv2.imread`` with one decoded copy at its peak; errors as one-line ValueErrors."""
    try:
        if _DECODES_IN_PLACE:
            image = cv2.imread(os.fspath(path), None, flags)
        else:
            image = cv2.imread(os.fspath(path), flags)
    except cv2.error as exc:
        if "MAX_IMAGE_PIXELS" in str(exc):       # OpenCV's own cap, where a command set it
            raise ValueError(f"{path} is too large for OpenCV's pixel cap "
                             "(OPENCV_IO_MAX_IMAGE_PIXELS; nothing was decoded)") from None
        raise ValueError(f"cannot decode {path}: {str(exc).strip().splitlines()[-1]}"
                         ) from None
    if image is None:
        raise ValueError(f"cannot decode {path}: the file is truncated or corrupt")
    return image


#: Smallest ``max_side`` accepted (a longer side of 32 pixels is 4 network cells).
MIN_MAX_SIDE = 32


def check_max_side(max_side: object, name: str = "max_side") -> Optional[int]:
    """The one rule for a longest-side limit, wherever one is given (library or command).

    Args:
        max_side: None (never downscale: the one "off" of the library) or an
            integer >= :data:`MIN_MAX_SIDE` (``int`` or a numpy integer; not a
            bool, a float or a string). The commands map their ``--max-side 0``
            to None before calling this.
        name: the argument's name in the message.

    Returns:
        ``max_side`` as a Python ``int``, or None.

    Raises:
        ValueError: anything else, naming ``name`` and the value.
    """
    if max_side is None:
        return None
    if isinstance(max_side, (bool, np.bool_)) or not isinstance(max_side, (int, np.integer)) \
            or max_side < MIN_MAX_SIDE:
        raise ValueError(f"{name} must be None (never downscale) or an integer >= "
                         f"{MIN_MAX_SIDE}, got {max_side!r}")
    return int(max_side)


def fit_max_side(image: np.ndarray, max_side: Optional[int]) -> Tuple[np.ndarray, float]:
    """Downscale an image whose longer side exceeds ``max_side`` (area interpolation).

    Args:
        image: ``(H, W, 3)`` image.
        max_side: the longest allowed side in pixels (:func:`check_max_side`);
            None disables it.

    Returns:
        ``(image, scale)``: the (possibly new) image and original size / new
        size (1.0 when unchanged). Multiply pixel positions found on the
        returned image by ``scale`` to get positions in the original.

    Raises:
        ValueError: a ``max_side`` that :func:`check_max_side` refuses.
    """
    max_side = check_max_side(max_side)
    height, width = image.shape[:2]
    if max_side is None or max(height, width) <= max_side:
        return image, 1.0
    factor = max_side / max(height, width)
    new_w = max(1, round(width * factor))
    new_h = max(1, round(height * factor))
    small = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
    return small, max(height, width) / max(new_h, new_w)


def list_images(folder: PathLike) -> List[Path]:
    """Image files directly inside ``folder`` (by extension, hidden files skipped), sorted.

    Raises:
        NotADirectoryError: ``folder`` is not a folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a folder")
    return sorted((p for p in folder.iterdir()
                   if p.is_file() and not p.name.startswith(".") and is_image_name(p)),
                  key=lambda p: p.name)
