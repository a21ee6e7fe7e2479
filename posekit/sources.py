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
``_2``, ``_3``... in input order, so a rerun gives the same names.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Dict, Iterable, List, Sequence, Tuple

from .imageio import IMAGE_EXTENSIONS, is_image_name

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
        files = sorted(Path(p) for p in glob.glob(source, recursive=True))
        return base, [(p, kind_of(p)) for p in files if p.is_file() and kind_of(p)]
    if path.is_dir():
        out, folder = output.resolve(), path.resolve()
        if out == folder or folder in out.parents:
            raise ValueError(f"the output folder {output} is inside the input folder {source}; "
                             "choose one outside it")
        return path, [(p, kind_of(p)) for p in _walk(path) if kind_of(p)]
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


def unique_names(relative: Sequence[PurePosixPath]) -> List[str]:
    """Output names (no extension) for relative paths, unique ignoring case.

    Two paths with the same folder and stem become ``stem_ext``; names that
    still clash (or take a reserved name) get ``_2``, ``_3``... in order.
    """
    def key(parent: PurePosixPath, stem: str) -> str:
        return f"{parent.as_posix()}/{stem}".lower()

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
    return names


def collect(sources: Iterable[str], output: Path) -> List[Item]:
    """Every item of the run, in input order (each file once), with unique output names.

    Raises:
        ValueError: an input is missing or unusable (see :func:`expand`), or
            no image or video was found.
    """
    seen = set()
    files: List[Tuple[Path, str]] = []
    relative: List[PurePosixPath] = []
    for source in sources:
        base, found = expand(source, output)
        for path, kind in found:
            absolute = os.path.abspath(path)
            if absolute in seen:
                continue
            seen.add(absolute)
            rel = os.path.relpath(absolute, os.path.abspath(base))
            parts = [p for p in Path(rel).parts if p not in ("..", ".")]
            files.append((Path(absolute), kind))
            relative.append(PurePosixPath(*parts) if parts else PurePosixPath(path.name))
    if not files:
        raise ValueError("no images or videos found in " + ", ".join(map(str, sources)) +
                         f" (images: {', '.join(IMAGE_EXTENSIONS[:4])}, ...; videos: "
                         f"{', '.join(VIDEO_EXTENSIONS[:4])}, ...)")
    return [Item(i, str(path), kind, name)
            for i, ((path, kind), name) in enumerate(zip(files, unique_names(relative)))]
