"""The demo's command line: pose estimation on an image, a folder of images or a video.

``demo_image.py`` (the lab's entry point) calls :func:`main` with the lab's
default input: with no arguments it does what the lab's demo does: reads ``images/1.jpg``, writes
the drawn skeletons to ``output.png`` and prints the time of each step
(network, peaks, connections, grouping). The installed ``posekit`` has no
default input: with none it prints its usage. ``python demo_image.py --help``
lists every option with its default; docs/cli.md and docs/video.md show
examples and the JSON formats.

Errors a user can cause (a missing or unreadable input, missing or corrupt
weights, an output folder that does not exist...) end with one line on
standard error, ``demo_image.py: error: ...``, and exit status 1 (2 for a bad
command line, 130 after Ctrl-C). Every output file is written under a
temporary name in its destination folder and renamed when complete.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Iterable, List, Optional

from posekit.lab.config import get_default_configuration
from posekit.video.smoothing import OneEuroParams
from posekit.networks.inference import accurate_network

from posekit.io import images as imageio
from posekit.apps.command import CommandError, Interrupted, run_command
from posekit.apps.demo_inputs import classify_input, load_checked_image
from posekit.apps.demo_run import Run
from posekit.apps.demo_live import run_live
from posekit.apps.demo_video import run_video
from posekit.apps.common import (
    HelpFormatter, Parser, add_decoder_options, add_network_options, add_verbosity_options,
    add_version_option, configure_logging, max_side, native_stderr_filtered, number,
    quiet_native_logs)
from posekit.apps.outputs import (
    DEFAULT_OUTPUT_FOLDER, DEFAULT_OUTPUT_IMAGE, FolderPlan, OutputOptions, check_outputs,
    folder_outputs, image_id_for, plan_folder)
from posekit.pipeline import (DEFAULT_CONF, DEFAULT_KPT_CONF, DEFAULT_MAX_SIDE, THRESHOLDS,
                              PoseEstimator, load_pose_network)
from posekit.video.live import DEFAULT_OPEN_TIMEOUT, DEFAULT_RECONNECT
from posekit.video.sources import live_source

#: The command's name in its messages; ``demo_image.py`` passes its own.
PROG = "posekit"
#: The lab's default input (``demo_image.py`` only; the installed command has none).
DEFAULT_INPUT = "images/1.jpg"


# --- command line --------------------------------------------------------------------------

EPILOG = f"""\
inputs:
  an image file        -> OUTPUT image (default {DEFAULT_OUTPUT_IMAGE}); timings on stdout
  a folder             -> OUTPUT folder (default {DEFAULT_OUTPUT_FOLDER}/): NAME.png (drawn),
                          NAME_coco.json and NAME_keypoints.json (OpenPose) per image, and
                          each video as below; names unique (a.avi + a.mp4: a_avi, a_mp4)
  a video file         -> OUTPUT folder: NAME.mp4 (drawn, H.264, at the source's frame
                          times) and NAME_<frame:012d>_keypoints.json (OpenPose, with
                          "time") per frame; or -o NAME.mp4: that video only. People are
                          tracked (ids drawn, person_id / track_id in the JSON) unless
                          --no-track
  a camera or stream   -> the same, live: 0 (camera index), /dev/video0, rtsp://...,
                          rtmp://, http(s):// (MJPEG, MPEG-TS, HLS), udp://, tcp://;
                          newest frame first (late frames dropped and counted), until
                          --max-frames, --duration or Ctrl-C; NAME is camera0 / video0 /
                          stream

JSON formats (pixel coordinates of the original image):
  --json: COCO keypoint results, a list of
    {{"image_id", "category_id": 1, "keypoints": [x, y, v] * 17 (COCO order), "score"}}
    ("score": the confidence, 0..1, with --conf / --kpt-conf applied)
  --openpose-json / *_keypoints.json: OpenPose's
    {{"version": 1.3, "people": [{{"person_id": [-1],
                                 "pose_keypoints_2d": [x, y, score] * 18 (COCO-18 order)}}]}}
  missing keypoints are zeros.

examples:
  %(prog)s bus.jpg -o bus_drawn.png
  %(prog)s zidane.jpg -o zidane.png --json zidane_coco.json
  %(prog)s photos/ -o results/ --save-maps results/maps
  %(prog)s clip.mp4 -o clip_out/ --decoder lab --min-parts 5
  %(prog)s clip.mp4 -o drawn.mp4 --smooth --table poses.parquet
  %(prog)s 0 -o webcam.mp4 --duration 60 --jsonl -
  %(prog)s rtsp://192.168.1.10:554/stream -o cam.mp4 --table cam.csv
"""


def build_parser(prog: str = PROG,
                 default_input: Optional[str] = None) -> argparse.ArgumentParser:
    """The command-line parser (defaults of the thresholds come from the decoders;
    ``default_input``: the input when none is given, None: the input is required)."""
    parser = Parser(prog=prog, formatter_class=HelpFormatter, epilog=EPILOG,
                    description="Find people and their 18 keypoints in an image, a folder of\n"
                                "images or a video; draw them and write them as JSON.")
    parser.add_argument("input", nargs="?", default=default_input,
                        help="an image, a folder of images, a video file, a camera index "
                             "(0), a device (/dev/video0) or a stream URL (rtsp://...)")
    parser.add_argument("-o", "--output", metavar="PATH",
                        help=f"output image for an image input (default {DEFAULT_OUTPUT_IMAGE}; "
                             "an existing folder receives NAME.png); output folder for a folder "
                             f"or video input (default {DEFAULT_OUTPUT_FOLDER}/, created if "
                             "missing)")
    add_network_options(parser)
    parser.add_argument("--accurate", action="store_true",
                        help="average scales 0.75/1/1.5 and a mirrored pass (about 7.6x the "
                             "network work; posekit.networks.inference.accurate_network)")
    add_decoder_options(parser)
    parser.add_argument("--json", metavar="PATH",
                        help="also write the people as COCO keypoint results (for a folder or "
                             "video: all images / frames in one list, each with its own "
                             "image_id; a folder's video frames follow its images)")
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
    kept = parser.add_argument_group(
        "thresholds", "what every output (drawing, JSON, table) keeps; a value equal to the "
        "threshold is kept")
    kept.add_argument("--conf", type=number(float, 0.0, 1.0), default=DEFAULT_CONF, metavar="X",
                      help="leave out people whose confidence is under X (a person's "
                           "confidence, 0..1: the predicted probability that it matches a true "
                           "person at COCO OKS >= 0.5)")
    kept.add_argument("--kpt-conf", type=number(float, 0.0, 1.0), default=DEFAULT_KPT_CONF,
                      metavar="X",
                      help="hide keypoints scored under X (a keypoint's score, 0..1: the "
                           "network's heatmap value there) and the limbs touching them; "
                           "keypoints under 0.5 are drawn fainter")
    drawing = parser.add_argument_group("drawing", "the drawn image or video: per person the "
                                        "skeleton, a box and a label (track id, confidence)")
    drawing.add_argument("--line-width", type=number(int, 1), default=None, metavar="N",
                         help="limb and box width in pixels (default: max(2, shorter side / "
                              "200))")
    drawing.add_argument("--no-labels", dest="labels", action="store_false",
                         help="draw the skeletons only: no boxes, ids or scores")
    video = parser.add_argument_group("video", "tracking, smoothing and the keypoint table")
    video.add_argument("--no-track", dest="track", action="store_false",
                       help="do not track people across frames (person_id / track_id are "
                            "then -1 in the JSON, and --table's person_id is each person's "
                            "index in the frame)")
    video.add_argument("--smooth", action="store_true",
                       help="smooth each tracked person's keypoints over time (One Euro "
                            "filter; needs tracking, so not with --no-track)")
    video.add_argument("--min-cutoff", type=number(float, 1e-6), default=OneEuroParams.min_cutoff,
                       metavar="HZ", help="One Euro cutoff of a still keypoint (lower: steadier)")
    video.add_argument("--beta", type=number(float, 0.0), default=OneEuroParams.beta,
                       metavar="X", help="One Euro cutoff increase per pixel/s of speed (higher: "
                                         "less lag on fast motion)")
    video.add_argument("--table", metavar="PATH",
                       help="also write every keypoint as one table (.csv or .parquet): a row "
                            "per frame x person x keypoint: frame, time (s), person_id, "
                            "keypoint, x, y, score")
    live = parser.add_argument_group("live", "cameras and network streams (--max-frames "
                                     "and --duration also end a video file's run)")
    live.add_argument("--max-frames", type=number(int, 1), default=None, metavar="N",
                      help="stop after N processed frames")
    live.add_argument("--duration", type=number(float, 0.001), default=None, metavar="S",
                      help="stop after S seconds of processing")
    live.add_argument("--reconnect", type=number(int, 0), default=DEFAULT_RECONNECT,
                      metavar="N", help="reopen a stream that stops or stalls, N attempts in "
                                        "a row (waiting 0.5, 1, 2, 4, 8, 8... s); 0: end "
                                        "with the stream")
    live.add_argument("--open-timeout", type=number(float, 0.1), default=DEFAULT_OPEN_TIMEOUT,
                      metavar="S", help="a source that gives no frame within S seconds fails "
                                        "(also the longest wait of one read)")
    live.add_argument("--segment", type=number(float, 1.0), default=None, metavar="S",
                      help="a live source's video and table in pieces of S seconds: "
                           "NAME_00000.mp4, TABLE_00000.csv... each complete once the next "
                           "begins (a crash loses only the last)")
    live.add_argument("--full-size", dest="half_size", action="store_false",
                      help="run every live frame at full size (default: at half size while "
                           "every person in view is large, a quarter of the work; a full "
                           "frame at least every 0.5 s and whenever someone is not large)")
    live.add_argument("--jsonl", metavar="-", choices=["-"],
                      help="write one JSON line per frame on standard output as it is done "
                           "(frame, time, people with person_id and pose_keypoints_2d, and "
                           "for a live source its capture time and latency)")
    add_verbosity_options(parser, "print nothing but errors (no timings, no progress bar)")
    add_version_option(parser)
    return parser


def run_image(run: Run, source: Path, out: Path) -> int:
    """One image: drawn picture, optional JSON and maps, timings on stdout."""
    image = load_checked_image(source, run.max_side(), run.scales())
    run.load()
    try:
        result = run.estimate(image, str(source))
    except ValueError as exc:
        raise CommandError(f"{source}: {exc}") from None
    drawn = result.drawn(image, run.config, **run.drawing())
    try:
        outputs = [(out, imageio.encode_image(drawn, out.suffix))]
        if run.args.json:
            outputs.append((run.args.json,
                            imageio.json_bytes(result.coco(image_id_for(source, 0)))))
        if run.args.openpose_json:
            outputs.append((run.args.openpose_json, imageio.json_bytes(result.openpose())))
        outputs += run.maps_outputs(result, source.stem)
        with run.gate.held():                          # all of them, or none
            imageio.write_group(outputs)
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot write the output: {exc}") from None
    for stage, seconds in result.timings.items():     # the stages the decoder timed
        run.say(f"{stage + ':':<13}{seconds:.4f} s")
    run.say(f"people: {len(result.people)}, written to {out}")
    return 0


def run_folder(run: Run, source: Path, out: Path, plan: Optional[FolderPlan] = None) -> int:
    """Every image of a folder: NAME.png, NAME_coco.json, NAME_keypoints.json per image
    (names and COCO ids from ``plan``, :func:`posekit.apps.outputs.plan_folder`)."""
    plan = plan or plan_folder(source)
    files = plan.images
    if not files:
        raise CommandError(f"no images in folder {source} (looked for "
                       f"{', '.join(imageio.IMAGE_EXTENSIONS[:6])}, ... files)")
    run.load(out)
    skipped = done = 0
    start = time.perf_counter()
    run.progress = run.progress_bar(len(files), "img")
    try:
        for path, stem, image_id in zip(files, plan.image_names, plan.image_ids):
            try:
                image = load_checked_image(path, run.max_side(), run.scales())
                result = run.estimate(image, str(path))
                coco_json, keypoints_json, picture = folder_outputs(stem, out, None)
                outputs = [(coco_json, imageio.json_bytes(result.coco(image_id))),
                           (keypoints_json, imageio.json_bytes(result.openpose())),
                           (picture, imageio.encode_image(
                               result.drawn(image, run.config, **run.drawing()), ".png"))]
                outputs += run.maps_outputs(result, stem)
                with run.gate.held():                  # the files and --json agree
                    imageio.write_group(outputs)
                    run.add_coco(result.coco(image_id))
            except (CommandError, ValueError, OSError, MemoryError) as exc:
                run.note(f"skipped: {' '.join(str(exc).split())}", always=True)
                skipped += 1
            else:
                done += 1
            if run.progress is not None:
                run.progress.update(1)
    except KeyboardInterrupt:
        run.close_progress()
        run.finish_json()
        raise Interrupted(f"interrupted after {done} of {len(files)} images; their outputs "
                          f"are in {out}") from None
    finally:
        run.close_progress()
    run.finish_json()
    run.summary(done, "images", time.perf_counter() - start, out)
    if skipped:
        raise CommandError(f"{skipped} of {len(files)} images were skipped (see above)")
    return 0


def run_folder_with_videos(run: Run, source: Path, out: Path,
                           plan: Optional[FolderPlan] = None) -> int:
    """A folder: its images (:func:`run_folder`), then each of its videos (:func:`run_video`,
    a new tracker per video) into the same output folder; one bad file is one skipped line.

    Output names are unique across the folder's images and videos (``a.avi`` and
    ``a.mp4`` write ``a_avi.mp4`` and ``a_mp4.mp4``); the videos' frames take the COCO
    image ids after the images'; ``--json`` is written once, at the end (also after Ctrl-C).
    """
    plan = plan or plan_folder(source)
    if not plan.videos:
        return run_folder(run, source, out, plan)
    failed = 0
    run.hold_json = True
    try:
        if plan.images:
            try:
                run_folder(run, source, out, plan)
            except CommandError as exc:
                run.note(' '.join(str(exc).split()), always=True)
                failed += 1
        run.next_image_id = max(plan.image_ids, default=-1) + 1
        for video, name in zip(plan.videos, plan.video_names):
            try:
                run_video(run, video, out, name)
            except CommandError as exc:
                run.note(f"skipped: {video}: {' '.join(str(exc).split())}", always=True)
                failed += 1
    except Interrupted as exc:
        run.hold_json = False
        try:
            run.finish_json()
        except CommandError as error:
            raise Interrupted(f"{exc}; {' '.join(str(error).split())}") from None
        raise
    run.hold_json = False
    run.finish_json()
    if failed:
        raise CommandError(f"{failed} of the folder's inputs (the images, {len(plan.videos)} "
                       "videos) had problems (see above)")
    return 0


def _load(run: Run, out_folder: Optional[Path] = None) -> PoseEstimator:
    """Load the network once and wrap it with the chosen decoder; then create the folders.

    Output folders are created only now, after the inputs and the network
    proved usable, so a failed run leaves no empty folder behind.
    """
    args = run.args
    try:
        network = load_pose_network(args.model, args.weights, args.skip_hash_check, args.runtime)
    except (ValueError, RuntimeError) as exc:
        raise CommandError(str(exc)) from None
    network = accurate_network(network) if args.accurate else network
    thresholds = {t.dest: getattr(args, t.dest) for t in THRESHOLDS}
    estimator = PoseEstimator(network, args.decoder, thresholds, args.max_side,
                              run.config, conf=args.conf, kpt_conf=args.kpt_conf)
    try:
        for folder in (out_folder, args.save_maps):
            if folder:
                imageio.make_output_folder(folder)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    return estimator


def main(argv: Optional[Iterable[str]] = None, prog: str = PROG,
         default_input: Optional[str] = None) -> int:
    """Run the command line (``prog``: the name in its messages; ``default_input``: the
    input when none is given, ``demo_image.py``'s :data:`DEFAULT_INPUT`; None: usage and
    status 2 without one); returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["serve"] and default_input is None:
        return _serve(argv[1:], prog)
    parser = build_parser(prog, default_input)
    args = parser.parse_args(argv)
    if args.input is None:
        parser.print_usage(sys.stderr)
        parser.error("no input: give an image, a folder of images or a video file")
    with native_stderr_filtered(args.verbose):     # TFLite's notices: only with -v
        configure_logging(args.quiet, args.verbose)
        quiet_native_logs()
        run = Run(args, get_default_configuration(), prog=prog, loader=_load)
        # Ctrl-C and SIGTERM alike: finished outputs are kept, partial ones removed, and one
        # image's or frame's outputs are never split (run.gate).
        return run_command(prog, lambda: _main(run, args), run.gate, run.close_progress)


def _serve(argv: List[str], prog: str) -> int:
    """``posekit serve ...``: the service (``posekit.apps.serve``), unless a file or folder
    named ``serve`` is here (then which is meant is unclear: one line, status 2)."""
    if os.path.lexists("serve"):
        print(f"{prog}: error: 'serve' is both the service and a file or folder here: write "
              "./serve for the file, or posekit-serve for the service", file=sys.stderr)
        return 2
    from posekit.apps.serve import main as serve_main

    return serve_main(argv, prog=f"{prog} serve")


def _main(run: Run, args: argparse.Namespace) -> int:
    """:func:`main` once the command line is parsed."""
    if args.smooth and not args.track:
        raise CommandError("--smooth needs tracking (each person's keypoints are filtered "
                       "along its track); drop --no-track or --smooth")
    if args.jsonl and args.json == imageio.STDOUT:
        raise CommandError("--jsonl - and --json - both write to standard output; "
                           "choose one")
    try:
        live = live_source(args.input, "input")
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if live is not None:
        try:
            out = check_outputs(OutputOptions(args.output, args.json, args.openpose_json,
                                              args.save_maps, args.table), "video",
                                Path(live.name))
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        return run_live(run, live, out)
    source = Path(args.input)
    kind = classify_input(source, DEFAULT_INPUT)
    if args.segment:
        raise CommandError("--segment is for a live input (a camera or a stream)")
    if args.jsonl and kind != "video":
        raise CommandError(f"--jsonl is for a video or live input, not a {kind}")
    if args.smooth and kind == "image":
        raise CommandError("--smooth is for a video input (it filters keypoints over time)")
    try:
        plan = plan_folder(source) if kind == "folder" else None
        out = check_outputs(OutputOptions(args.output, args.json, args.openpose_json,
                                          args.save_maps, args.table), kind, source, plan)
    except (OSError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    if kind == "folder":
        return run_folder_with_videos(run, source, out, plan)
    return {"image": run_image, "video": run_video}[kind](run, source, out)


if __name__ == "__main__":
    sys.exit(main())
