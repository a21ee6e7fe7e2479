"""Tests of posekit.io.image_sizes: the size of every format this OpenCV decodes, from its header,
and the refusals that rest on it (posekit.io.images.read_image, posekit.video.reader.VideoReader)."""

import struct

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posekit.io import images as imageio
from posekit.video import reader as video
from posekit.io.image_sizes import _FORMATS, header_layout, header_size

WIDTH, HEIGHT = 53, 37

#: Every extension OpenCV writes here whose decoder it has (float formats get floats).
WRITTEN = (".jpg", ".png", ".bmp", ".tif", ".webp", ".ppm", ".pgm", ".pbm", ".pfm", ".sr",
           ".pam", ".jp2", ".hdr", ".gif", ".avif")


def _image(ext):
    image = (np.random.default_rng(1).random((HEIGHT, WIDTH, 3)) * 255).astype(np.uint8)
    if ext in (".pfm", ".hdr"):
        return image.astype(np.float32) / 255
    return image[:, :, 0] if ext in (".pgm", ".pbm") else image


@pytest.mark.parametrize("ext", WRITTEN)
def test_header_size_equals_what_opencv_decodes(tmp_path, ext):
    path = tmp_path / f"a{ext}"
    try:
        written = cv2.imwrite(str(path), _image(ext))
    except cv2.error:
        written = False
    if not written:
        pytest.skip(f"OpenCV cannot write {ext} here")
    decoded = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert decoded is not None and decoded.shape[:2] == (HEIGHT, WIDTH)
    assert header_size(path) == (WIDTH, HEIGHT)
    assert imageio.read_image(path).shape == (HEIGHT, WIDTH, 3)


def tiff(order, big, width, height, pixels=True):
    """An uncompressed 8-bit grey TIFF (classic or BigTIFF, either byte order), by hand."""
    entries = [(256, 3, width), (257, 3, height), (258, 3, 8), (259, 3, 1), (262, 3, 1),
               (273, 4, None), (277, 3, 1), (278, 3, height), (279, 4, width * height)]
    count, entry, pointer = ("Q", 20, "Q") if big else ("H", 12, "I")
    head = ((b"II" if order == "<" else b"MM") + struct.pack(order + "H", 43 if big else 42)
            + (struct.pack(order + "HHQ", 8, 0, 16) if big else struct.pack(order + "I", 8)))
    start = len(head) + struct.calcsize(count) + entry * len(entries) + struct.calcsize(pointer)
    table = struct.pack(order + count, len(entries))
    for tag, kind, value in entries:
        value = start if value is None else value
        field = struct.pack(order + {3: "H", 4: "I"}[kind], value)
        field = field.ljust(entry - (12 if big else 8), b"\0")
        table += struct.pack(order + ("HHQ" if big else "HHI"), tag, kind, 1) + field
    data = bytes(width * height) if pixels else b""
    return head + table + struct.pack(order + pointer, 0) + data


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("big", [False, True])
def test_tiff_of_either_byte_order_classic_or_big(tmp_path, order, big):
    path = tmp_path / "t.tif"
    path.write_bytes(tiff(order, big, WIDTH, HEIGHT))
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).shape == (HEIGHT, WIDTH)
    assert header_size(path) == (WIDTH, HEIGHT)


def test_hand_made_headers(tmp_path):
    """Layouts OpenCV does not write: an OS/2 bitmap, PNM comments, a bare JPEG 2000
    codestream, an AVIF of another major brand, Radiance's other orientation."""
    row = (b"\x10\x20\x30" * 5).ljust(16, b"\0")
    os2 = (b"BM" + struct.pack("<IHHI", 26 + 3 * 16, 0, 0, 26)
           + struct.pack("<IHHHH", 12, 5, 3, 1, 24))
    (tmp_path / "os2.bmp").write_bytes(os2 + row * 3)
    assert cv2.imread(str(tmp_path / "os2.bmp")).shape == (3, 5, 3)
    assert header_size(tmp_path / "os2.bmp") == (5, 3)
    (tmp_path / "c.pgm").write_bytes(b"P5\n# made by hand\n5 # width\n3\n255\n" + bytes(15))
    assert cv2.imread(str(tmp_path / "c.pgm"), cv2.IMREAD_UNCHANGED).shape == (3, 5)
    assert header_size(tmp_path / "c.pgm") == (5, 3)
    if cv2.imwrite(str(tmp_path / "a.jp2"), _image(".jp2")):
        data = (tmp_path / "a.jp2").read_bytes()
        (tmp_path / "a.j2k").write_bytes(data[data.index(b"jp2c") + 4:])
        assert cv2.imread(str(tmp_path / "a.j2k")).shape == (HEIGHT, WIDTH, 3)
        assert header_size(tmp_path / "a.j2k") == (WIDTH, HEIGHT)
    if cv2.imwrite(str(tmp_path / "a.avif"), _image(".avif")):     # major brand mif1
        data = (tmp_path / "a.avif").read_bytes()
        (tmp_path / "m.avif").write_bytes(data[:8] + b"mif1" + data[12:])
        assert cv2.imread(str(tmp_path / "m.avif")).shape == (HEIGHT, WIDTH, 3)
        assert header_size(tmp_path / "m.avif") == (WIDTH, HEIGHT)
    (tmp_path / "x.hdr").write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n+X 53 +Y 37\n")
    assert header_size(tmp_path / "x.hdr") == (53, 37)           # X first: 53 wide


def box(kind, payload):
    """An ISO base-media box (JPEG 2000)."""
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def avif_bomb():
    """A small AVIF written by OpenCV whose ``ispe`` property says 10000 x 10000."""
    ok, data = cv2.imencode(".avif", _image(".avif"))
    if not ok:
        pytest.skip("OpenCV cannot write AVIF here")
    data = data.tobytes()
    at = data.index(b"ispe") + 8                                  # past type, version, flags
    return data[:at] + struct.pack(">II", 10000, 10000) + data[at + 8:]


BOMBS = {
    "avif": avif_bomb,
    "tiff": lambda: tiff("<", False, 10000, 10000, pixels=False),
    "bigtiff": lambda: tiff(">", True, 10000, 10000, pixels=False),
    "pgm": lambda: b"P5\n10000 10000\n255\n" + bytes(100),
    "pfm": lambda: b"PF\n10000 10000\n-1\n" + bytes(100),
    "pam": lambda: b"P7\nWIDTH 10000\nHEIGHT 10000\nDEPTH 3\nMAXVAL 255\nENDHDR\n" + bytes(99),
    "sun": lambda: struct.pack(">8I", 0x59A66A95, 10000, 10000, 24, 0, 1, 0, 0) + bytes(100),
    "hdr": lambda: b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 10000 +X 10000\n" + bytes(100),
    "j2k": lambda: b"\xff\x4f\xff\x51\x00\x29\x00\x00" + struct.pack(">4I", 10000, 10000, 0, 0)
    + bytes(100),
    "jp2": lambda: (box(b"jP  ", b"\r\n\x87\n") + box(b"ftyp", b"jp2 \0\0\0\0jp2 ")
                    + box(b"jp2h", box(b"ihdr", struct.pack(">IIHBBBB", 10000, 10000, 3, 7,
                                                            7, 0, 0)))),
}


@pytest.mark.parametrize("kind", sorted(BOMBS))
def test_a_bomb_of_any_format_is_refused_from_its_header(tmp_path, kind):
    path = tmp_path / f"bomb.{kind}"
    path.write_bytes(BOMBS[kind]())
    assert imageio.has_image_signature(path)
    with pytest.raises(ValueError, match=r"too large: 10000x10000 pixels, more than 50,000,000 "
                                         r"\(the limit; nothing was decoded\)"):
        imageio.read_image(path)


def test_a_file_whose_header_gives_no_size_is_not_decoded(tmp_path):
    """A JPEG 2000 signature with no image header: OpenCV would try it, we refuse it."""
    path = tmp_path / "odd.jp2"
    path.write_bytes(b"\0\0\0\x0cjP  \r\n\x87\n" + bytes(64))
    assert imageio.has_image_signature(path) and header_size(path) is None
    with pytest.raises(ValueError, match="odd.jp2: its header gives no image size"):
        imageio.read_image(path)


@settings(max_examples=40, deadline=None)
@given(index=st.integers(0, len(_FORMATS) - 1), tail=st.binary(max_size=80))
def test_any_bytes_after_a_magic_give_a_size_or_none(tmp_path_factory, index, tail):
    offset, magic, _ = _FORMATS[index]
    path = tmp_path_factory.mktemp("h") / "f"
    path.write_bytes(b"\0\0\0\x18"[:offset] + magic + tail)
    size = header_size(path)
    assert size is None or (len(size) == 2 and all(isinstance(n, int) and n >= 0 for n in size))


class CountingCapture:
    """cv2.VideoCapture that counts the frames read through it."""

    reads = 0
    opened = cv2.VideoCapture

    def __init__(self, *args):
        self._cap = CountingCapture.opened(*args)

    def read(self):
        CountingCapture.reads += 1
        return self._cap.read()

    def __getattr__(self, name):
        return getattr(self._cap, name)


def test_a_video_over_the_limit_is_refused_before_a_frame_is_read(tmp_path, monkeypatch):
    writer = cv2.VideoWriter(str(tmp_path / "v.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10,
                             (64, 48))
    for _ in range(3):
        writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()
    monkeypatch.setattr(video.cv2, "VideoCapture", CountingCapture)
    with video.VideoReader(tmp_path / "v.avi") as reader:
        assert reader.info.width == 64 and CountingCapture.reads == 1
    CountingCapture.reads = 0
    monkeypatch.setattr(video, "MAX_IMAGE_PIXELS", 64 * 48 - 1)
    with pytest.raises(ValueError, match="too large: 64x48 frames exceed 3,071 pixels"):
        video.VideoReader(tmp_path / "v.avi")
    assert CountingCapture.reads == 0


# --- the memory a decoding takes, from the header (issue 31) --------------------------------

def tiff_file(width, height, samples=4, bits=32, sample_format=3, rows=None, tile=None,
              pixels=True):
    """A little-endian TIFF of zero pixels, deflated, by hand: any samples, depth and sample
    format (3: float), in strips of ``rows`` or ``tile`` x ``tile`` tiles; BitsPerSample and
    SampleFormat hold one value per sample (at an offset when they do not fit the entry).
    Without ``pixels`` the strips are empty (a header only)."""
    import zlib

    across, down = (width, rows or height) if tile is None else (tile, tile)
    blocks = 1 if tile is None else -(-width // tile) * -(-height // tile)
    count = -(-height // down) if tile is None else blocks
    zeros = zlib.compress(bytes(across * down * samples * bits // 8), 9) if pixels else b""
    where = (273, 279) if tile is None else (324, 325)
    entries = {256: (4, [width]), 257: (4, [height]), 258: (3, [bits] * samples),
               259: (3, [8]), 262: (3, [2 if samples >= 3 else 1]), 277: (3, [samples]),
               284: (3, [1]), 339: (3, [sample_format] * samples),
               where[1]: (4, [len(zeros)] * count)}
    entries.update({278: (4, [down])} if tile is None else {322: (4, [tile]), 323: (4, [tile])})
    if samples in (2, 4):
        entries[338] = (3, [2])                                  # an unassociated alpha
    entries[where[0]] = (4, [0] * count)
    table_end = 8 + 2 + 12 * len(entries) + 4
    extra = b""
    fields = {}
    for tag, (kind, values) in sorted(entries.items()):
        data = struct.pack(f"<{len(values)}{'H' if kind == 3 else 'I'}", *values)
        if len(data) > 4:
            fields[tag] = (kind, len(values), struct.pack("<I", table_end + len(extra)))
            extra += data
        else:
            fields[tag] = (kind, len(values), data.ljust(4, b"\0"))
    start = table_end + len(extra)
    offsets = struct.pack(f"<{count}I", *[start] * count)         # every block the same data
    if len(offsets) > 4:
        at = struct.unpack("<I", fields[where[0]][2])[0] - table_end
        extra = extra[:at] + offsets + extra[at + len(offsets):]
    else:
        fields[where[0]] = (4, count, offsets)
    table = struct.pack("<H", len(fields)) + b"".join(
        struct.pack("<HHI", tag, kind, n) + value
        for tag, (kind, n, value) in sorted(fields.items()))
    return b"II*\x00" + struct.pack("<I", 8) + table + struct.pack("<I", 0) + extra + zeros


def _written(tmp_path, ext, channels, depth, params=(), size=(WIDTH, HEIGHT)):
    """An image OpenCV writes: ``channels`` of ``depth`` (u8, u16, u10: 10-bit AVIF, f32)."""
    width, height = size
    ramp = np.add.outer(np.arange(height), 3 * np.arange(width))   # cheap to encode
    base = np.dstack([(ramp + 60 * k) % 256 for k in range(channels)]).astype(np.uint8)
    image = {"u8": base, "u16": base.astype(np.uint16) * 257, "u10": base.astype(np.uint16) * 4,
             "f32": base.astype(np.float32) / 255}[depth]
    params = list(params) + ([cv2.IMWRITE_AVIF_DEPTH, 10] if depth == "u10" else [])
    path = tmp_path / f"{ext[1:]}_{channels}_{depth}_{width}{ext}"
    try:
        written = cv2.imwrite(str(path), image[:, :, 0] if channels == 1 else image, params)
    except cv2.error:
        written = False
    if not written:
        pytest.skip(f"OpenCV cannot write {ext} ({channels} x {depth}) here")
    return path


#: Layouts OpenCV's decoders give (extension, channels, depth written).
VARIANTS = [(".png", 1, "u8"), (".png", 1, "u16"), (".png", 3, "u16"), (".png", 4, "u8"),
            (".png", 4, "u16"), (".jpg", 1, "u8"), (".jpg", 3, "u8"), (".bmp", 3, "u8"),
            (".bmp", 4, "u8"), (".webp", 3, "u8"), (".webp", 4, "u8"), (".gif", 3, "u8"),
            (".tif", 1, "u8"), (".tif", 3, "u16"), (".tif", 4, "f32"), (".tif", 1, "f32"),
            (".ppm", 3, "u16"), (".pgm", 1, "u8"), (".pfm", 3, "f32"), (".pfm", 1, "f32"),
            (".hdr", 3, "f32"), (".sr", 3, "u8"), (".pam", 3, "u8"), (".jp2", 3, "u8"),
            (".jp2", 4, "u16"), (".jp2", 1, "u16"), (".avif", 3, "u8"), (".avif", 4, "u8"),
            (".avif", 3, "u10"), (".avif", 1, "u8")]


@pytest.mark.parametrize("ext, channels, depth", VARIANTS)
def test_header_layout_is_what_opencv_decodes(tmp_path, ext, channels, depth):
    """Channels and bytes per sample of the decoded array, from the header (a GIF's canvas
    may have an alpha: 4 is its bound)."""
    path = _written(tmp_path, ext, channels, depth)
    decoded = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    layout = header_layout(path)
    assert (layout.width, layout.height) == (WIDTH, HEIGHT)
    got = 1 if decoded.ndim == 2 else decoded.shape[2]
    assert layout.sample_bytes == decoded.dtype.itemsize
    assert layout.channels == (4 if ext == ".gif" else got) >= got
    assert layout.array_bytes >= decoded.nbytes


def test_tiff_layout_reads_per_sample_values_and_tiles(tmp_path):
    """BitsPerSample / SampleFormat stored at an offset (one per sample), strips and tiles."""
    for name, data, shape, dtype in [
            ("strips", tiff_file(50, 30, 4, 64, rows=7), (30, 50, 4), np.float64),
            ("tiles", tiff_file(50, 30, 3, 16, 1, tile=32), (30, 50, 3), np.uint16),
            ("grey", tiff_file(50, 30, 1, 32, 3), (30, 50), np.float32)]:
        path = tmp_path / f"{name}.tif"
        path.write_bytes(data)
        decoded = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert decoded.shape == shape and decoded.dtype == dtype, name
        layout = header_layout(path)
        assert layout.array_bytes == decoded.nbytes, name
    tiles = header_layout(tmp_path / "tiles.tif")
    assert tiles.work_bytes == 32 * 32 * 3 * 2 + (tmp_path / "tiles.tif").stat().st_size


MEMORY_CHILD = """
import json, sys
from posekit.io import images as imageio
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
peaks = []
for path in sys.argv[1:]:
    with open("/proc/self/clear_refs", "w") as reset:      # the peak (VmHWM) starts again
        reset.write("5")
    before = status("VmRSS:")
    image = imageio.read_image(path)
    peaks.append(status("VmHWM:") - before)
    del image
print(json.dumps(peaks))
"""

#: (extension, channels, depth, size, imwrite params): costly layouts of each decoder.
MEASURED = [(".png", 4, "u16", (2448, 1836), [cv2.IMWRITE_PNG_COMPRESSION, 1]),
            (".jpg", 3, "u8", (2448, 1836), [cv2.IMWRITE_JPEG_PROGRESSIVE, 1,
                                             cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
                                             cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]),
            (".tif", 4, "f32", (2000, 1500), []), (".pfm", 3, "f32", (2000, 1500), []),
            (".hdr", 3, "f32", (2000, 1500), []), (".gif", 3, "u8", (2000, 1500), []),
            (".webp", 4, "u8", (2000, 1500), []), (".jp2", 3, "u8", (1600, 1200), []),
            (".avif", 4, "u8", (1600, 1200), [cv2.IMWRITE_AVIF_SPEED, 10])]


def test_reading_takes_no_more_memory_than_the_header_estimate(tmp_path):
    """Each decoder's peak (resident memory, reset before each file: Linux clear_refs)
    stays within its header estimate plus the 8-bit output and the conversion's blocks.
    cv2.imread(path, flags) decoded into an array of its own and returned a copy: a
    16-bit RGBA PNG took twice its array."""
    import json
    import subprocess
    import sys

    from conftest import ROOT

    paths = [_written(tmp_path, ext, c, d, params, size) for ext, c, d, size, params in MEASURED]
    env = {"PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1",
           "MALLOC_MMAP_THRESHOLD_": "131072"}     # big blocks go back to the system when freed
    proc = subprocess.run([sys.executable, "-c", MEMORY_CHILD, *map(str, paths)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for path, peak in zip(paths, json.loads(proc.stdout)):
        layout = header_layout(path)
        pixels = layout.width * layout.height
        allowed = layout.decode_bytes + 3 * pixels + 80 * imageio.CONVERT_PIXELS + (8 << 20)
        assert peak <= allowed, (path.name, peak / pixels, allowed / pixels)


def _header_only(kind):
    """Headers (no pixels) within the pixel limit whose decoding would exceed the memory
    limit, one of each layout that costs more than 9 bytes a pixel."""
    side = 7071                                                  # 49,999,041 pixels
    if kind == "png":                                            # 16-bit RGBA: 8 bytes, fits
        return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I4sIIBBBBB", 13, b"IHDR", side, side, 16,
                                                   6, 0, 0, 0) + bytes(4))
    if kind == "gif":                                            # 14 bytes a pixel
        return b"GIF89a" + struct.pack("<HH", side, side) + bytes(60)
    if kind == "pam":
        return f"P7\nWIDTH {side}\nHEIGHT {side}\nDEPTH 4\nMAXVAL 65535\nTUPLTYPE RGB_ALPHA\n" \
               f"DEPTH 16\nENDHDR\n".encode() + bytes(99)
    if kind == "jp2":                                            # 4 x 16-bit: 28 bytes
        return (box(b"jP  ", b"\r\n\x87\n") + box(b"ftyp", b"jp2 \0\0\0\0jp2 ")
                + box(b"jp2h", box(b"ihdr", struct.pack(">IIHBBBB", 4100, 4100, 4, 15, 7,
                                                        0, 0))))
    if kind == "j2k":
        return (b"\xff\x4f\xff\x51\x00\x2f\x00\x00" + struct.pack(">8I", 5200, 5200, 0, 0,
                                                                  5200, 5200, 0, 0)
                + struct.pack(">H", 3) + b"\x07\x01\x01" * 3 + bytes(40))
    if kind == "avif":                                           # 21 bytes a pixel
        data = avif_bomb()
        at = data.index(b"ispe") + 8
        return data[:at] + struct.pack(">II", 5000, 5000) + data[at + 8:]
    raise KeyError(kind)


MEMORY_BOMBS = {
    "tiff-float64-rgba": lambda: tiff_file(7071, 7071, 4, 64, pixels=False),    # the issue's
    "tiff-float32-rgba": lambda: tiff_file(7071, 7071, 4, 32, pixels=False),
    "tiff-float32-rgb-one-strip": lambda: tiff_file(4500, 4500, 3, 32, pixels=False),
    "tiff-tile": lambda: tiff_file(16, 16, 4, 32, tile=8000, pixels=False),     # 1 GB buffer
    "tiff-uint32": lambda: tiff_file(6500, 6500, 3, 32, 1, rows=16, pixels=False),
    "pfm": lambda: b"PF\n6000 6000\n-1\n" + bytes(100),
    "hdr": lambda: b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 5000 +X 5000\n" + bytes(100),
    "gif": lambda: _header_only("gif"), "pam": lambda: _header_only("pam"),
    "jp2": lambda: _header_only("jp2"), "j2k": lambda: _header_only("j2k"),
    "avif": lambda: _header_only("avif"),
    "jpeg-progressive-4-channel": lambda: (
        b"\xff\xd8\xff\xc2" + struct.pack(">HBHHB", 8 + 12, 8, 7000, 7000, 4)
        + b"\x01\x11\x00\x02\x11\x00\x03\x11\x00\x04\x11\x00" + b"\xff\xd9"),
}


@pytest.mark.parametrize("kind", sorted(MEMORY_BOMBS))
def test_a_file_whose_decoding_exceeds_the_memory_limit_is_refused_from_its_header(
        tmp_path, kind, capfd):
    """Within the pixel limit, but its samples (float64, float32, 16-bit x 4), a decoder
    buffer (a TIFF tile, OpenJPEG's 32-bit samples, libavif's planes) or both pass
    MAX_DECODE_BYTES: refused before any decoder runs (a 53 KB float64 TIFF took 3.2 GB)."""
    path = tmp_path / f"bomb.{kind.split('-')[0]}"
    path.write_bytes(MEMORY_BOMBS[kind]())
    layout = header_layout(path)
    assert layout.width * layout.height <= imageio.MAX_IMAGE_PIXELS
    assert layout.decode_bytes > imageio.MAX_DECODE_BYTES
    with pytest.raises(ValueError, match=rf"{path.name} is too large to decode: "
                                         rf"{layout.width}x{layout.height} pixels of .*, "
                                         r"more than 450 MB \(the limit; nothing was decoded\)"):
        imageio.read_image(path)
    assert capfd.readouterr().err == ""                         # no decoder ran


def test_what_fits_the_pixel_limit_at_up_to_9_bytes_a_pixel_still_fits(tmp_path):
    """The limit keeps every 8- and 16-bit PNG, JPEG (progressive 4:4:4 too), PNM and
    WebP of up to 50 megapixels; only the headers are read here."""
    side = 7071
    files = {
        "a.png": _header_only("png"),
        "b.jpg": (b"\xff\xd8\xff\xc2" + struct.pack(">HBHHB", 8 + 9, 8, side, side, 3)
                  + b"\x01\x11\x00\x02\x11\x00\x03\x11\x00" + b"\xff\xd9"),
        "c.ppm": f"P6\n{side} {side}\n65535\n".encode() + bytes(10),
        "d.webp": b"RIFF\0\0\0\0WEBPVP8L\0\0\0\0\x2f" + struct.pack(
            "<I", (side - 1) | (side - 1) << 14 | 1 << 28) + bytes(30),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        layout = header_layout(tmp_path / name)
        assert (layout.width, layout.height) == (side, side), name
        imageio.check_layout(tmp_path / name, layout)           # no error
