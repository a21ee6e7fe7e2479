"""Atomic output writes: each file, or each group of files, is complete or absent.

Every writer writes to a temporary file in the destination folder and then
renames it over the destination (signals held while a group is renamed), so
a destination is either untouched or complete, never half-written; outputs
never land on special files or through symbolic links.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, List, Sequence, Tuple, Union

import cv2
import numpy as np

PathLike = Union[str, "os.PathLike[str]"]


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


def temporary_name(path: Path, suffix: str = "") -> Path:
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


#: A :func:`temporary_name`: ``.NAME.<pid>-<8 hex>.part<suffix>``.
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.(?P<pid>[1-9][0-9]*)-[0-9a-f]{8}\.part(?P<suffix>.*)",
                        re.DOTALL)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (this process counts; pid < 1: no)."""
    if pid < 1:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)                 # signal 0: nothing is sent, only checked
    except ProcessLookupError:
        return False
    except OSError:                     # another user's process: alive
        return True
    return True


def stale_temporaries(folder: PathLike, owns: Callable[[str, bool], bool],
                      suffixes: Sequence[str] = ("",)) -> List[Path]:
    """The :func:`temporary_name` files and folders in ``folder`` whose process is gone.

    Only names of exactly that form count, whose process id is no live process
    on this machine (a process killed while it wrote), whose suffix is one of
    ``suffixes`` (compared ignoring case) and whose destination ``owns``
    accepts: ``owns(name, cut)`` gets the destination's name as the temporary
    holds it, and whether it may have been cut to fit :data:`NAME_MAX` (then it
    is a prefix of the destination's name). Symbolic links never count.

    Args:
        folder: where to look (a missing or unreadable folder has none).
        owns: says whether a destination name is one of the caller's.
        suffixes: the suffixes the caller's temporaries end with after ``.part``.

    Returns:
        The paths, sorted.
    """
    wanted = {s.lower() for s in suffixes}
    found = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        match = _TEMPORARY.fullmatch(entry.name)
        if match is None or match["suffix"].lower() not in wanted or entry.is_symlink():
            continue
        cut = len(os.fsencode(entry.name)) >= NAME_MAX - 4   # cut at a character boundary
        if owns(match["name"], cut) and not process_alive(int(match["pid"])):
            found.append(Path(entry.path))
    return sorted(found)


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
    tmp = temporary_name(path, path.suffix if keep_suffix else "")
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


def write_bytes(path: PathLike, data: bytes, durable: bool = False) -> None:
    """Write ``data`` to ``path``: atomically for a regular file (temporary file, then
    rename), in place for a device or FIFO, to standard output for ``-``.

    The file gets the usual permissions (umask applied), like ``open(path, "wb")``.

    Args:
        path: the destination.
        data: its content.
        durable: flush the data to the disk before the rename (model files).

    Raises:
        ValueError: ``path`` is a symbolic link or a folder.
        OSError: the write failed (the destination is then untouched).
    """
    write_group([(path, data)], durable)


def write_group(outputs: Sequence[Tuple[PathLike, bytes]], durable: bool = False) -> None:
    """Write several outputs so that they all appear or none does.

    Every regular file is first written under a temporary name; only when all
    are complete are they renamed into place, with SIGINT and SIGTERM held
    back during the renames (a signal then arrives after the last one).
    Special files and ``-`` are written in that same protected step.

    Args:
        outputs: ``(path, bytes)`` pairs; paths must differ.
        durable: flush each regular file to the disk before the renames.

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
                tmp = temporary_name(Path(path), Path(path).suffix)
                staged.append((tmp, Path(path)))
                with open(tmp, "xb") as handle:
                    handle.write(data)
                    if durable:
                        handle.flush()
                        os.fsync(handle.fileno())
        with signals_held():
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
def signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM held back for a ``with`` block, delivered when it ends (the main
    thread of a POSIX process; elsewhere nothing is held). For short steps that must not be
    cut in half, such as removing a temporary or renaming a group of files. A command's
    handler may still run in the main thread when the kernel hands the signal to another
    thread: commands hold their own steps with :class:`posekit.apps.command.SignalGate`."""
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
