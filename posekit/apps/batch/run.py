"""Pose extraction over many images and videos on Ray Data: ``python -m posekit.apps.batch``.

::

    python -m posekit.apps.batch data/ clips/**/*.mp4 more.txt -o poses/        # local Ray, started here
    python -m posekit.apps.batch data/ -o poses/ --address HEAD_IP:6379          # join a Ray cluster

Writes, in the output folder, the demo's OpenPose JSON per image
(``NAME_keypoints.json``) and per video frame (``NAME/STEM_<frame:012d>_keypoints.json``),
named after each file's path below its input (:mod:`posekit.io.sources`), and
``manifest.json``, the record of every item (:mod:`posekit.apps.batch.manifest`).
Video frames carry ``time`` (seconds on the video's clock) and their people
are tracked: ``person_id`` is each person's id across the video's frames
(``--no-track``: -1, as the demo). Tracking is sequential, so it runs in this
process on the frames put back in order (:mod:`posekit.apps.batch.tracks`).
``--table T.parquet`` adds every keypoint as one Parquet table, written by
Ray Data's workers from the JSON outputs (:mod:`posekit.apps.batch.table`).
Frames are decoded by parallel Ray tasks and the network runs in a pool of
actors (:mod:`posekit.apps.batch.ray_stages`); this process streams the results,
writes every file atomically and shows the items and frames per second.

A rerun with the same output folder skips the items whose outputs are
complete (checked against their recorded SHA-256) and made with the same
settings (network and weights, runtime, decoder and every parameter, size,
tracking: :mod:`posekit.apps.batch.settings`), and redoes the rest. A file
that fails (unreadable, truncated, too large) is recorded in the manifest
with its error and the run goes on; the exit status is then 1 (130 after
Ctrl-C or SIGTERM, with the manifest written, also during Ray's start-up, and
every process of a local Ray ended: :mod:`posekit.apps.batch.ray_cluster`). One run at a
time may write into an output folder (a lock the system drops when the
process ends). ``--address`` is checked before Ray is asked to join it.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from posekit.extras import require
from posekit.io import images as imageio
from posekit.apps.batch import manifest
from posekit.apps.batch.ray_cluster import (BLOCK_BYTES, DEFAULT_OBJECT_STORE_MB, RayForRun,  # noqa: F401
                                            check_address, start_ray)
from posekit.apps.command import EXIT_INTERRUPTED, CommandError, SignalGate, run_command
from posekit.apps.batch.results import Tracker, remove_stale_outputs, unwritable
from posekit.apps.batch.settings import changed, item_settings, run_settings
from posekit.apps.batch.tracks import FrameOrder, Row
from posekit.apps.common import (HelpFormatter, Parser, add_decoder_options, add_network_options,
                      add_verbosity_options, add_version_option, configure_logging, max_side,
                      native_stderr_filtered, number, quiet_native_logs)
from posekit.pipeline import DEFAULT_MAX_SIDE, THRESHOLDS
from posekit.io.sources import Item, collect

PROG = "posekit-batch"
#: TFLite threads per actor by default: 2 is where one interpreter still scales on
#: this model; more cores are better used by more actors.
DEFAULT_THREADS = 2
#: Ray's CPU accounting: an actor reserves one CPU (it runs --threads threads) and a
#: decoding task half of one, so decoding runs beside the actors even on 2 CPUs.
ACTOR_CPUS = 1.0
DECODE_CPUS = 0.5
#: Items per decoding task (when there are enough to feed the actors), and the most
#: blocks the item list is split into.
ITEMS_PER_TASK = 4
MAX_BLOCKS = 10_000
def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = Parser(prog=PROG, formatter_class=HelpFormatter,
                    description=__doc__.split("\n\n")[0].split(": ")[0] + ".",
                    epilog="inputs: folders (recursive), glob patterns (quote them; ** crosses "
                            "folders), list files (.txt/.lst/.list, one path per line) or files")
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="a folder, a glob pattern, a list file, an image or a video")
    parser.add_argument("-o", "--output", required=True, metavar="DIR",
                        help="output folder (created if missing; reuse it to resume a run)")
    parser.add_argument("--address", metavar="ADDR",
                        help="join this Ray cluster (HEAD_IP:6379, or 'auto'); default: start "
                             "a local Ray for this run")
    parser.add_argument("--node-ip-address", metavar="IP",
                        help="with --address: this machine's address in the cluster (default: "
                             "Ray's guess; 127.0.0.1 for a cluster on this machine alone)")
    parser.add_argument("--num-cpus", type=number(int, 1), metavar="N",
                        help="CPUs of the local Ray (default: all); ignored with --address")
    parser.add_argument("--object-store-mb", type=number(int, 100),
                        default=DEFAULT_OBJECT_STORE_MB, metavar="MB",
                        help="object store of the local Ray (bounds the frames in flight)")
    parser.add_argument("--actors", type=number(int, 1), metavar="N",
                        help="network actors (default: the cluster's CPUs / --threads)")
    parser.add_argument("--threads", type=number(int, 1), metavar="N",
                        help=f"TFLite threads per actor (default: {DEFAULT_THREADS}, at most "
                             "the CPUs of this machine)")
    parser.add_argument("--redo", action="store_true",
                        help="process every item again, even those found complete")
    parser.add_argument("--no-track", dest="track", action="store_false",
                        help="do not track people across a video's frames (person_id is then "
                             "-1 in the JSON, and the table's person_id each person's index "
                             "in the frame)")
    parser.add_argument("--table", metavar="PATH.parquet",
                        help="also write every keypoint of the complete items as one Parquet "
                             "table (a folder of files written by the workers): a row per "
                             "frame x person x keypoint: source, frame, time (s), person_id, "
                             "keypoint, x, y, score")
    add_network_options(parser)
    add_decoder_options(parser)
    parser.add_argument("--max-side", type=max_side, default=DEFAULT_MAX_SIDE, metavar="N",
                        help="downscale larger images to this longer side first (0: never)")
    add_verbosity_options(parser, "no progress bar and no summary; errors only")
    add_version_option(parser)
    return parser


# --- Ray (started and stopped by posekit.apps.batch.ray_cluster) ------------------------------------------

def pool_size(args: argparse.Namespace, note=print) -> Dict[str, int]:
    """Actors and threads per actor: ``--actors`` or the cluster's CPUs / threads.

    The actors' CPU reservations must leave room for one decoding task, or
    decoding would never be scheduled; more actors than that are cut, with a note.
    """
    import ray

    threads = args.threads or min(DEFAULT_THREADS, os.cpu_count() or 1)
    cpus = float(ray.cluster_resources().get("CPU", 1))
    room = max(1, int((cpus - DECODE_CPUS) // ACTOR_CPUS))
    actors = args.actors or max(1, int(cpus) // threads)
    if actors > room:
        note(f"note: {actors} actors would leave no CPU for decoding on this cluster "
             f"({cpus:g} CPUs); using {room}")
        actors = room
    return {"actors": actors, "threads": threads}


def build_dataset(todo: Sequence[Item], args: argparse.Namespace, actors: int, threads: int,
                  settings: dict):
    """The Ray Data pipeline: items -> decoded frames (tasks) -> OpenPose JSON (actor pool).

    Every actor loads the runtime the driver's ``settings`` name (``auto`` resolved
    here) and checks its network file against their SHA-256.
    """
    import ray.data

    from posekit.apps.batch.ray_stages import FRAME_CHUNK, actor_class, decode_items

    config = dict(model=args.model, weights=args.weights, runtime=settings["runtime"],
                  threads=threads, decoder=args.decoder, max_side=args.max_side,
                  thresholds={t.dest: getattr(args, t.dest) for t in THRESHOLDS},
                  skip_hash_check=args.skip_hash_check,
                  network_sha256=settings["network_sha256"])
    # A few items per decoding task (fewer, cheaper tasks), but enough tasks to keep
    # every actor fed; at most MAX_BLOCKS blocks however long the list.
    blocks = min(len(todo), MAX_BLOCKS, max(4 * actors, -(-len(todo) // ITEMS_PER_TASK)))
    items = ray.data.from_items([{"item": it.index, "path": it.path, "kind": it.kind}
                                 for it in todo], override_num_blocks=blocks)
    # Different CPU shares also keep Ray Data from fusing decoding into the actors.
    frames = items.map_batches(decode_items, batch_size=1, num_cpus=DECODE_CPUS)
    # On a cluster the actors go to different machines, not all to the first one: Ray Data
    # creates them with its context's scheduling strategy, SPREAD unless changed. (Giving it
    # here, as a remote argument, raised Ray's deprecation warning on every run.)
    return frames.map_batches(actor_class(**config), batch_size=FRAME_CHUNK,
                              num_cpus=ACTOR_CPUS, compute=ray.data.ActorPoolStrategy(size=actors))


def _prepare(args: argparse.Namespace, out: Path) -> Tuple[List[Item], dict]:
    """Check that Ray is installed, validate the output folder, list the items, check the
    network loads here (its settings, ``runtime`` resolved, are the run's) and that a
    cluster answers at ``--address``."""
    require("ray", "posekit-batch")       # before any file is touched
    try:
        imageio.check_output_folder(out, missing_ok=True)
        items = collect(args.inputs, out)
        if args.table:
            from posekit.apps.batch.table import check_table_path

            check_table_path(Path(args.table), out, args.inputs, items)
        if args.address:
            check_address(args.address)         # bounded: ray.init alone may retry for minutes
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    from posekit.pipeline import load_pose_network

    try:
        manifest.check_record_files(out)
        network = load_pose_network(args.model, args.weights, args.skip_hash_check,
                                    args.runtime, num_threads=1)
        settings = run_settings(network, args.model, args.weights, args.decoder,
                                {t.dest: getattr(args, t.dest) for t in THRESHOLDS},
                                args.max_side, args.track)
        del network
        imageio.make_output_folder(out)
    except (ValueError, RuntimeError, OSError) as exc:
        raise CommandError(str(exc)) from None
    return items, settings


def _rows(batch: Dict[str, "object"]) -> List[Row]:
    """The rows of one batch of the network stage's columns."""
    return [Row(int(batch["item"][k]), int(batch["frame"][k]), float(batch["time"][k]),
                int(batch["total"][k]), str(batch["error"][k]), batch["json"][k],
                batch["keypoints"][k], int(batch["people"][k]),
                str(batch["node"][k]) if "node" in batch else "")
            for k in range(len(batch["item"]))]


def _write_table(args: argparse.Namespace, out: Path, items: List[Item],
                 skipped: Dict[int, dict], tracker: Tracker) -> Optional[int]:
    """The ``--table`` of every complete item; its rows, or None (one line said why)."""
    from posekit.apps.batch.table import write_table

    done = []
    for item in items:
        record = skipped.get(item.index) or tracker.records.get(item.index)
        if record and record["status"] in ("done", "skipped"):
            done.append((item, int(record["frames"])))
    try:
        return write_table(Path(args.table), out, done, args.track)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - Ray or the disk failed: no table, exit 1
        tracker.note(f"error: cannot write the table {args.table}: "
                     f"{' '.join(str(exc).split())[:500]}")
        return None


def run(args: argparse.Namespace, gate: Optional[SignalGate] = None) -> int:
    """The whole run; returns the exit status. ``gate``: the command's installed
    :class:`posekit.apps.command.SignalGate` (None: signals stay as they are)."""
    gate = gate if gate is not None else SignalGate()
    out = Path(args.output)
    items, settings = _prepare(args, out)
    try:
        lock = manifest.FolderLock(out)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    with lock:
        try:
            manifest.check_record_files(out)      # again: now no other run can change them
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        return _run_locked(args, out, items, settings, gate)


def _plan(args: argparse.Namespace, out: Path, items: List[Item], settings: dict,
          note=print) -> Tuple[Dict[int, dict], Dict[int, str]]:
    """(skipped, refused): the items complete with these settings, and those whose outputs
    cannot be written (why); the others' earlier outputs and temporaries are removed.
    Items done with other settings are redone, with a note naming the settings."""
    manifest.remove_stale_temporaries(out)
    previous = {} if args.redo else manifest.load_records(out)
    skipped: Dict[int, dict] = {}
    redone, names = 0, set()
    for item in items:
        record = previous.get(item.path)
        if manifest.is_complete(out, item, record, settings):
            skipped[item.index] = dict(record, status="skipped")
        elif record and record.get("status") in ("done", "skipped"):
            differ = changed(record.get("settings"), item_settings(settings, item.kind))
            redone, names = redone + bool(differ), names | set(differ)
    if redone:
        note(f"note: {redone} item(s) done earlier with other settings ({', '.join(sorted(names))})"
             " are done again")
    refused: Dict[int, str] = {}
    for item in items:
        if item.index in skipped:
            continue
        reason = unwritable(out, item)
        if not reason:
            try:
                remove_stale_outputs(out, item)
            except OSError as exc:
                reason = f"cannot remove an earlier output: {exc.strerror or exc}"
        if reason:
            refused[item.index] = reason
    return skipped, refused


def _run_locked(args: argparse.Namespace, out: Path, items: List[Item], settings: dict,
                gate: SignalGate) -> int:
    """:func:`run` once the output folder is locked. From the journal's creation on, a
    signal ends the run with its manifest: signals are only noted (``gate.muted``) but
    while the work goes on (``gate.live``), so the ending (Ray stopped, the manifest
    written) always completes, however many signals come."""
    skipped, refused = _plan(args, out, items, settings,
                             lambda line: args.quiet or print(f"{PROG}: {line}", file=sys.stderr))
    todo = [it for it in items if it.index not in skipped and it.index not in refused]
    with gate.muted():                      # noted while the journal and the bar are made
        journal = manifest.Journal(out)
        tracker = Tracker(todo, out, journal, args.quiet, PROG,
                          video_fields={"tracked": args.track}, settings=settings)
        for item in items:
            if item.index in refused:
                tracker.refuse(item, refused[item.index])
        started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        status, interrupted, pool = 0, False, {"actors": 0, "threads": 0}
        ray_run = RayForRun(args.address, args.num_cpus, args.object_store_mb,
                            args.node_ip_address, gate)
        table_rows, table_seconds = None, 0.0
        order = FrameOrder(track=args.track)
        try:
            with gate.live():               # a signal noted so far raises here
                if todo or args.table:
                    ray_run.start()
                if todo:
                    pool = pool_size(args, tracker.note)
                    dataset = build_dataset(todo, args, pool["actors"], pool["threads"],
                                            settings)
                    for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                        for row in _rows(batch):
                            for ready in order.push(row):
                                tracker.row(ready.item, ready.frame, ready.total, ready.error,
                                            ready.payload, ready.people, ready.node)
                if args.table:
                    table_start = time.perf_counter()
                    table_rows = _write_table(args, out, items, skipped, tracker)
                    table_seconds = time.perf_counter() - table_start
                    if table_rows is None:
                        status = 1
        except KeyboardInterrupt:
            interrupted, status = True, EXIT_INTERRUPTED
        except Exception as exc:  # noqa: BLE001 - Ray itself failed: record, report, exit 1
            tracker.note(f"error: the run stopped: {' '.join(str(exc).split())[:500]}")
            status = 1
        tracker.close()
        ray_run.stop(tracker.note)
        return _finish(args, out, items, skipped, tracker, journal, started, status,
                       interrupted or gate.take_pending(), pool, order, table_rows,
                       table_seconds, settings)


def _finish(args: argparse.Namespace, out: Path, items: List[Item], skipped: Dict[int, dict],
            tracker: Tracker, journal: manifest.Journal, started: str, status: int,
            interrupted: bool, pool: Dict[str, int], order: FrameOrder,
            table_rows: Optional[int], table_seconds: float, settings: dict) -> int:
    """Write the manifest, print the summary; returns the exit status."""
    if interrupted:
        status = EXIT_INTERRUPTED
    seconds = time.perf_counter() - tracker.start
    startup = (tracker.first or time.perf_counter()) - tracker.start
    records = []
    for item in items:
        record = skipped.get(item.index) or tracker.records.get(item.index)
        if record is None:
            record = {"path": item.path, "name": item.name, "kind": item.kind,
                      "status": "interrupted" if interrupted else "failed", "frames": 0,
                      "error": None if interrupted else "the run stopped before this item"}
        records.append(record)
    steady = tracker.steady_rate()
    counts = {s: sum(r["status"] == s for r in records)
              for s in ("done", "skipped", "failed", "interrupted")}
    summary = {"started": started, "seconds": round(seconds, 3), "items": len(items), **counts,
               "frames": tracker.frames,
               "frames_per_second": round(tracker.frames / seconds, 3) if seconds > 0 else 0.0,
               # the progress bar's figure: frames per second from the start to the last frame
               "steady_frames_per_second": round(steady, 3),
               "startup_seconds": round(startup, 3),
               "actors": pool["actors"], "threads_per_actor": pool["threads"],
               "ray_address": args.address or "local", "tracked": args.track,
               # most frames that came before an earlier frame of their video and waited
               "frames_waiting_at_most": order.peak, "settings": settings}
    if args.table:
        summary.update(table=str(Path(args.table).resolve()) if table_rows is not None
                       else None, table_rows=table_rows, table_seconds=round(table_seconds, 3))
    path = manifest.write_manifest(out, records, summary)
    journal.close(remove=True)
    if not args.quiet:
        print(f"{len(items)} items: {counts['done']} done, {counts['skipped']} skipped (already "
              f"complete), {counts['failed']} failed"
              + (f", {counts['interrupted']} interrupted" if interrupted else "")
              + f"; {tracker.frames} frames in {seconds:.1f} s "
              f"({summary['frames_per_second']:.2f} frames/s overall; "
              f"{steady:.2f} frames/s up to the last frame, "   # the bar's own rounding
              f"as the progress bar; the first came after {startup:.1f} s of start-up); "
              f"manifest {path}"
              + (f"; table {args.table} ({table_rows} rows)" if table_rows is not None else ""),
              flush=True)
    if interrupted:
        print(f"{PROG}: interrupted; rerun the same command to finish", file=sys.stderr)
        return status
    if counts["failed"]:
        print(f"{PROG}: error: {counts['failed']} of {len(items)} items failed (see {path})",
              file=sys.stderr)
        return 1
    return status


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit status (Ctrl-C and SIGTERM alike: the
    manifest written, 130)."""
    args = build_parser().parse_args(None if argv is None else list(argv))
    with native_stderr_filtered(args.verbose):     # TFLite's notices: only with -v
        configure_logging(args.quiet, args.verbose)
        quiet_native_logs()                 # before Ray starts: its workers inherit it
        gate = SignalGate()
        return run_command(PROG, lambda: run(args, gate), gate)


def entry() -> None:
    """The ``posekit-batch`` process: :func:`main`, then the process ends at once.

    After a run that started Ray in this process, the interpreter's own teardown can
    abort in Ray's native core worker (exit status -6 instead of 130 after a SIGTERM:
    ray-project/ray#37288, seen here on a loaded 2-core machine); Ray's own workers end
    with ``os._exit`` for that reason. Every output is complete before :func:`main`
    returns (the manifest written, Ray stopped, its processes ended), so the streams are
    flushed and the process exits with :func:`main`'s status, skipping that teardown.
    """
    status = main()
    flushes = [handler.flush for handler in logging.getLogger().handlers]
    for flush in [*flushes, sys.stdout.flush, sys.stderr.flush]:
        try:
            flush()
        except (OSError, ValueError):       # a closed pipe: nothing more to say
            pass
    os._exit(status)


if __name__ == "__main__":
    entry()
