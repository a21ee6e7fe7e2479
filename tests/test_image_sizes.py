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
from posekit.io.image_sizes import _FORMATS, header_size

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
