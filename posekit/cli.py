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
import sys
import threading
import time
from pathlib import Path
from typing import Iterable, Iterator, Optional

import numpy as np

from estimation.config import get_default_configuration
from estimation.smoothing import OneEuroParams
from models.inference import accurate_network

from . import imageio
from .demo_inputs import (
    CliError, Interrupted, check_size, classify_input, fit_frame, load_checked_image)
from .demo_run import Run
from .options import (
    HelpFormatter, Parser, add_decoder_options, add_network_options, add_verbosity_options,
    configure_logging, max_side, number, quiet_native_logs)
from .outputs import (
    DEFAULT_OUTPUT_FOLDER, DEFAULT_OUTPUT_IMAGE, OutputOptions, check_outputs, folder_outputs,
    image_id_for, image_ids, output_stems, same_file)
from .pipeline import DEFAULT_MAX_SIDE, THRESHOLDS, PoseEstimator, load_pose_network
from .sources import VIDEO_EXTENSIONS
from .stream import PoseStream, coco_with_ids, draw_people, openpose_with_ids
from .table import TableWriter
from .video_writer import VIDEO_FORMATS, H264Writer

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
                        help="average scales 0.75/1/1.5 and a mirrored pass (about 7.6x the "
                             "network work; models.inference.accurate_network)")
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
    video = parser.add_argument_group("video", "tracking, smoothing and the keypoint table")
    video.add_argument("--no-track", dest="track", action="store_false",
                       help="do not track people across frames (person_id / track_id are "
                            "then -1 in the JSON, and --table's person_id is each person's "
                            "index in the frame)")
    video.add_argument("--smooth", action="store_true",
                       help="smooth each tracked person's keypoints over time (One Euro filter)")
    video.add_argument("--min-cutoff", type=number(float, 1e-6), default=OneEuroParams.min_cutoff,
                       metavar="HZ", help="One Euro cutoff of a still keypoint (lower: steadier)")
    video.add_argument("--beta", type=number(float, 0.0), default=OneEuroParams.beta,
                       metavar="X", help="One Euro cutoff increase per pixel/s of speed (higher: "
                                         "less lag on fast motion)")
    video.add_argument("--table", metavar="PATH",
                       help="also write every keypoint as one table (.csv or .parquet): a row "
                            "per frame x person x keypoint: frame, time (s), person_id, "
                            "keypoint, x, y, score")
    add_verbosity_options(parser, "print nothing but errors (no timings, no progress bar)")
    return parser


def run_image(run: Run, source: Path, out: Path) -> int:
    """One image: drawn picture, optional JSON and maps, timings on stdout."""
    image = load_checked_image(source, run.max_side())
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
    run.progress = run.progress_bar(len(files), "img")
    try:
        for path, stem, image_id in zip(files, stems, ids):
            try:
                image = load_checked_image(path, run.max_side())
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
        run.finish_json()
        raise Interrupted(f"interrupted after {done} of {len(files)} images; their outputs "
                          f"are in {out}") from None
    finally:
        run.close_progress()
    run.finish_json()
    run.summary(done, "images", time.perf_counter() - start, out)
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
        check_size(info.height, info.width, source, run.max_side())
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
        run.progress = run.progress_bar(info.frame_count, "frame")
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
                writer.write(fit_frame(drawn, info.width, info.height))
                if run.progress is not None:
                    run.progress.update(1)
        except KeyboardInterrupt:
            path = writer.commit()
            if table is not None:
                table.commit()
            run.close_progress()
            run.finish_json()
            raise Interrupted(f"interrupted after {writer.frames} frames; kept {path} "
                              f"{'' if as_file else f'and their JSON files in {out}'}") from None
        except BaseException:
            writer.discard()
            if table is not None:
                table.discard()
            run.close_progress()
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
            run.close_progress()
    run.finish_json()
    run.summary(writer.frames, "frames", elapsed, path)
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
    estimator = PoseEstimator(network, args.decoder, thresholds, args.max_side,
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
    run = Run(args, get_default_configuration(), prog=PROG)
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
                                              args.save_maps, args.table), kind, source)
        except ValueError as exc:
            raise CliError(str(exc)) from None
        handler = {"image": run_image, "folder": run_folder_with_videos, "video": run_video}[kind]
        return handler(run, source, out)
    except CliError as exc:
        run.close_progress()
        print(f"{PROG}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    except Interrupted as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        run.close_progress()
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
