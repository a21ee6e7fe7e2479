"""Reading and writing pictures, videos and JSON for the command-line tools (numpy + OpenCV).

Reading turns whatever OpenCV decodes into the 8-bit BGR ``(H, W, 3)`` image
the networks take:

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

Every writer writes to a temporary file in the destination folder and then
renames it over the destination, so a destination is either untouched or
complete, never half-written.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, List, Optional, Sequence, Tuple, Union

# OpenCV reads its pixel limit once, when the library loads: arm it before the first
# ``import cv2`` of the process (the CLIs import this module first). If cv2 was loaded
# earlier, the size is still checked, but only after decoding.
if "cv2" not in sys.modules:
    os.environ["OPENCV_IO_MAX_IMAGE_PIXELS"] = "50000000"  # = MAX_IMAGE_PIXELS below

import cv2  # noqa: E402
import numpy as np  # noqa: E402

PathLike = Union[str, "os.PathLike[str]"]

#: File name extensions treated as images (lower case), as OpenCV can decode them.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".dib", ".tif", ".tiff",
                    ".webp", ".ppm", ".pgm", ".pbm", ".pnm", ".pfm", ".sr", ".ras",
                    ".jp2", ".exr", ".hdr", ".pic", ".gif", ".avif")
#: Largest image accepted, in pixels (50 megapixels: a 45-megapixel camera photo fits).
#: :func:`header_size` reads it from PNG / JPEG / GIF / BMP / WebP headers before
#: decoding; for other formats OpenCV checks its header (its
#: ``OPENCV_IO_MAX_IMAGE_PIXELS``, armed above for this process); video frames are
#: checked by their reported size. The measured worst case (a 16-bit RGBA PNG at the
#: limit) is in README, "Limits".
MAX_IMAGE_PIXELS = 50_000_000
#: Rows converted at once by :func:`to_bgr8` (bounds its temporary float copies).
CONVERT_ROWS = 256
#: Value the alpha channel is composited over (all three channels).
BACKGROUND = 128
#: Frames per second assumed when a video does not report a usable rate.
DEFAULT_FPS = 25.0
#: Codecs tried, in order, for drawn videos: (FourCC, file extension).
VIDEO_CODECS = (("mp4v", ".mp4"), ("MJPG", ".avi"))


def to_bgr8(image: np.ndarray) -> np.ndarray:
    """Normalise a decoded image to 8-bit, 3-channel BGR (see the module notes).

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
    out = np.empty(arr.shape[:2] + (3,), np.uint8)
    for start in range(0, arr.shape[0], CONVERT_ROWS):   # float copies of a band at a time
        out[start:start + CONVERT_ROWS] = _band_to_bgr8(arr[start:start + CONVERT_ROWS],
                                                        channels)
    return out


def _band_to_bgr8(arr: np.ndarray, channels: int) -> np.ndarray:
    """:func:`to_bgr8` on a band of rows of a validated image."""
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


def is_image_name(path: PathLike) -> bool:
    """Whether the file name has one of :data:`IMAGE_EXTENSIONS` (case-insensitive)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def header_size(path: PathLike) -> Optional[Tuple[int, int]]:
    """``(width, height)`` read from the file's header, without decoding pixels.

    Knows PNG, JPEG, GIF, BMP and WebP (the formats a decompression bomb is
    usually made of); None for other formats or a header it cannot parse (then
    OpenCV's own header check, armed at import, and the size check after
    decoding still apply).
    """
    import struct

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


def _jpeg_scan_start(handle: Any) -> Optional[int]:
    """Offset of a JPEG's first entropy-coded data (after its SOS segment), or None."""
    import struct

    handle.seek(2)
    for _ in range(10000):                       # bounded walk over the markers
        marker = handle.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            return None
        code = marker[1]
        if code == 0xFF:
            handle.seek(-1, 1)
            continue
        if code in (0x01, *range(0xD0, 0xD8)):
            continue
        length = handle.read(2)
        if len(length) < 2:
            return None
        size = struct.unpack(">H", length)[0]
        handle.seek(size - 2, 1)
        if code == 0xDA:
            return handle.tell()
    return None


def _jpeg_size(handle: Any) -> Optional[Tuple[int, int]]:
    """Width and height from a JPEG's first SOF marker (reads markers, not pixels)."""
    import struct

    handle.seek(2)
    for _ in range(10000):                       # bounded walk over the markers
        marker = handle.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            return None
        code = marker[1]
        if code == 0xFF:                         # fill byte
            handle.seek(-1, 1)
            continue
        if code in (0x01, *range(0xD0, 0xD8)):   # markers without a length
            continue
        length = handle.read(2)
        if len(length) < 2:
            return None
        size = struct.unpack(">H", length)[0]
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
    import struct

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


def _check_readable_file(path: Path) -> None:
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
            corrupt, larger than :data:`MAX_IMAGE_PIXELS` (refused from its
            header, before decoding), or an unsupported pixel layout
            (one-line messages that name the file).
    """
    path = Path(path)
    _check_readable_file(path)
    if not has_image_signature(path):
        raise ValueError(f"{path} is not an image file OpenCV can read")
    size = header_size(path)
    if size is not None and size[0] * size[1] > MAX_IMAGE_PIXELS:
        raise ValueError(f"{path} is too large: {size[0]}x{size[1]} pixels, more than "
                         f"{MAX_IMAGE_PIXELS:,} (the limit; nothing was decoded)")
    cut = truncation(path)
    if cut:
        raise ValueError(f"cannot decode {path}: the file is truncated or corrupt ({cut})")
    try:
        image = cv2.imread(os.fspath(path), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        if "MAX_IMAGE_PIXELS" not in str(exc):
            raise ValueError(f"cannot decode {path}: {str(exc).strip().splitlines()[-1]}"
                             ) from None
        image, size = None, (MAX_IMAGE_PIXELS, 2)
    if image is not None and image.shape[0] * image.shape[1] > MAX_IMAGE_PIXELS or \
            image is None and size is not None and size[0] * size[1] > MAX_IMAGE_PIXELS:
        raise ValueError(f"{path} is too large: more than {MAX_IMAGE_PIXELS:,} pixels "
                         "(the limit; nothing was decoded)")
    if image is None:
        raise ValueError(f"cannot decode {path}: the file is truncated or corrupt"
                         + ("" if size is not None else
                            f", or larger than {MAX_IMAGE_PIXELS:,} pixels"))
    if image.dtype == np.uint8 and (image.ndim == 2 or image.shape[2] in (1, 3)):
        oriented = cv2.imread(os.fspath(path), cv2.IMREAD_COLOR)
        if oriented is not None:
            image = oriented
    try:
        return to_bgr8(image)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def fit_max_side(image: np.ndarray, max_side: Optional[int]) -> Tuple[np.ndarray, float]:
    """Downscale an image whose longer side exceeds ``max_side`` (area interpolation).

    Args:
        image: ``(H, W, 3)`` image.
        max_side: the longest allowed side in pixels; None or 0 disables it.

    Returns:
        ``(image, scale)``: the (possibly new) image and original size / new
        size (1.0 when unchanged). Multiply pixel positions found on the
        returned image by ``scale`` to get positions in the original.
    """
    height, width = image.shape[:2]
    if not max_side or max(height, width) <= max_side:
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


# --- writing -------------------------------------------------------------------------------

def check_output_folder(folder: PathLike, missing_ok: bool = False) -> Path:
    """Make sure files can be written into ``folder`` (nothing is created).

    Args:
        folder: the destination folder.
        missing_ok: accept a missing folder whose parent is a writable folder
            (create it later with :func:`make_output_folder`).

    Returns:
        ``folder`` as a Path.

    Raises:
        ValueError: the folder (or, with ``missing_ok``, its parent) does not
            exist, is not a folder, or is not writable.
    """
    folder = Path(folder)
    if missing_ok and not folder.exists():
        parent = folder.parent
        if not parent.is_dir():
            raise ValueError(f"cannot create folder {folder}: {parent} does not exist"
                             + (" or is not a folder" if parent.exists() else ""))
        if not os.access(parent, os.W_OK | os.X_OK):
            raise ValueError(f"cannot create folder {folder}: {parent} is not writable "
                             "(permission denied)")
        return folder
    if not folder.exists():
        raise ValueError(f"folder {folder} does not exist")
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"folder {folder} is not writable (permission denied)")
    return folder


def make_output_folder(folder: PathLike) -> Path:
    """Create ``folder`` if it is missing (its parent must exist).

    Raises:
        ValueError: it cannot be created.
    """
    folder = Path(folder)
    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create folder {folder}: {exc.strerror or exc}") from None
    return folder


def check_output_file(path: PathLike, image: bool = False) -> Path:
    """Make sure ``path`` can be written: its folder exists and is writable.

    ``-`` (standard output) and existing devices or FIFOs (written in place)
    are accepted; symbolic links are not.

    Args:
        path: the destination file.
        image: also require an extension OpenCV can encode.

    Returns:
        ``path`` as a Path.

    Raises:
        ValueError: the folder is missing or not writable, ``path`` is a
            folder or a symbolic link, or (``image``) the extension is not an
            image format.
    """
    kind = destination_kind(path)
    path = Path(path)
    if kind in ("stdout", "special"):
        if image:
            raise ValueError(f"{path}: the drawn image must go to a regular file")
        return path
    check_output_folder(path.parent)
    if image and not cv2.haveImageWriter(os.fspath(path)):
        what = f"{path.suffix} is not an image format OpenCV can write" if path.suffix \
            else "the name has no image extension"
        raise ValueError(f"cannot write {path}: {what} (use .png or .jpg)")
    return path


#: Longest file name (bytes) of the usual file systems (ext4, XFS, APFS, NTFS in UTF-16 units).
NAME_MAX = 255


def _temporary_name(path: Path, suffix: str = "") -> Path:
    """A fresh hidden name next to ``path`` that keeps ``suffix`` (the codec may need it).

    The name fits in :data:`NAME_MAX` bytes whatever the length of ``path``'s
    name: a long name is cut (at a character boundary) to make room for the
    tag and ``suffix``.
    """
    tag = f".{os.getpid()}-{secrets.token_hex(4)}.part{suffix}"
    room = NAME_MAX - 1 - len(os.fsencode(tag))
    name = os.fsencode(path.name)[:max(room, 1)]
    return path.with_name("." + name.decode("utf-8", errors="ignore") + tag
                          if room > 0 else f".{secrets.token_hex(4)}.part")


@contextlib.contextmanager
def atomic_path(path: PathLike, keep_suffix: bool = True) -> Iterator[Path]:
    """A temporary path next to ``path``, renamed to ``path`` when the block succeeds.

    The temporary file ends with the destination's extension (when
    ``keep_suffix``), so writers that choose a format by extension work. If
    the block raises, the temporary file is removed and ``path`` is untouched.

    Yields:
        The temporary path (not yet created).
    """
    path = Path(path)
    tmp = _temporary_name(path, path.suffix if keep_suffix else "")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


#: The output path that means standard output, as Unix tools take it.
STDOUT = "-"


def destination_kind(path: PathLike) -> str:
    """How an output goes to ``path``: ``"stdout"`` (``-``), ``"special"`` (an existing
    device, FIFO or socket: written in place, never replaced) or ``"file"`` (a regular file,
    new or existing: written to a temporary name and renamed).

    Raises:
        ValueError: ``path`` is a symbolic link (outputs are never written through
            links) or a folder.
    """
    if os.fspath(path) == STDOUT:
        return "stdout"
    path = Path(path)
    if path.is_symlink():
        raise ValueError(f"{path} is a symbolic link; outputs are never written through "
                         "links (name the target itself)")
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a file")
    if path.exists() and not path.is_file():
        return "special"
    return "file"


def write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path``: atomically for a regular file (temporary file, then
    rename), in place for a device or FIFO, to standard output for ``-``.

    The file gets the usual permissions (umask applied), like ``open(path, "wb")``.

    Raises:
        ValueError: ``path`` is a symbolic link or a folder.
        OSError: the write failed (the destination is then untouched).
    """
    write_group([(path, data)])


def write_group(outputs: Sequence[Tuple[PathLike, bytes]]) -> None:
    """Write several outputs so that they all appear or none does.

    Every regular file is first written under a temporary name; only when all
    are complete are they renamed into place, with SIGINT and SIGTERM held
    back during the renames (a signal then arrives after the last one).
    Special files and ``-`` are written in that same protected step.

    Args:
        outputs: ``(path, bytes)`` pairs; paths must differ.

    Raises:
        ValueError: a path is a symbolic link or a folder, or two paths are the same.
        OSError: a write failed; nothing was renamed and the temporaries are gone.
    """
    kinds = [destination_kind(path) for path, _ in outputs]
    names = [os.path.abspath(os.fspath(path)) for (path, _), kind in zip(outputs, kinds)
             if kind != "stdout"]
    if len(set(names)) != len(names):
        raise ValueError("two outputs of one write share a path")
    staged: List[Tuple[Path, Path]] = []
    try:
        for (path, data), kind in zip(outputs, kinds):
            if kind == "file":
                tmp = _temporary_name(Path(path), Path(path).suffix)
                staged.append((tmp, Path(path)))
                with open(tmp, "xb") as handle:
                    handle.write(data)
        with _signals_held():
            for tmp, path in staged:
                os.replace(tmp, path)
            staged = []
            for (path, data), kind in zip(outputs, kinds):
                if kind == "stdout":
                    sys.stdout.buffer.write(data)
                    sys.stdout.flush()
                elif kind == "special":
                    with open(path, "wb") as handle:
                        handle.write(data)
    finally:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                tmp.unlink()


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back for the block (main thread of a POSIX process only)."""
    import signal
    import threading

    if not hasattr(signal, "pthread_sigmask") or \
            threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def encode_image(image: np.ndarray, extension: str, jpeg_quality: int = 90) -> bytes:
    """Encode an image as ``extension`` (``".png"``, ``".jpg"``, ...) bytes.

    Raises:
        ValueError: OpenCV cannot encode that format.
    """
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] \
        if extension.lower() in (".jpg", ".jpeg", ".jpe") else []
    try:
        ok, buf = cv2.imencode(extension, image, params)
    except cv2.error:
        ok, buf = False, None
    if not ok:
        raise ValueError(f"cannot encode an image as {extension!r}")
    return buf.tobytes()


def write_image(path: PathLike, image: np.ndarray, jpeg_quality: int = 90) -> None:
    """Encode ``image`` by ``path``'s extension and write it atomically."""
    path = Path(path)
    write_bytes(path, encode_image(image, path.suffix, jpeg_quality))


def json_bytes(obj: Any) -> bytes:
    """``obj`` as the JSON bytes every writer of the project uses (UTF-8, newline-terminated)."""
    return (json.dumps(obj) + "\n").encode("utf-8")


def write_json(path: PathLike, obj: Any) -> None:
    """Write ``obj`` as JSON (:func:`json_bytes`) atomically."""
    write_bytes(path, json_bytes(obj))


# --- video ---------------------------------------------------------------------------------

@dataclass
class VideoInfo:
    """What a video reports about itself (``frame_count`` is None when unknown)."""

    width: int
    height: int
    fps: float
    frame_count: Optional[int]


class VideoReader:
    """Frames of a video as 8-bit BGR images; the first frame is read on opening.

    Raises (on construction):
        FileNotFoundError / PermissionError / ValueError: missing, unreadable
            or empty file; a file OpenCV cannot open as a video; a video
            without frames.
    """

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        _check_readable_file(self.path)
        cap = cv2.VideoCapture(os.fspath(self.path))
        opened = cap.isOpened()
        ok, frame = cap.read() if opened else (False, None)
        if not opened:
            raise ValueError(f"cannot open {self.path}: not an image or a video OpenCV can read")
        if not ok or frame is None:
            cap.release()
            raise ValueError(f"video {self.path} has no frames (empty or corrupt)")
        if frame.shape[0] * frame.shape[1] > MAX_IMAGE_PIXELS:
            cap.release()
            raise ValueError(f"video {self.path} is too large: {frame.shape[1]}x{frame.shape[0]} "
                             f"frames exceed {MAX_IMAGE_PIXELS:,} pixels")
        self._cap = cap
        self._first: Optional[np.ndarray] = frame
        self._first_time = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        fps = cap.get(cv2.CAP_PROP_FPS)
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.info = VideoInfo(width=frame.shape[1], height=frame.shape[0],
                              fps=fps if math.isfinite(fps) and 0 < fps <= 1000 else DEFAULT_FPS,
                              frame_count=count if count > 0 else None)

    def __iter__(self) -> Iterator[np.ndarray]:
        """Yield the frames in order, as (H, W, 3) uint8 BGR, until the video ends."""
        while True:
            if self._first is not None:
                frame, self._first = self._first, None
            else:
                ok, frame = self._cap.read()
                if not ok or frame is None:
                    return
            yield to_bgr8(frame)

    def timed(self) -> Iterator[Tuple[float, np.ndarray]]:
        """Yield ``(seconds, frame)`` in order: each frame's time on the video's own clock
        (its presentation time); where the container gives none that increases, the
        previous time plus ``1 / fps``."""
        last: Optional[float] = None
        for frame in self:
            now = self._first_time if last is None else \
                self._cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if not math.isfinite(now) or (last is not None and now <= last):
                now = (last if last is not None else 0.0) + 1.0 / self.info.fps
            last = now
            yield now, frame

    def close(self) -> None:
        """Release the capture."""
        self._cap.release()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AtomicVideoWriter:
    """A video written under a temporary name and renamed when closed.

    The codec is the first of :data:`VIDEO_CODECS` OpenCV can open; the file
    name is ``stem`` plus that codec's extension (:attr:`path`).
    :meth:`commit` finalises the file and renames it; :meth:`discard`
    deletes it. Frames must all have the size given at construction.
    """

    def __init__(self, folder: PathLike, stem: str, fps: float, size: Tuple[int, int]) -> None:
        """Open the writer.

        Args:
            folder: destination folder.
            stem: file name without extension.
            fps: frame rate.
            size: ``(width, height)`` of every frame.

        Raises:
            ValueError: no codec could be opened.
        """
        self._writer = None
        for fourcc, ext in VIDEO_CODECS:
            path = Path(folder) / f"{stem}{ext}"
            tmp = _temporary_name(path, ext)
            writer = cv2.VideoWriter(os.fspath(tmp), cv2.VideoWriter_fourcc(*fourcc),
                                     float(fps), tuple(int(v) for v in size))
            if writer.isOpened():
                self._writer, self.path, self._tmp, self.fourcc = writer, path, tmp, fourcc
                break
            with contextlib.suppress(OSError):
                tmp.unlink()
        if self._writer is None:
            raise ValueError(f"cannot write a video into {folder}: no codec available "
                             f"({', '.join(c for c, _ in VIDEO_CODECS)})")
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 BGR frame."""
        self._writer.write(frame)
        self.frames += 1

    def commit(self) -> Path:
        """Finish the file and rename it to :attr:`path`; returns that path."""
        self._writer.release()
        os.replace(self._tmp, self.path)
        return self.path

    def discard(self) -> None:
        """Close and delete the temporary file; :attr:`path` is left untouched."""
        self._writer.release()
        with contextlib.suppress(OSError):
            self._tmp.unlink()
