"""The batch command's ``--table``: how fast Ray Data's workers turn JSON outputs into Parquet.

Run from the project root::

    python -m benchmarks.bench_batch_table [--videos 2] [--frames 2500] [--images 0]
                                            [--people 3] [--rounds 2] [--num-cpus 2]

Writes ``videos x frames`` OpenPose JSON files and ``images`` one-frame image
outputs (``people`` people of random keypoints each, the batch command's
names) into a temporary folder, starts a local Ray, then times
:func:`posekit.apps.batch.table.write_table` ``rounds`` times (the first round
includes Ray Data's start-up: workers, imports). Prints rows, seconds and
frames per second per round; compare with the network's frames per second
(``python -m benchmarks.bench_batch``) to see the table's share. Issue 31:
``--videos 0 --images 2000`` (one Ray task per image before) against
``--videos 2 --frames 2500``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import List, Tuple

import numpy as np

from posekit.io.sources import Item


def write_outputs(out: Path, videos: int, frames: int, people: int, seed: int = 0,
                  images: int = 0) -> List[Tuple[Item, int]]:
    """Fake batch outputs: ``(item, frames)`` of each video, then of each image, written
    into ``out``."""
    rng = np.random.default_rng(seed)

    def doc(time: float = None) -> str:
        people_json = [{"person_id": [p if time is not None else -1],
                        "pose_keypoints_2d": [round(float(x), 3) for x in rng.uniform(0, 500, 54)]}
                       for p in range(people)]
        data = {"version": 1.3, "people": people_json}
        if time is not None:
            data["time"] = round(time, 6)
        return json.dumps(data) + "\n"

    done = []
    out.mkdir(parents=True, exist_ok=True)
    for v in range(videos):
        item = Item(v, f"/clips/v{v}.mp4", "video", f"v{v}")
        (out / item.name).mkdir(parents=True, exist_ok=True)
        for f in range(frames):
            (out / item.output(f)).write_text(doc(f / 25))
        done.append((item, frames))
    for k in range(images):
        item = Item(videos + k, f"/photos/i{k}.jpg", "image", f"i{k}")
        (out / item.output(0)).write_text(doc())
        done.append((item, 1))
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=2)
    parser.add_argument("--frames", type=int, default=2500)
    parser.add_argument("--images", type=int, default=0)
    parser.add_argument("--people", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--num-cpus", type=int, default=2)
    args = parser.parse_args()
    from posekit.apps.batch import run as batch
    from posekit.apps.batch.ray_cluster import quiet_ray_data
    from posekit.apps.batch.table import write_table

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        done = write_outputs(root / "out", args.videos, args.frames, args.people,
                             images=args.images)
        batch.start_ray(num_cpus=args.num_cpus, object_store_mb=200)
        quiet_ray_data()
        total = args.videos * args.frames + args.images
        for k in range(args.rounds):
            start = time.perf_counter()
            rows = write_table(root / "t.parquet", root / "out", done)
            seconds = time.perf_counter() - start
            files = len(list((root / "t.parquet").iterdir()))
            print(f"round {k}: {rows} rows from {total} frames in {seconds:.2f} s "
                  f"({total / seconds:.0f} frames/s, {files} files)", flush=True)


if __name__ == "__main__":
    main()
