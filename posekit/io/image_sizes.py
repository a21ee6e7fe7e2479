"""Image sizes and sample layouts read from file headers, for every format this OpenCV decodes.

:func:`header_layout` knows PNG, JPEG, GIF, BMP, WebP, TIFF (and BigTIFF),
PNM / PAM / PFM, Sun raster, Radiance HDR, JPEG 2000 and AVIF: each format
whose decoder the installed OpenCV has (``cv2.getBuildInformation()``, "Media
I/O"). It reads the size, the channels and the sample type of the array
OpenCV will decode (an upper bound where the header leaves it open), and the
working memory the decoder holds besides that array (measured per format,
docs/limits.md), so that both limits are checked before any decoder
allocates. A file whose layout it cannot read gives None (callers refuse to
decode it). Pixels are never read.
"""

from __future__ import annotations

import os
import re
import struct
from typing import Any, BinaryIO, Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple, Union

PathLike = Union[str, "os.PathLike[str]"]
Size = Tuple[int, int]

#: Bytes of a text header (PNM, PAM, PFM, Radiance HDR) read at most.
_TEXT_HEADER = 65536
#: Most segments, IFD entries, chunks or boxes walked in one file.
_MAX_STEPS = 10000


class Layout(NamedTuple):
    """What a file's header says its decoding takes.

    Attributes:
        width, height: the image size in pixels.
        channels: channels of the array OpenCV decodes (``cv2.IMREAD_UNCHANGED``);
            an upper bound where the header leaves it open (e.g. 4 for an
            AVIF without a ``pixi`` property).
        sample_bytes: bytes per channel of that array: 1 (8-bit), 2 (16-bit),
            4 (32-bit integer or float) or 8 (float64).
        work_bytes: the decoder's own buffers held besides the array at its
            peak (a TIFF strip or tile, OpenJPEG's 32-bit samples, libavif's
            planes...), estimated from the header; 0 where it decodes in place.
    """

    width: int
    height: int
    channels: int
    sample_bytes: int
    work_bytes: int = 0

    @property
    def array_bytes(self) -> int:
        """Bytes of the decoded array: pixels x channels x bytes per sample."""
        return self.width * self.height * self.channels * self.sample_bytes

    @property
    def decode_bytes(self) -> int:
        """Memory the decoding holds at its peak: the array plus the decoder's buffers."""
        return self.array_bytes + self.work_bytes


def header_layout(path: PathLike) -> Optional[Layout]:
    """The :class:`Layout` read from the file's header, without decoding pixels.

    Returns:
        The layout; None for a format it does not know or a header cut short
        or malformed (for JPEG 2000 and AVIF the largest image the file declares).
    """
    with open(path, "rb") as handle:
        return handle_layout(handle)


def handle_layout(handle: BinaryIO) -> Optional[Layout]:
    """:func:`header_layout` of an open binary file or an ``io.BytesIO`` (an upload held in
    memory: nothing reaches the file system), read from its start."""
    handle.seek(0)
    head = handle.read(64)
    for offset, magic, parse in _FORMATS:
        if head[offset:offset + len(magic)] == magic:
            try:
                layout = parse(head, handle)
            except (struct.error, ValueError, IndexError, KeyError, OverflowError, OSError):
                return None
            if layout is None or min(layout) < 0:
                return None
            return layout
    return None


def header_size(path: PathLike) -> Optional[Size]:
    """``(width, height)`` read from the file's header (:func:`header_layout`), or None."""
    layout = header_layout(path)
    return None if layout is None else (layout.width, layout.height)


def _bytes_of(bits: int) -> int:
    """Bytes per sample of the array OpenCV decodes ``bits``-bit samples into."""
    return 1 if bits <= 8 else 2 if bits <= 16 else 4 if bits <= 32 else 8


def _png_chunks(handle: BinaryIO) -> Iterator[bytes]:
    """Tags of a PNG's chunks before its first ``IDAT`` (at most 10000)."""
    position = 8
    for _ in range(_MAX_STEPS):
        handle.seek(position)
        header = handle.read(8)
        if len(header) < 8 or header[4:] == b"IDAT":
            return
        length, tag = struct.unpack(">I4s", header)
        yield tag
        position += 12 + length


def _png(head: bytes, handle: BinaryIO) -> Optional[Layout]:
    """IHDR: bit depth and colour type; palette or RGB with a ``tRNS`` chunk decode as BGRA,
    grey + alpha as BGRA too."""
    if head[12:16] != b"IHDR":
        return None
    width, height, depth, colour = struct.unpack(">IIBB", head[16:26])
    channels = {0: 1, 2: 3, 3: 3, 4: 4, 6: 4}[colour]
    if colour in (2, 3) and b"tRNS" in _png_chunks(handle):
        channels = 4
    return Layout(width, height, channels, _bytes_of(depth))


def _gif(head: bytes, handle: BinaryIO) -> Optional[Layout]:
    """The logical screen; OpenCV composes frames on a BGRA canvas (about 10 bytes a pixel
    of its own, measured)."""
    width, height = struct.unpack("<HH", head[6:10])
    return Layout(width, height, 4, 1, 10 * width * height)


def _bmp(head: bytes, handle: BinaryIO) -> Optional[Layout]:
    if struct.unpack("<I", head[14:18])[0] == 12:          # OS/2 1.x core header: 16-bit sides
        width, height, _, bits = struct.unpack("<HHHH", head[18:26])
    else:
        width, height, _, bits = struct.unpack("<iiHH", head[18:30])
    return Layout(abs(width), abs(height), 4 if bits == 32 else 3, 1)


#: Bytes libwebp holds per pixel besides the array (its planes and the file read; 4.7 measured).
_WEBP_WORK = 5


def _webp(head: bytes, handle: BinaryIO) -> Optional[Layout]:
    kind = head[12:16]
    if head[8:12] != b"WEBP":
        return None
    if kind == b"VP8X":
        width, height = (int.from_bytes(head[24:27], "little") + 1,
                         int.from_bytes(head[27:30], "little") + 1)
        channels = 4 if head[20] & 0x10 else 3
    elif kind == b"VP8L":
        bits = int.from_bytes(head[21:25], "little")
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        channels = 4 if bits >> 28 & 1 else 3
    elif kind == b"VP8 ":
        width, height = (n & 0x3FFF for n in struct.unpack("<HH", head[26:30]))
        channels = 3
    else:
        return None
    return Layout(width, height, channels, 1, _WEBP_WORK * width * height)


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


#: JPEG start-of-frame markers of progressive coding: libjpeg buffers every coefficient.
_PROGRESSIVE = (0xC2, 0xC6, 0xCA, 0xCE)


def _jpeg(head: bytes, handle: BinaryIO) -> Optional[Layout]:
    """The first SOF marker: precision, size, components (4: CMYK, decoded as BGR) and their
    sampling. A progressive file, or one whose first scan has fewer components than the
    frame (more scans follow), makes libjpeg hold every coefficient: 2 bytes a sample of
    each component at its sampling (3 bytes a pixel at 4:2:0, 6 at 4:4:4)."""
    frame = None
    for code, size in jpeg_segments(handle):
        if frame is None and 0xC0 <= code <= 0xCF and code not in (0xC4, 0xC8, 0xCC):
            precision, height, width, components = struct.unpack(">BHHB", handle.read(6))
            sampling = handle.read(3 * components)[1::3]
            horizontal = [s >> 4 or 1 for s in sampling]
            vertical = [s & 15 or 1 for s in sampling]
            samples = sum(h * v for h, v in zip(horizontal, vertical)) / (
                max(horizontal) * max(vertical))
            coefficients = 2 * round(width * height * samples)
            frame = code, precision, width, height, components, coefficients
            handle.seek(size - 8 - 3 * components, 1)
        elif code == 0xDA and frame is not None:
            buffered = frame[0] in _PROGRESSIVE or handle.read(1)[0] < frame[4]
            return _jpeg_layout(*frame[1:], buffered)
        else:
            handle.seek(size - 2, 1)
    return None if frame is None else _jpeg_layout(*frame[1:], True)   # no scan: as if buffered


def _jpeg_layout(precision: int, width: int, height: int, components: int, coefficients: int,
                 buffered: bool) -> Layout:
    return Layout(width, height, 1 if components == 1 else 3, _bytes_of(precision),
                  coefficients if buffered else 0)


#: TIFF field types: struct format of one value.
_TIFF_TYPES = {1: "B", 3: "H", 4: "I", 16: "Q"}
#: The TIFF tags read: ImageWidth, ImageLength, BitsPerSample, Photometric,
#: SamplesPerPixel, RowsPerStrip, TileWidth, TileLength.
_TIFF_TAGS = (256, 257, 258, 262, 277, 278, 322, 323)


def _tiff(head: bytes, handle: BinaryIO) -> Optional[Layout]:
    """The first IFD (the page OpenCV reads): size, samples per pixel and their largest bit
    depth. OpenCV reads a strip or a tile at a time into a buffer of its own, so the tile
    size counts too (a tile may exceed the image), and libtiff maps the whole file into
    memory (an uncompressed file counts twice). Palette, YCbCr, CMYK and other
    photometrics decode through libtiff's RGBA reader (4 channels)."""
    order = "<" if head[:2] == b"II" else ">"
    big = struct.unpack(order + "H", head[2:4])[0] == 43
    count_format, entry, value_at = ("Q", 20, 12) if big else ("H", 12, 8)
    handle.seek(struct.unpack(order + ("Q" if big else "I"), head[8:16] if big else head[4:8])[0])
    count = min(struct.unpack(order + count_format, handle.read(struct.calcsize(count_format)))[0],
                _MAX_STEPS)
    table = handle.read(count * entry)
    found: Dict[int, int] = {}
    for start in range(0, len(table) - entry + 1, entry):
        tag, kind = struct.unpack(order + "HH", table[start:start + 4])
        if tag not in _TIFF_TAGS:
            continue
        values = struct.unpack_from(order + ("Q" if big else "I"), table, start + 4)[0]
        one = struct.calcsize(_TIFF_TYPES[kind])
        if values * one <= entry - value_at:               # inline
            data = table[start + value_at:start + value_at + values * one]
        else:                                              # at an offset (BitsPerSample)
            handle.seek(struct.unpack_from(order + ("Q" if big else "I"), table,
                                           start + value_at)[0])
            data = handle.read(min(values, _MAX_STEPS) * one)
        found[tag] = max(struct.unpack(order + _TIFF_TYPES[kind] * (len(data) // one), data))
    width, height = found[256], found[257]
    samples, bits = found.get(277, 1), found.get(258, 1)
    channels = samples if found.get(262, 1) in (0, 1, 2) else max(samples, 4)
    sample_bytes = _bytes_of(bits)
    if 322 in found and 323 in found:
        block = found[322] * found[323]
    else:
        block = width * min(found.get(278, height) or height, height)
    buffers = 1 if bits in (8, 16, 32, 64) else 2       # other depths are unpacked into a second
    mapped = os.fstat(handle.fileno()).st_size          # libtiff maps the file into memory
    return Layout(width, height, channels, sample_bytes,
                  buffers * block * channels * sample_bytes + mapped)


def _text_header(handle: BinaryIO) -> str:
    handle.seek(0)
    return handle.read(_TEXT_HEADER).decode("latin-1")


def _pnm(head: bytes, handle: BinaryIO) -> Optional[Layout]:
    """P1-P6 and PF / Pf: the numbers after the magic (``#`` comments skipped); a maximum
    value over 255 decodes to 16 bits, PF / Pf to float32."""
    kind = head[1:2]
    if kind not in b"123456Ff" or head[2:3] not in b" \t\r\n#":
        return None
    tokens = re.sub(r"#[^\n\r]*", " ", _text_header(handle)[2:]).split()
    width, height = int(tokens[0]), int(tokens[1])
    if kind in b"Ff":                                    # read into a second float array
        channels = 3 if kind == b"F" else 1
        return Layout(width, height, channels, 4, width * height * channels * 4)
    deep = kind not in b"14" and int(tokens[2]) > 255
    return Layout(width, height, 3 if kind in b"36" else 1, 2 if deep else 1)


def _pam(head: bytes, handle: BinaryIO) -> Optional[Layout]:
    """P7: the ``WIDTH``, ``HEIGHT``, ``DEPTH`` and ``MAXVAL`` lines before ``ENDHDR``."""
    fields = {}
    for line in _text_header(handle).splitlines()[1:]:
        words = line.split()
        if words[:1] == ["ENDHDR"]:
            break
        if len(words) == 2:
            fields[words[0]] = words[1]
    return Layout(int(fields["WIDTH"]), int(fields["HEIGHT"]), int(fields.get("DEPTH", 1)),
                  2 if int(fields.get("MAXVAL", 255)) > 255 else 1)


def _sun_raster(head: bytes, handle: BinaryIO) -> Optional[Layout]:
    width, height = struct.unpack(">II", head[4:12])
    return Layout(width, height, 3, 1)


def _radiance(head: bytes, handle: BinaryIO) -> Optional[Layout]:
    """The resolution line after the header's blank line, e.g. ``-Y 480 +X 640``; float32
    RGB, decoded through a second float buffer of the same size (measured)."""
    lines = _text_header(handle).split("\n")
    words = lines[lines.index("") + 1].split()
    if len(words) != 4 or words[0][1:] not in "XY" or words[2][1:] not in "XY":
        return None
    first, second = int(words[1]), int(words[3])
    width, height = (second, first) if words[0][1] == "Y" else (first, second)
    return Layout(width, height, 3, 4, width * height * 12)


#: Bytes OpenJPEG holds per sample besides the decoded array: 32-bit integers (measured 4.4).
_J2K_WORK = 5


def _j2k_layout(width: int, height: int, components: int, bits: int) -> Layout:
    return Layout(width, height, components, _bytes_of(bits),
                  _J2K_WORK * width * height * components)


def _j2k(head: bytes, handle: BinaryIO) -> Optional[Layout]:
    """A JPEG 2000 codestream's SIZ marker: the image area less its offset, the components
    and their largest depth."""
    width, height, left, top = struct.unpack(">IIII", head[8:24])
    if width <= left or height <= top:
        return None
    components = struct.unpack(">H", head[40:42])[0] if len(head) >= 42 else 0
    handle.seek(42)
    depths = handle.read(3 * min(components, _MAX_STEPS))[::3]
    if not components or len(depths) < components:       # unknown: the most OpenCV decodes
        return _j2k_layout(width - left, height - top, 4, 16)
    return _j2k_layout(width - left, height - top, components, max(d & 0x7F for d in depths) + 1)


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


def _payloads(handle: BinaryIO, path: List[bytes]) -> List[bytes]:
    """Payloads (at most 64 bytes each) of the boxes at the end of ``path``."""
    handle.seek(0, os.SEEK_END)
    found = []
    for body, stop in _find_box(handle, 0, handle.tell(), path):
        handle.seek(body)
        found.append(handle.read(min(stop - body, 64)))
    return found


def _jp2(head: bytes, handle: BinaryIO) -> Optional[Layout]:
    """JP2: the largest ``ihdr`` box in ``jp2h``: height, width, components, depth (255:
    each component its own, taken as 16 bits)."""
    layouts = []
    for body in _payloads(handle, [b"jp2h", b"ihdr"]):
        height, width, components, depth = struct.unpack(">IIHB", body[:11])
        layouts.append(_j2k_layout(width, height, components,
                                   16 if depth == 255 else (depth & 0x7F) + 1))
    return max(layouts, key=lambda l: l.decode_bytes) if layouts else None


#: Bytes libavif and the AV1 decoder hold per pixel of each AV1 image (the colour, and the
#: alpha as a second image) besides the array: planes, frame buffers, the RGB conversion
#: (measured 14.5-17.4, 8 to 12 bits).
_AVIF_WORK = 18


def _avif(head: bytes, handle: BinaryIO) -> Optional[Layout]:
    """AVIF (any brand of the HEIF family): the largest ``ispe`` property (a grid's whole
    size exceeds its tiles'), the ``pixi`` properties' channels (colour plus an alpha
    item's; 4 when there is none) and depth (16-bit above 8 bits, or when unknown); None for
    a sequence without an ``ispe``. libavif decodes the colour and the alpha as two AV1
    images, each with its own buffers."""
    properties = [b"meta", b"iprp", b"ipco"]
    sizes = [struct.unpack(">II", body[4:12]) for body in _payloads(handle, properties + [b"ispe"])]
    if not sizes:
        return None
    width, height = max(sizes, key=lambda s: s[0] * s[1])
    pixi = [body[5:5 + body[4]] for body in _payloads(handle, properties + [b"pixi"])]
    channels = sum(len(bits) for bits in pixi)
    channels = channels if channels in (1, 3) else 4
    deep = not pixi or max(max(bits, default=8) for bits in pixi) > 8
    images = 2 if channels in (2, 4) else 1              # an alpha is an AV1 image of its own
    return Layout(width, height, channels, 2 if deep else 1,
                  _AVIF_WORK * width * height * images)


Parser = Callable[[bytes, BinaryIO], Optional[Layout]]
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
