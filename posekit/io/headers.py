"""Checks of an image file before any decoder runs: the pixel and memory limits, truncation, kind.

The size and sample layout are read by ``posekit.io.image_sizes``; JPEG and PNG files cut
short are found here from their structure, so libjpeg / libpng never print
about them.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any, Optional, Union

import cv2

from posekit.io.image_sizes import jpeg_segments

PathLike = Union[str, "os.PathLike[str]"]

#: Largest image accepted, in pixels (50 megapixels: a 45-megapixel camera photo fits).
#: Checked against the size in the file's header before decoding (a file whose header
#: gives none is not decoded), and against a video's reported frame size before its
#: first frame is read. The measured worst case (a 16-bit RGBA PNG at the limit) is in
#: docs/limits.md.
MAX_IMAGE_PIXELS = 50_000_000
#: Most memory one image's decoding may take, in bytes, as its header gives it
#: (``posekit.io.image_sizes.Layout.decode_bytes``: pixels x channels x bytes per sample of
#: the decoded array, plus the decoder's own buffers). 450 MB: a progressive 4:4:4 JPEG
#: (9 bytes a pixel) or a 16-bit RGBA PNG (8) at the pixel limit fits; a float32 RGBA
#: TIFF stops at 28 megapixels, a float64 one at 14. Measured peaks in docs/limits.md.
MAX_DECODE_BYTES = 450_000_000


def has_image_signature(path: PathLike) -> bool:
    """Whether OpenCV recognises the file's first bytes as an image format it decodes."""
    return bool(cv2.haveImageReader(os.fspath(path)))


def _jpeg_scan_start(handle: Any) -> Optional[int]:
    """Offset of a JPEG's first entropy-coded data (after its SOS segment), or None."""
    for code, size in jpeg_segments(handle):
        handle.seek(size - 2, 1)
        if code == 0xDA:
            return handle.tell()
    return None


#: Bytes searched at a time for a JPEG's end marker.
_SCAN_BLOCK = 1 << 20


def truncation(path: PathLike) -> str:
    """Why a JPEG or PNG file is cut short (``""`` when complete or another format).

    Reads the file's structure, never its pixels: a JPEG must have an end
    marker (``FF D9``) after its first start-of-scan (the entropy-coded data
    cannot contain one), a PNG an ``IEND`` chunk after a walk over its chunk
    lengths.
    """

    with open(path, "rb") as handle:
        return handle_truncation(handle, os.fstat(handle.fileno()).st_size)


def handle_truncation(handle: Any, total: int) -> str:
    """:func:`truncation` of an open binary file or an ``io.BytesIO`` of ``total`` bytes
    (an upload held in memory), read from its start."""
    handle.seek(0)
    head = handle.read(8)
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        position = 8
        while position + 8 <= total:
            handle.seek(position)
            length, tag = struct.unpack(">I4s", handle.read(8))
            position += 12 + length
            if tag == b"IEND":
                return "" if position <= total else "its IEND chunk is cut"
        return "it ends before its IEND chunk"
    if head[:2] != b"\xff\xd8":
        return ""
    start = _jpeg_scan_start(handle)
    if start is None:
        return "it ends before its image data"
    handle.seek(start)
    tail = b""
    while True:
        block = handle.read(_SCAN_BLOCK)
        if not block:
            return "no end marker after its image data"
        if b"\xff\xd9" in tail[-1:] + block:
            return ""
        tail = block


def check_readable_file(path: Path) -> None:
    """Raise FileNotFoundError / IsADirectoryError / PermissionError / ValueError (empty, or
    not a regular file: a FIFO, device or socket is never opened)."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a file")
    if not path.is_file():
        raise ValueError(f"{path} is not a regular file (a FIFO, device or socket); "
                         "only files are read")
    if not os.access(path, os.R_OK):
        raise PermissionError(f"{path} is not readable (permission denied)")
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is empty (0 bytes)")
