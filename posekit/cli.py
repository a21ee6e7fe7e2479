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
import os
import signal
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

import numpy as np

from estimation import maps_view
from estimation.config import PoseConfig, get_default_configuration
from models.inference import accurate_network

from . import imageio
from .demo_inputs import (
    CliError, Interrupted, check_size, classify_input, fit_frame, load_checked_image)
from .options import (
    HelpFormatter, Parser, add_decoder_options, add_network_options, add_verbosity_options,
    configure_logging, max_side, quiet_native_logs)
from .outputs import (
    DEFAULT_OUTPUT_FOLDER, DEFAULT_OUTPUT_IMAGE, OutputOptions, check_outputs, folder_outputs,
    image_id_for, image_ids, output_stems, same_file)
from .pipeline import DEFAULT_MAX_SIDE, THRESHOLDS, PoseEstimator, PoseResult, load_pose_network

PROG = "demo_image.py"
DEFAULT_INPUT = "images/1.jpg"
#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130


# --- command line --------------------------------------------------------------------------

EPILOG = f"""\
inputs:
  an image file        -> OUTPUT image (default {DEFAULT_OUTPUT_IMAGE}); timings on stdout
  a folder of images   -> OUTPUT folder (default {DEFAULT_OUTPUT_FOLDER}/): NAME.png (drawn),
                          NAME_coco.json and NAME_keypoints.json (OpenPose) per image
  a video file         -> OUTPUT folder: NAME.mp4 (drawn; NAME.avi if no MPEG-4 codec)
                          and NAME_<frame:012d>_keypoints.json (OpenPose) per frame

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
"""


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser (defaults of the thresholds come from the decoders)."""
    parser = Parser(prog=PROG, formatter_class=HelpFormatter, epilog=EPILOG,
                    description="Find people and their 18 keypoints in an image, a folder of\n"
                                "images or a video; draw them and write them as JSON.")
    parser.add_argument("input", nargs="?", default=DEFAULT_INPUT,
                        help="an image, a folder of images, or a video file")
    parser.add_argument("-o", "--output", metavar="PATH",
                        help=f"output image for an image input (default {DEFAULT_OUTPUT_IMAGE}; "
                             "an existing folder receives NAME.png); output folder for a folder "
                             f"or video input (default {DEFAULT_OUTPUT_FOLDER}/, created if "
                             "missing)")
    add_network_options(parser)
    parser.add_argument("--accurate", action="store_true",
                        help="average scales 0.75/1/1.5 and a mirrored pass (about 7x the "
                             "network time; models.inference.accurate_network)")
    add_decoder_options(parser)
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
    parser.add_argument("--max-side", type=max_side, default=DEFAULT_MAX_SIDE,
                        metavar="N",
                        help="downscale larger images so that their longer side is N pixels "
                             "before the network (0: never); keypoints stay in original pixels")
    add_verbosity_options(parser, "print nothing but errors (no timings, no progress bar)")
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


def _progress(run: Run, total: Optional[int], unit: str):
    """A tqdm bar on stderr (None with --quiet)."""
    if run.args.quiet:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=True,
                smoothing=0.3)


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
    for stage, seconds in result.timings.items():     # the stages the decoder timed
        run.say(f"{stage + ':':<13}{seconds:.4f} s")
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
    """Every frame of a video: the drawn video and NAME_<frame:012d>_keypoints.json per frame."""
    try:
        reader = imageio.VideoReader(source)
    except (OSError, ValueError) as exc:
        raise CliError(str(exc)) from None
    with reader:
        info = reader.info
        check_size(info.height, info.width, source, args_max_side(run))
        for _, ext in imageio.VIDEO_CODECS:
            if same_file(out / f"{source.stem}{ext}", source):
                raise CliError(f"the output video would overwrite the input {source}; choose "
                               "another folder with -o")
        run.estimator = run.estimator or _load(run, out)
        try:
            writer = imageio.AtomicVideoWriter(out, source.stem, info.fps,
                                               (info.width, info.height))
        except ValueError as exc:
            raise CliError(str(exc)) from None
        start = time.perf_counter()
        skipped = 0
        run.progress = _progress(run, info.frame_count, "frame")
        try:
            for frame_index, frame in enumerate(reader):
                name = f"{source.stem}_{frame_index:012d}"
                try:
                    result = run.estimate(frame, f"{source} frame {frame_index}")
                    drawn = result.drawn(frame, run.config)
                    imageio.write_group([(out / f"{name}_keypoints.json",
                                          imageio.json_bytes(result.openpose()))]
                                        + run.maps_outputs(result, name))
                except (ValueError, OSError, MemoryError) as exc:
                    run.note(f"skipped: {source} frame {frame_index} ({frame.shape[1]}x"
                             f"{frame.shape[0]}): {' '.join(str(exc).split())}", always=True)
                    skipped += 1
                    drawn = frame                    # the video keeps its timing
                else:
                    run.coco += result.coco(frame_index)
                writer.write(fit_frame(drawn, info.width, info.height))
                if run.progress is not None:
                    run.progress.update(1)
        except KeyboardInterrupt:
            path = writer.commit()
            _close_progress(run)
            _finish_json(run)
            raise Interrupted(f"interrupted after {writer.frames} frames; kept {path} and "
                              f"their JSON files in {out}") from None
        except BaseException:
            writer.discard()
            _close_progress(run)
            raise
        path = writer.commit()
        _close_progress(run)
    _finish_json(run)
    _summary(run, writer.frames, "frames", time.perf_counter() - start, path)
    if skipped:
        raise CliError(f"{skipped} of {writer.frames} frames were skipped (see above); the "
                       f"video and the other frames' JSON files are in {out}")
    return 0


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
                            for stage in run.timings[0])
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


def main(argv: Optional[Iterable[str]] = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(None if argv is None else list(argv))
    configure_logging(args.quiet, args.verbose)
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
        kind = classify_input(source, DEFAULT_INPUT)
        try:
            out = check_outputs(OutputOptions(args.output, args.json, args.openpose_json,
                                              args.save_maps), kind, source)
        except ValueError as exc:
            raise CliError(str(exc)) from None
        handler = {"image": run_image, "folder": run_folder, "video": run_video}[kind]
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
