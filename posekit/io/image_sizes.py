"""Image sizes read from file headers, for every format this OpenCV decodes, never the pixels.

:func:`header_size` knows PNG, JPEG, GIF, BMP, WebP, TIFF (and BigTIFF),
PNM / PAM / PFM, Sun raster, Radiance HDR, JPEG 2000 and AVIF: each format
whose decoder the installed OpenCV has (``cv2.getBuildInformation()``, "Media
I/O"), so the pixel limit is checked before any decoder allocates. A file whose
size it cannot read gives None (callers refuse to decode it).
"""

from __future__ import annotations

import os
import re
import struct
from typing import Any, BinaryIO, Callable, Iterator, List, Optional, Tuple, Union

PathLike = Union[str, "os.PathLike[str]"]
Size = Tuple[int, int]

#: Bytes of a text header (PNM, PAM, PFM, Radiance HDR) read at most.
_TEXT_HEADER = 65536
#: Most segments, IFD entries or boxes walked in one file.
_MAX_STEPS = 10000


def header_size(path: PathLike) -> Optional[Size]:
    """``(width, height)`` read from the file's header, without decoding pixels.

    Returns:
        The size; None for a format it does not know or a header cut short or
        malformed (for JPEG 2000 and AVIF the largest image the file declares).
    """
    with open(path, "rb") as handle:
        head = handle.read(64)
        for offset, magic, parse in _FORMATS:
            if head[offset:offset + len(magic)] == magic:
                try:
                    return parse(head, handle)
                except (struct.error, ValueError, IndexError, KeyError, OverflowError, OSError):
                    return None
    return None


def _png(head: bytes, handle: BinaryIO) -> Optional[Size]:
    return struct.unpack(">II", head[16:24]) if head[12:16] == b"IHDR" else None


def _gif(head: bytes, handle: BinaryIO) -> Optional[Size]:
    return struct.unpack("<HH", head[6:10])


def _bmp(head: bytes, handle: BinaryIO) -> Optional[Size]:
    if struct.unpack("<I", head[14:18])[0] == 12:          # OS/2 1.x core header: 16-bit sides
        return struct.unpack("<HH", head[18:22])
    width, height = struct.unpack("<ii", head[18:26])
    return abs(width), abs(height)


def _webp(head: bytes, handle: BinaryIO) -> Optional[Size]:
    kind = head[12:16]
    if head[8:12] != b"WEBP":
        return None
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


def jpeg_segments(handle: Any) -> Iterator[Tuple[int, int]]:
    """``(marker code, segment length)`` of a JPEG's segments, the handle just past each
    length field; stops at the end of the markers (at most 10000 of them)."""
    handle.seek(2)
    for _ in range(_MAX_STEPS):                  # bounded walk over the markers
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


def _jpeg(head: bytes, handle: BinaryIO) -> Optional[Size]:
    """Width and height from a JPEG's first SOF marker (reads markers, not pixels)."""
    for code, size in jpeg_segments(handle):
        if 0xC0 <= code <= 0xCF and code not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", handle.read(5)[1:5])
            return width, height
        handle.seek(size - 2, 1)
    return None


def _tiff(head: bytes, handle: BinaryIO) -> Optional[Size]:
    """ImageWidth (256) and ImageLength (257) of the first IFD (the page OpenCV reads)."""
    order = "<" if head[:2] == b"II" else ">"
    big = struct.unpack(order + "H", head[2:4])[0] == 43
    count_format, entry, value_at = ("Q", 20, 12) if big else ("H", 12, 8)
    handle.seek(struct.unpack(order + ("Q" if big else "I"), head[8:16] if big else head[4:8])[0])
    count = min(struct.unpack(order + count_format, handle.read(struct.calcsize(count_format)))[0],
                _MAX_STEPS)
    table = handle.read(count * entry)
    found = {}
    for start in range(0, len(table) - entry + 1, entry):
        tag, kind = struct.unpack(order + "HH", table[start:start + 4])
        if tag in (256, 257):
            value = {3: "H", 4: "I", 16: "Q"}[kind]           # SHORT, LONG, LONG8
            found[tag] = struct.unpack_from(order + value, table, start + value_at)[0]
    return (found[256], found[257]) if len(found) == 2 else None


def _text_header(handle: BinaryIO) -> str:
    handle.seek(0)
    return handle.read(_TEXT_HEADER).decode("latin-1")


def _pnm(head: bytes, handle: BinaryIO) -> Optional[Size]:
    """P1-P6 and PF / Pf: the two numbers after the magic (``#`` comments skipped)."""
    if head[1:2] not in b"123456Ff" or head[2:3] not in b" \t\r\n#":
        return None
    tokens = re.sub(r"#[^\n\r]*", " ", _text_header(handle)[2:]).split()
    return int(tokens[0]), int(tokens[1])


def _pam(head: bytes, handle: BinaryIO) -> Optional[Size]:
    """P7: the ``WIDTH`` and ``HEIGHT`` lines before ``ENDHDR``."""
    fields = {}
    for line in _text_header(handle).splitlines()[1:]:
        words = line.split()
        if words[:1] == ["ENDHDR"]:
            break
        if len(words) == 2:
            fields[words[0]] = words[1]
    return int(fields["WIDTH"]), int(fields["HEIGHT"])


def _sun_raster(head: bytes, handle: BinaryIO) -> Optional[Size]:
    return struct.unpack(">II", head[4:12])


def _radiance(head: bytes, handle: BinaryIO) -> Optional[Size]:
    """The resolution line after the header's blank line, e.g. ``-Y 480 +X 640``."""
    lines = _text_header(handle).split("\n")
    words = lines[lines.index("") + 1].split()
    if len(words) != 4 or words[0][1:] not in "XY" or words[2][1:] not in "XY":
        return None
    first, second = int(words[1]), int(words[3])
    return (second, first) if words[0][1] == "Y" else (first, second)


def _j2k(head: bytes, handle: BinaryIO) -> Optional[Size]:
    """A JPEG 2000 codestream's SIZ marker: the image area less its offset."""
    width, height, left, top = struct.unpack(">IIII", head[8:24])
    return (width - left, height - top) if width > left and height > top else None


def _boxes(handle: BinaryIO, start: int, end: int) -> Iterator[Tuple[bytes, int, int]]:
    """``(type, payload start, payload end)`` of the ISO boxes between two offsets."""
    position = start
    for _ in range(_MAX_STEPS):
        handle.seek(position)
        header = handle.read(8)
        if position + 8 > end or len(header) < 8:
            return
        size, kind = struct.unpack(">I4s", header)
        body = position + 8
        if size == 1:
            size, body = struct.unpack(">Q", handle.read(8))[0], body + 8
        elif size == 0:
            size = end - position
        if size < body - position:
            return
        yield kind, body, min(position + size, end)
        position += size


def _find_box(handle: BinaryIO, start: int, end: int, path: List[bytes]) -> List[Tuple[int, int]]:
    """Payload spans of the boxes at the end of ``path`` (``meta`` payloads skip its 4-byte
    version and flags)."""
    spans = []
    for kind, body, stop in _boxes(handle, start, end):
        if kind == path[0]:
            body += 4 if kind == b"meta" else 0
            spans += [(body, stop)] if len(path) == 1 else _find_box(handle, body, stop, path[1:])
    return spans


def _largest(handle: BinaryIO, path: List[bytes], layout: str, skip: int) -> Optional[Size]:
    handle.seek(0, os.SEEK_END)
    sizes = []
    for body, _ in _find_box(handle, 0, handle.tell(), path):
        handle.seek(body + skip)
        first, second = struct.unpack(">II", handle.read(8))
        sizes.append((second, first) if layout == "hw" else (first, second))
    return max(sizes, key=lambda s: s[0] * s[1]) if sizes else None


def _jp2(head: bytes, handle: BinaryIO) -> Optional[Size]:
    """JP2: the ``ihdr`` box in ``jp2h`` (height first)."""
    return _largest(handle, [b"jp2h", b"ihdr"], "hw", 0)


def _avif(head: bytes, handle: BinaryIO) -> Optional[Size]:
    """AVIF (any brand of the HEIF family): the largest ``ispe`` property (a grid's whole
    size exceeds its tiles'); None for a sequence without one."""
    return _largest(handle, [b"meta", b"iprp", b"ipco", b"ispe"], "wh", 4)


Parser = Callable[[bytes, BinaryIO], Optional[Size]]
#: ``(offset, magic, parser)``: the first whose magic the file has at that offset reads it.
_FORMATS: Tuple[Tuple[int, bytes, Parser], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", _png), (0, b"GIF87a", _gif), (0, b"GIF89a", _gif),
    (0, b"BM", _bmp), (0, b"RIFF", _webp), (0, b"\xff\xd8", _jpeg),
    (0, b"II*\x00", _tiff), (0, b"MM\x00*", _tiff), (0, b"II+\x00", _tiff),
    (0, b"MM\x00+", _tiff), (0, b"P7", _pam), (0, b"P", _pnm),
    (0, b"\x59\xa6\x6a\x95", _sun_raster), (0, b"#?RADIANCE", _radiance),
    (0, b"#?RGBE", _radiance), (0, b"\xff\x4f\xff\x51", _j2k),
    (4, b"jP  \r\n\x87\n", _jp2), (4, b"ftyp", _avif),
)
