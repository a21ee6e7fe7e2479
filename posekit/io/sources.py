"""The items of a batch run: which images and videos, and the output name of each.

Inputs are any mix of

* a folder: every image and video below it (recursive; hidden files and
  folders skipped), by file extension;
* a glob pattern (``"clips/**/*.mp4"``; ``**`` crosses folders): the
  matching images and videos;
* a list file (``.txt``, ``.lst``, ``.list``): one path per line, relative
  to the list file's folder; blank lines and ``#`` comments skipped; every
  listed file is an item (a missing one fails in the run and is recorded);
* one image or video file.

Each item gets an output name: its path relative to its input (the folder,
the pattern's fixed prefix, the listed files' common folder), without the
extension. Names are unique in a case-insensitive way: two files with the
same stem in one folder become ``stem_ext``, and any remaining clash gets
``_2``, ``_3``... in input order, so a rerun gives the same names. An image
whose output would be one of a video's per-frame files (``a/a_000000000000.jpg``
beside ``a.mp4``) is renamed the same way, and :func:`check_distinct_outputs`
proves, before any work, that no two outputs of a run (frames included) can
share a path and that no output file is a folder another output needs.

Glob patterns follow folder links but each real folder is entered once (a link
loop is cut) and each real file is one item, whatever paths reach it.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from posekit.io.images import IMAGE_EXTENSIONS, is_image_name

#: File extensions read as videos in folders and patterns (lower case).
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv",
                    ".flv", ".3gp", ".ts", ".mts")
#: File extensions read as list files.
LIST_EXTENSIONS = (".txt", ".lst", ".list")
#: Names at the top of the output folder that items may not take.
RESERVED = ("manifest.json", "manifest.journal.jsonl")


@dataclass(frozen=True)
class Item:
    """One input file of a batch run.

    Attributes:
        index: position in the run (0, 1, ...).
        path: absolute path of the file.
        kind: ``"image"`` or ``"video"``.
        name: output name, a relative POSIX path without extension (``"a/bus"``).
    """

    index: int
    path: str
    kind: str
    name: str

    def output(self, frame: int = 0) -> str:
        """Relative path of the OpenPose JSON of ``frame`` (images: frame 0 only).

        Images: ``NAME_keypoints.json``; videos: ``NAME/STEM_<frame:012d>_keypoints.json``
        (STEM: the name's last part), the demo's per-frame file names in a folder per video.
        """
        if self.kind == "image":
            return f"{self.name}_keypoints.json"
        stem = PurePosixPath(self.name).name
        return f"{self.name}/{stem}_{frame:012d}_keypoints.json"


def kind_of(path: Path, listed: bool = False) -> str:
    """``"image"``, ``"video"`` or ``""`` (neither) by extension; listed files are never ``""``."""
    if is_image_name(path):
        return "image"
    if path.suffix.lower() in VIDEO_EXTENSIONS or listed:
        return "video"
    return ""


def _walk(folder: Path) -> List[Path]:
    """Non-hidden files below ``folder``, sorted by relative path."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / f for f in files if not f.startswith(".")]
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def folder_files(folder: Path) -> List[Tuple[Path, str]]:
    """The images and videos below ``folder`` (recursive, hidden ones skipped), sorted by
    relative path, each with its kind (``"image"`` or ``"video"``, by extension)."""
    return [(p, kind_of(p)) for p in _walk(folder) if kind_of(p)]


def _glob(pattern: str) -> List[Path]:
    """Files matching ``pattern`` (``**`` crosses folders), sorted; link loops are cut.

    Folder links are followed, but a real folder already entered is not
    entered again, so a loop ends and a tree reached twice is listed once.
    Hidden files and folders are skipped, as a folder input skips them.
    """
    base = _pattern_base(pattern)
    parts = Path(pattern).parts[len(base.parts):] if str(base) != "." else Path(pattern).parts
    if not base.is_dir():
        return []
    depth = None if "**" in parts else len(parts) - 1     # folders below base to enter
    found: List[Path] = []
    entered = set()
    for root, dirs, files in os.walk(base, followlinks=True):
        if depth is not None and len(Path(root).relative_to(base).parts) >= depth:
            dirs[:] = []
        try:
            stat = os.stat(root)
        except OSError:
            dirs[:] = []
            continue
        if (stat.st_dev, stat.st_ino) in entered:
            dirs[:] = []
            continue
        entered.add((stat.st_dev, stat.st_ino))
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            path = Path(root) / name
            if not name.startswith(".") and _matches(path.relative_to(base).parts, parts):
                found.append(path)
    return sorted(found, key=lambda p: p.relative_to(base).as_posix())


def _matches(names: Sequence[str], parts: Sequence[str]) -> bool:
    """Whether path components ``names`` match pattern components ``parts`` (``**``: any
    number of folders)."""
    if not parts:
        return not names
    if parts[0] == "**":
        return any(_matches(names[k:], parts[1:]) for k in range(len(names) + 1))
    return bool(names) and fnmatch.fnmatchcase(names[0], parts[0]) \
        and _matches(names[1:], parts[1:])


def _pattern_base(pattern: str) -> Path:
    """The folder part of a glob pattern before its first wildcard."""
    parts = Path(pattern).parts
    fixed = [p for p in parts[:next(i for i, p in enumerate(parts) if glob.has_magic(p))]]
    return Path(*fixed) if fixed else Path(".")


def expand(source: str, output: Path) -> Tuple[Path, List[Tuple[Path, str]]]:
    """The files of one input and the folder their names are relative to.

    Args:
        source: a folder, glob pattern, list file or file.
        output: the run's output folder (a folder input may not contain it).

    Returns:
        ``(base, [(path, kind), ...])``.

    Raises:
        ValueError: a missing input, an unreadable list file, or a folder input
            that contains the output folder.
    """
    path = Path(source)
    if glob.has_magic(source) and not path.exists():
        base = _pattern_base(source)
        return base, [(p, kind_of(p)) for p in _glob(source) if kind_of(p)]
    if path.is_dir():
        out, folder = output.resolve(), path.resolve()
        if out == folder or folder in out.parents:
            raise ValueError(f"the output folder {output} is inside the input folder {source}; "
                             "choose one outside it")
        return path, folder_files(path)
    if not path.is_file():
        raise ValueError(f"{source}: no such file or folder, and no file matches it")
    if path.suffix.lower() in LIST_EXTENSIONS:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read the list file {source}: {exc}") from None
        listed = [Path(os.path.normpath(path.parent / line.strip())) for line in lines
                  if line.strip() and not line.strip().startswith("#")]
        base = Path(os.path.commonpath([str(p.parent.resolve()) for p in listed])) \
            if listed else path.parent
        return base, [(p, kind_of(p, listed=True)) for p in listed]
    return path.parent, [(path, kind_of(path, listed=True))]


#: A video's per-frame output name below its folder: ``STEM_<frame:012d>_keypoints.json``.
FRAME_FILE = re.compile(r"(?P<stem>.*)_[0-9]{12}_keypoints\.json", re.DOTALL)
#: Suffix of an image's output file (its name plus this).
IMAGE_SUFFIX = "_keypoints.json"


def _frame_owner(name: str, beside: bool = False) -> str:
    """The video name whose per-frame file an image named ``name`` would write over
    (lower case; ``""`` when none could): ``a/a_000000000000`` -> ``a``; with ``beside``
    (frame files next to the video's other outputs, as the demo writes them)
    ``a_000000000000`` -> ``a``."""
    parent, _, leaf = name.lower().rpartition("/")
    match = FRAME_FILE.fullmatch(leaf + IMAGE_SUFFIX)
    if beside:
        return "" if not match else f"{parent}/{match.group('stem')}".lstrip("/")
    if not match or not parent or PurePosixPath(parent).name != match.group("stem"):
        return ""
    return parent


def unique_names(relative: Sequence[PurePosixPath],
                 kinds: Optional[Sequence[str]] = None, beside: bool = False) -> List[str]:
    """Output names (no extension) for relative paths, unique ignoring case.

    Two paths with the same folder and stem become ``stem_ext``; names that
    still clash (or take a reserved name), and images whose output would be
    one of a video's per-frame files (``kinds`` given), get ``_2``, ``_3``... in order.
    A video ``NAME``'s frame files are ``NAME/NAME_<frame:012d>_keypoints.json``
    (the batch), or with ``beside`` ``NAME_<frame:012d>_keypoints.json`` next to
    its other outputs (the demo's folder runs).
    """
    def key(parent: PurePosixPath, stem: str) -> str:
        return f"{parent.as_posix()}/{stem}".lower()

    kinds = list(kinds) if kinds is not None else ["image"] * len(relative)
    counts: Dict[str, int] = {}
    for rel in relative:
        counts[key(rel.parent, rel.stem)] = counts.get(key(rel.parent, rel.stem), 0) + 1
    used = {f"./{name}" for name in RESERVED}
    names = []
    for rel in relative:
        stem = rel.stem if counts[key(rel.parent, rel.stem)] == 1 \
            else f"{rel.stem}_{rel.suffix.lstrip('.').lower()}"
        candidate, n = stem, 1
        while key(rel.parent, candidate) in used:
            n += 1
            candidate = f"{stem}_{n}"
        used.add(key(rel.parent, candidate))
        names.append((rel.parent / candidate).as_posix())
    # an image whose output is a video's per-frame file moves aside (the video keeps its name)
    videos = {name.lower() for name, kind in zip(names, kinds) if kind == "video"}
    for k, (name, kind) in enumerate(zip(names, kinds)):
        if kind != "image" or _frame_owner(name, beside) not in videos:
            continue
        parent, stem = PurePosixPath(name).parent, PurePosixPath(name).name
        candidate, n = stem, 1
        while key(parent, candidate) in used or _frame_owner(
                (parent / candidate).as_posix(), beside) in videos:
            n += 1
            candidate = f"{stem}_{n}"
        used.add(key(parent, candidate))
        names[k] = (parent / candidate).as_posix()
    return names


def check_distinct_outputs(items: Sequence[Item]) -> None:
    """Prove, before any work, that no two outputs of a run can share a path.

    Every image output file, every video's folder (its frames' files are
    named after its stem inside it) and every folder above them are compared
    ignoring case: an output file may not be a folder another item needs,
    nor one of a video's per-frame files.

    Raises:
        ValueError: names the two items that would clash.
    """
    files: Dict[str, Item] = {}
    folders: Dict[str, Item] = {}
    videos: Dict[str, Item] = {}
    for item in items:
        if item.kind == "image":
            target = item.output(0).lower()
            if target in files:
                raise ValueError(f"{item.path} and {files[target].path} would both write "
                                 f"{item.output(0)}")
            files[target] = item
            parent = PurePosixPath(target).parent
        else:
            folder = item.name.lower()
            if folder in videos:
                raise ValueError(f"{item.path} and {videos[folder].path} would both write "
                                 f"into {item.name}/")
            videos[folder] = item
            parent = PurePosixPath(folder)
        for above in [parent, *parent.parents]:
            if str(above) != ".":
                folders.setdefault(above.as_posix(), item)
    for target, item in files.items():
        if target in folders:
            raise ValueError(f"the output {item.output(0)} of {item.path} is a folder that "
                             f"{folders[target].path} needs")
        owner = _frame_owner(target[:-len(IMAGE_SUFFIX)])
        if owner in videos:
            raise ValueError(f"the output {item.output(0)} of {item.path} is a frame file of "
                             f"the video {videos[owner].path}")
    for folder, item in folders.items():
        owner = _frame_owner(folder[:-len(IMAGE_SUFFIX)]) if folder.endswith(IMAGE_SUFFIX) \
            else ""
        if owner in videos:
            raise ValueError(f"{item.path} needs a folder {folder} that is a frame file of the "
                             f"video {videos[owner].path}")


def collect(sources: Iterable[str], output: Path) -> List[Item]:
    """Every item of the run, in input order (each file once), with unique output names.

    Raises:
        ValueError: an input is missing or unusable (see :func:`expand`), or
            no image or video was found.
    """
    seen = set()        # real paths: a file reached through links is one item
    files: List[Tuple[Path, str]] = []
    relative: List[PurePosixPath] = []
    for source in sources:
        base, found = expand(source, output)
        for path, kind in found:
            absolute = os.path.abspath(path)
            real = os.path.realpath(path)
            if real in seen:
                continue
            seen.add(real)
            rel = os.path.relpath(absolute, os.path.abspath(base))
            parts = [p for p in Path(rel).parts if p not in ("..", ".")]
            files.append((Path(absolute), kind))
            relative.append(PurePosixPath(*parts) if parts else PurePosixPath(path.name))
    if not files:
        raise ValueError("no images or videos found in " + ", ".join(map(str, sources)) +
                         f" (images: {', '.join(IMAGE_EXTENSIONS[:4])}, ...; videos: "
                         f"{', '.join(VIDEO_EXTENSIONS[:4])}, ...)")
    names = unique_names(relative, [kind for _, kind in files])
    items = [Item(i, str(path), kind, name)
             for i, ((path, kind), name) in enumerate(zip(files, names))]
    check_distinct_outputs(items)
    return items
