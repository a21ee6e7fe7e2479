"""Image sizes and truncation read from file headers, before any decoder runs.

PNG, JPEG, GIF, BMP and WebP headers give the size (the formats a
decompression bomb is usually built in); JPEG and PNG files cut short are
found from their structure, so libjpeg / libpng never print about them.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any, Iterator, Optional, Tuple, Union

import cv2

PathLike = Union[str, "os.PathLike[str]"]

#: Largest image accepted, in pixels (50 megapixels: a 45-megapixel camera photo fits).
#: :func:`header_size` reads it from PNG / JPEG / GIF / BMP / WebP headers before
#: decoding; for other formats OpenCV checks its header (its
#: ``OPENCV_IO_MAX_IMAGE_PIXELS``, armed above for this process); video frames are
#: checked by their reported size. The measured worst case (a 16-bit RGBA PNG at the
#: limit) is in README, "Limits".
MAX_IMAGE_PIXELS = 50_000_000


def header_size(path: PathLike) -> Optional[Tuple[int, int]]:
    """``(width, height)`` read from the file's header, without decoding pixels.

    Knows PNG, JPEG, GIF, BMP and WebP (the formats a decompression bomb is
    usually made of); None for other formats or a header it cannot parse (then
    OpenCV's own header check, armed at import, and the size check after
    decoding still apply).
    """
    with open(path, "rb") as handle:
        head = handle.read(64)
        if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
            return struct.unpack(">II", head[16:24])
        if head[:6] in (b"GIF87a", b"GIF89a"):
            return struct.unpack("<HH", head[6:10])
        if head[:2] == b"BM" and len(head) >= 26:
            width, height = struct.unpack("<ii", head[18:26])
            return abs(width), abs(height)
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            kind = head[12:16]
            if kind == b"VP8X":
                return (int.from_bytes(head[24:27], "little") + 1,
                        int.from_bytes(head[27:30], "little") + 1)
            if kind == b"VP8L":
                bits = int.from_bytes(head[21:25], "little")
                return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
            if kind == b"VP8 ":
                width, height = struct.unpack("<HH", head[26:30])
                return width & 0x3FFF, height & 0x3FFF
            return None
        if head[:2] == b"\xff\xd8":
            return _jpeg_size(handle)
    return None


def _jpeg_segments(handle: Any) -> Iterator[Tuple[int, int]]:
    """``(marker code, segment length)`` of a JPEG's segments, the handle just past each
    length field; stops at the end of the markers (at most 10000 of them)."""
    handle.seek(2)
    for _ in range(10000):                       # bounded walk over the markers
        marker = handle.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            return
        code = marker[1]
        if code == 0xFF:                         # fill byte
            handle.seek(-1, 1)
            continue
        if code in (0x01, *range(0xD0, 0xD8)):   # markers without a length
            continue
        length = handle.read(2)
        if len(length) < 2:
            return
        yield code, struct.unpack(">H", length)[0]


def _jpeg_scan_start(handle: Any) -> Optional[int]:
    """Offset of a JPEG's first entropy-coded data (after its SOS segment), or None."""
    for code, size in _jpeg_segments(handle):
        handle.seek(size - 2, 1)
        if code == 0xDA:
            return handle.tell()
    return None


def _jpeg_size(handle: Any) -> Optional[Tuple[int, int]]:
    """Width and height from a JPEG's first SOF marker (reads markers, not pixels)."""
    for code, size in _jpeg_segments(handle):
        if 0xC0 <= code <= 0xCF and code not in (0xC4, 0xC8, 0xCC):
            frame = handle.read(5)
            if len(frame) < 5:
                return None
            height, width = struct.unpack(">HH", frame[1:5])
            return width, height
        handle.seek(size - 2, 1)
    return None


def has_image_signature(path: PathLike) -> bool:
    """Whether OpenCV recognises the file's first bytes as an image format it decodes."""
    return bool(cv2.haveImageReader(os.fspath(path)))


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
        head = handle.read(8)
        if head[:8] == b"\x89PNG\r\n\x1a\n":
            total = os.fstat(handle.fileno()).st_size
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
