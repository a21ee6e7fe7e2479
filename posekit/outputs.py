"""Where a demo run's outputs go: names, ids and the checks made before any work.

The demo's rules (README, "Reliability"): no output lands on an input or inside
the folder being read, two outputs never share a name (ignoring case), COCO
image ids are unique per run, and every output location is checked before the
network loads. Errors are ``ValueError`` with a one-line message; the CLI
prints them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from . import imageio
from .table import TABLE_FORMATS
from .video_writer import VIDEO_FORMATS

DEFAULT_OUTPUT_IMAGE = "output.png"
DEFAULT_OUTPUT_FOLDER = "output"


@dataclass(frozen=True)
class OutputOptions:
    """Where a run writes (paths as given; None: the default output, or not written).

    Attributes:
        output: the drawn image, or the output folder for a folder or video.
        json: the COCO results file.
        openpose_json: the OpenPose JSON file (image input).
        save_maps: the folder of heatmap / PAF pictures.
        table: the people table of a video (.csv or .parquet).
    """

    output: Optional[str] = None
    json: Optional[str] = None
    openpose_json: Optional[str] = None
    save_maps: Optional[str] = None
    table: Optional[str] = None


def image_id_for(path: Path, index: int) -> int:
    """COCO image id of a lone image: the file name's number (``000000000139.jpg`` -> 139),
    else ``index``."""
    return int(path.stem) if path.stem.isdigit() else index


def image_ids(files: Sequence[Path]) -> List[int]:
    """COCO image ids of a folder's images, unique within the run.

    A file named by a number keeps that number (``000000000139.jpg`` -> 139)
    unless an earlier file took it; every other file gets the next number above
    all of those, in file order.
    """
    numbers = [int(p.stem) if p.stem.isdigit() else None for p in files]
    taken: set = set()
    ids: List[Optional[int]] = []
    for number in numbers:
        ids.append(number if number is not None and number not in taken else None)
        if number is not None:
            taken.add(number)
    following = max(taken, default=-1) + 1
    for k, value in enumerate(ids):
        if value is None:
            ids[k] = following
            following += 1
    return [int(v) for v in ids]


def output_stems(files: Sequence[Path]) -> List[str]:
    """Output names per input, unique ignoring case: the file stem; ``stem_ext`` when two
    inputs share a stem; a ``_2``, ``_3``... suffix when that still clashes
    (``bus.jpg`` + ``bus.JPG``, or ``bus.jpg`` + ``bus_jpg.png``)."""
    counts: Dict[str, int] = {}
    for path in files:
        counts[path.stem.lower()] = counts.get(path.stem.lower(), 0) + 1
    wanted = [p.stem if counts[p.stem.lower()] == 1
              else f"{p.stem}_{p.suffix.lstrip('.').lower()}" for p in files]
    taken = {w.lower() for w, p in zip(wanted, files) if counts[p.stem.lower()] == 1}
    stems: List[str] = []
    used: set = set()
    for name in wanted:
        candidate, n = name, 1
        while candidate.lower() in used or (candidate != name and candidate.lower() in taken):
            n += 1
            candidate = f"{name}_{n}"
        used.add(candidate.lower())
        stems.append(candidate)
    return stems


def folder_outputs(stem: str, out: Path, maps: Optional[Path]) -> List[Path]:
    """The files a folder run writes for one image (see :func:`run_folder`)."""
    names = [out / f"{stem}_coco.json", out / f"{stem}_keypoints.json", out / f"{stem}.png"]
    if maps:
        names += [maps / f"{stem}_heatmaps.jpg", maps / f"{stem}_pafs.jpg"]
    return names


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name the same file or folder (by resolved path)."""
    return a.resolve() == b.resolve()


def check_outputs(options: OutputOptions, kind: str, source: Path) -> Path:
    """Validate every output location before any work; returns the main output path.

    Nothing is created here. Folders the run will create (the output folder
    of a folder or video run, the --save-maps folder) may be missing, and
    may hold the other outputs (``-o out --json out/all.json`` is fine).

    Raises:
        ValueError: a folder that does not exist or is not writable, an output
            that would overwrite the input, or an option that does not fit
            the input kind.
    """
    planned: List[Path] = []

    def check_folder(folder: Path) -> None:
        if folder.resolve() in planned:
            return
        if folder.parent.resolve() in planned and not folder.exists():
            planned.append(folder.resolve())
            return
        imageio.check_output_folder(folder, missing_ok=True)
        planned.append(folder.resolve())

    def check_file(path: Path, image: bool = False) -> None:
        if os.fspath(path) == imageio.STDOUT and not image:
            return
        imageio.destination_kind(path)          # refuses links and folders
        if path.exists() and same_file(path, source):
            raise ValueError(f"the output {path} would overwrite the input")
        if path.parent.resolve() in planned and not path.parent.exists():
            if path.is_dir():
                raise ValueError(f"{path} is a folder, not a file")
            if image:
                imageio.check_output_file(Path(path.name), image=True)
            return
        imageio.check_output_file(path, image=image)

    if kind == "image":
        out = Path(options.output or DEFAULT_OUTPUT_IMAGE)
        if out.is_dir():
            out = out / f"{source.stem}.png"
        check_file(out, image=True)
    else:
        if options.openpose_json:
            raise ValueError(f"--openpose-json is for an image input; a {kind} run writes "
                             "NAME_keypoints.json files into the output folder")
        out = Path(options.output or DEFAULT_OUTPUT_FOLDER)
        as_file = kind == "video" and out.suffix.lower() in VIDEO_FORMATS and not out.is_dir()
        if not out.exists() and out.suffix.lower() in imageio.IMAGE_EXTENSIONS:
            raise ValueError(f"for a {kind} input, -o names the output folder; got {out}")
        if kind == "folder" and out.exists() and same_file(out, source):
            raise ValueError(f"the output folder {out} is the input folder; choose another "
                             "with -o")
        if as_file:
            check_file(out)
        else:
            check_folder(out)
    if options.table:
        if kind != "video":
            raise ValueError(f"--table is for a video input; a {kind} run writes JSON per image")
        if imageio.destination_kind(options.table) != "file":
            raise ValueError(f"--table {options.table} is not a regular file (a FIFO, a device "
                             "or standard output): the table is written whole, then renamed")
        if Path(options.table).suffix.lower() not in TABLE_FORMATS:
            raise ValueError(f"--table {options.table}: name a .csv or .parquet file")
    if options.save_maps:
        check_folder(Path(options.save_maps))
    for name in ("json", "openpose_json", "table"):
        if getattr(options, name):
            check_file(Path(getattr(options, name)))
    _check_distinct(options, kind, source, out)
    return out


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies anywhere below it (resolved)."""
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def _check_distinct(options: OutputOptions, kind: str, source: Path, out: Path) -> None:
    """Two outputs never share a name; no output lands inside the folder being read.

    Raises:
        ValueError: two output options name the same file (or both ``-``), or a
            folder run's output, maps folder or --json lies inside its input
            folder.
    """
    video_file = kind == "video" and out.suffix.lower() in VIDEO_FORMATS and not out.is_dir()
    named = [("-o", out)] if kind == "image" or video_file else []
    named += [("--" + flag.replace("_", "-"), Path(getattr(options, flag)))
              for flag in ("json", "openpose_json", "table") if getattr(options, flag, None)]
    if kind == "image" and options.save_maps:
        folder = Path(options.save_maps)
        named += [("--save-maps", folder / f"{source.stem}_{what}.jpg")
                  for what in ("heatmaps", "pafs")]
    seen: Dict[str, str] = {}
    for flag, path in named:
        key = "-" if os.fspath(path) == imageio.STDOUT else os.path.normcase(
            os.fspath(path.resolve()))
        if key in seen:
            raise ValueError(f"{flag} and {seen[key]} name the same output {path}; give each "
                             "output its own name")
        seen[key] = flag
    if kind == "folder":
        for flag, path in [("-o", out)] + named + (
                [("--save-maps", Path(options.save_maps))] if options.save_maps else []):
            if os.fspath(path) != imageio.STDOUT and _inside(path, source):
                raise ValueError(f"{flag} {path} is inside the input folder {source}; outputs "
                                 "must go elsewhere (a later run would read them as inputs)")
    if kind == "video" and not video_file:
        for ext in VIDEO_FORMATS:
            target = out / f"{source.stem}{ext}"
            if target.is_symlink() or target.is_dir():
                raise ValueError(f"the output video {target} is a folder or a link; choose "
                                 "another folder with -o")
