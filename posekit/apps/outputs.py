"""Where a demo run's outputs go: names, ids and the checks made before any work.

The demo's rules (docs/reliability.md): no output lands on an input or inside
the folder being read, two outputs never share a name (ignoring case), COCO
image ids are unique per run, and every output location is checked before the
network loads. Errors are ``ValueError`` with a one-line message; the CLI
prints them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from posekit.io import images as imageio
from posekit.io.sources import VIDEO_EXTENSIONS, unique_names
from posekit.io.table import TABLE_FORMATS
from posekit.video.writer import VIDEO_FORMATS

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


def output_stems(files: Sequence[Path], kinds: Optional[Sequence[str]] = None) -> List[str]:
    """Output names per input, unique ignoring case (the batch command's naming,
    :func:`posekit.io.sources.unique_names`): the file stem; ``stem_ext`` when two inputs
    share a stem; a ``_2``, ``_3``... suffix when that still clashes (``bus.jpg`` +
    ``bus.JPG``, or ``bus.jpg`` + ``bus_jpg.png``), or when an image's outputs would be a
    video's per-frame files (``a_000000000000.jpg`` beside ``a.mp4``; ``kinds`` given)."""
    return unique_names([PurePosixPath(p.name) for p in files], kinds, beside=True)


def list_videos(folder: Path) -> List[Path]:
    """Video files directly inside ``folder`` (by extension, hidden files skipped), sorted."""
    return sorted((p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                   and p.suffix.lower() in VIDEO_EXTENSIONS), key=lambda p: p.name)


@dataclass(frozen=True)
class FolderPlan:
    """What a folder run reads and the output name of each file (unique across images and
    videos, ignoring case).

    Attributes:
        images: the image files, sorted by name.
        image_names: their output names (``NAME.png``, ``NAME_coco.json``...).
        image_ids: their COCO image ids (:func:`image_ids`).
        videos: the video files, sorted by name.
        video_names: their output names (``NAME.mp4``, ``NAME_<frame>_keypoints.json``).
    """

    images: List[Path] = field(default_factory=list)
    image_names: List[str] = field(default_factory=list)
    image_ids: List[int] = field(default_factory=list)
    videos: List[Path] = field(default_factory=list)
    video_names: List[str] = field(default_factory=list)


def plan_folder(folder: Path) -> FolderPlan:
    """The :class:`FolderPlan` of a folder input.

    Raises:
        NotADirectoryError: ``folder`` is not a folder.
    """
    images, videos = imageio.list_images(folder), list_videos(folder)
    files = sorted(images + videos, key=lambda p: p.name)
    kinds = ["video" if p in videos else "image" for p in files]
    names = dict(zip(files, output_stems(files, kinds)))
    return FolderPlan(images, [names[p] for p in images], image_ids(images),
                      videos, [names[p] for p in videos])


def folder_outputs(stem: str, out: Path, maps: Optional[Path]) -> List[Path]:
    """The files a folder run writes for one image (see :func:`run_folder`)."""
    names = [out / f"{stem}_coco.json", out / f"{stem}_keypoints.json", out / f"{stem}.png"]
    if maps:
        names += [maps / f"{stem}_heatmaps.jpg", maps / f"{stem}_pafs.jpg"]
    return names


#: A per-frame output of a video run: ``NAME_<frame:012d>`` and one of these endings.
FRAME_OUTPUT = re.compile(r"(?P<name>.*)_[0-9]{12}(?P<end>_keypoints\.json|_heatmaps\.jpg"
                          r"|_pafs\.jpg)", re.DOTALL)
#: The families of per-frame files, as :func:`_run_outputs` names them.
FRAME_FILES = {"frames": "the per-frame JSON files of", "frame maps": "the per-frame maps of"}


def _run_outputs(kind: str, source: Path, out: Path, maps: Optional[Path],
                 plan: Optional[FolderPlan]) -> Iterator[Tuple[Path, str, str]]:
    """Every output of a run but the single-file options: ``(folder, name, what)`` for
    each file, and ``(folder, NAME, "frames" or "frame maps")`` for the family of a
    video's per-frame files (``NAME_<frame:012d>_keypoints.json`` or its map pictures)."""
    if kind == "image":
        yield out.parent, out.name, "-o"
        if maps:
            for what in ("heatmaps", "pafs"):
                yield maps, f"{source.stem}_{what}.jpg", "--save-maps"
        return
    if kind == "video":
        if video_output_is_file(out):
            yield out.parent, out.name, "-o"
        else:
            yield out, f"{source.stem}.mp4", "the drawn video"
            yield out, source.stem, "frames"
        if maps:
            yield maps, source.stem, "frame maps"
        return
    assert plan is not None
    for path, name in zip(plan.images, plan.image_names):
        for output in folder_outputs(name, out, maps):
            yield output.parent, output.name, f"an output of {path.name}"
    for path, name in zip(plan.videos, plan.video_names):
        yield out, f"{name}.mp4", f"the drawn video of {path.name}"
        yield out, name, "frames"
        if maps:
            yield maps, name, "frame maps"


def _check_run_outputs(options: OutputOptions, kind: str, source: Path, out: Path,
                       plan: Optional[FolderPlan]) -> None:
    """No two outputs of a run share a file (ignoring case): the drawn images and videos,
    per-image and per-frame JSON, map pictures, and --json, --openpose-json, --table.

    Raises:
        ValueError: names the option (or input) and the output it would overwrite.
    """
    maps = Path(options.save_maps) if options.save_maps else None
    folders: Dict[Path, str] = {}

    def folder_key(folder: Path) -> str:
        if folder not in folders:
            folders[folder] = os.fspath(folder.resolve()).lower()
        return folders[folder]

    files: Dict[str, str] = {}
    frames: Dict[Tuple[str, str, str], str] = {}   # (folder, NAME lower case, what) -> text
    for folder, name, what in _run_outputs(kind, source, out, maps, plan):
        if what in FRAME_FILES:
            frames[(folder_key(folder), name.lower(), what)] = f"{FRAME_FILES[what]} {name}"
            continue
        key = f"{folder_key(folder)}/{name.lower()}"
        if key in files:
            raise ValueError(f"{what} and {files[key]} would both write {folder / name}")
        files[key] = what

    def frame_family(folder: str, name: str) -> Optional[str]:
        """The per-frame files ``folder/name`` (lower case) would be one of, if any."""
        match = FRAME_OUTPUT.fullmatch(name)
        if not match:
            return None
        what = "frames" if match.group("end") == "_keypoints.json" else "frame maps"
        return frames.get((folder, match.group("name"), what))

    for key, what in files.items():
        family = frame_family(*key.rsplit("/", 1))
        if family:
            raise ValueError(f"{what} would be one of {family}: {key.rsplit('/', 1)[1]}")
    for flag in ("json", "openpose_json", "table"):
        value = getattr(options, flag)
        if not value or os.fspath(value) == imageio.STDOUT:
            continue
        path = Path(value)
        folder, name = folder_key(path.parent), path.name.lower()
        found = files.get(f"{folder}/{name}") or frame_family(folder, name)
        if found:
            raise ValueError(f"--{flag.replace('_', '-')} {value} would overwrite an output "
                             f"of this run ({found}); choose another name")


def video_output_is_file(out: Path) -> bool:
    """Whether ``-o`` names the drawn video itself (``NAME.mp4``, not an existing folder)."""
    return out.suffix.lower() in VIDEO_FORMATS and not out.is_dir()


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name the same file or folder (by resolved path)."""
    return a.resolve() == b.resolve()


def check_outputs(options: OutputOptions, kind: str, source: Path,
                  plan: Optional[FolderPlan] = None) -> Path:
    """Validate every output location before any work; returns the main output path.

    Nothing is created here. Folders the run will create (the output folder
    of a folder or video run, the --save-maps folder) may be missing, and
    may hold the other outputs (``-o out --json out/all.json`` is fine) as
    long as no two outputs share a file: ``--json out/pan.mp4`` or
    ``--json out/pan_000000000007_keypoints.json`` in a run that writes them
    is refused. ``plan``: a folder input's files and names (:func:`plan_folder`;
    made here when not given).

    Raises:
        ValueError: a folder that does not exist or is not writable, an output
            that would overwrite the input or another output of the run, or an
            option that does not fit the input kind.
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
        suffix = out.suffix.lower()
        if not out.exists() and suffix in imageio.IMAGE_EXTENSIONS:
            raise ValueError(f"for a {kind} input, -o names the output folder; got {out}")
        if not out.is_dir() and suffix in VIDEO_EXTENSIONS and not as_file:
            # never a folder named like a video (``-o drawn.avi``)
            wanted = (f"the drawn video is written as {', '.join(VIDEO_FORMATS)} (H.264): "
                      f"name it {out.with_suffix('.mp4').name}, or name a folder"
                      if kind == "video" else "-o names the output folder")
            raise ValueError(f"-o {out}: {wanted}, not a {out.suffix} file")
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
    if kind == "folder" and plan is None:
        plan = plan_folder(source)
    _check_run_outputs(options, kind, source, out, plan)
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
