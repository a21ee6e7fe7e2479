"""Peak memory of ``posekit.apps.batch.run`` on a short and a long video: bounded, not growing with length.

Writes a synthetic video (a photo drifting sideways) of each length into a
temporary folder, runs the batch command on a local Ray in this process,
and samples every 0.2 s the proportional set size (PSS: resident memory with
shared pages, such as Ray's object store, split between the processes that
map them, so nothing is counted twice) summed over this process and all its
descendants (Ray's GCS, raylet, workers, actors). Reports the peak per length;
with bounded memory the peaks are about equal.

Usage::

    .venv/bin/python -m studies.batch_memory [--frames 40 240] [--size 1280x720]
        [--object-store-mb 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Tuple

import cv2
import numpy as np

from posekit.paths import ROOT  # noqa: E402

from posekit.apps.batch import run as batch  # noqa: E402



def tree_pss(root: int) -> Dict[int, Tuple[str, int]]:
    """``{pid: (command, PSS bytes)}`` of ``root`` and all its descendants (Linux /proc)."""
    children = defaultdict(list)
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                fields = open(f"/proc/{name}/stat").read().rsplit(")", 1)[1].split()
                children[int(fields[1])].append(int(name))
            except OSError:
                continue
    found, todo = {}, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            command = open(f"/proc/{pid}/cmdline").read().replace("\0", " ").strip()
            for line in open(f"/proc/{pid}/smaps_rollup"):
                if line.startswith("Pss:"):
                    found[pid] = (command, int(line.split()[1]) * 1024)
                    break
        except OSError:
            continue
    return found


def peak_during(run) -> Tuple[int, Dict[str, int]]:
    """Run ``run()`` while sampling; returns the peak total PSS and the peak per process
    (by command: Ray names its workers ``ray::Operator``)."""
    peak, per_process, done = [0], {}, [False]

    def sample() -> None:
        while not done[0]:
            found = tree_pss(os.getpid())
            peak[0] = max(peak[0], sum(v for _, v in found.values()))
            for pid, (command, value) in found.items():
                key = f"{command.split()[0][:48]} (pid {pid})"
                per_process[key] = max(per_process.get(key, 0), value)
            time.sleep(0.2)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        run()
    finally:
        done[0] = True
        thread.join()
    return peak[0], per_process


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[40, 240])
    parser.add_argument("--object-store-mb", type=int, default=batch.DEFAULT_OBJECT_STORE_MB)
    parser.add_argument("--size", default="1280x720", help="WIDTHxHEIGHT of the video")
    args = parser.parse_args(argv)
    width, height = map(int, args.size.split("x"))
    photo = cv2.resize(cv2.imread(str(ROOT / "images" / "zidane.jpg")), (width, height))
    batch.start_ray(num_cpus=2, object_store_mb=args.object_store_mb)
    idle = sum(v for _, v in tree_pss(os.getpid()).values())
    print(f"Ray started (object store {args.object_store_mb} MB), idle: {idle / 2**20:.0f} MB "
          "PSS (this process and Ray's)")
    with tempfile.TemporaryDirectory() as tmp:
        for frames in args.frames:
            video = Path(tmp) / f"v{frames}.avi"
            writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25,
                                     (width, height))
            for k in range(frames):
                writer.write(np.roll(photo, 4 * k, axis=1))
            writer.release()
            out = Path(tmp) / f"out{frames}"
            start = time.perf_counter()
            peak, per_process = peak_during(
                lambda: batch.main([str(video), "-o", str(out), "-q"]))
            seconds = time.perf_counter() - start
            print(f"{frames} frames {width}x{height}: peak {peak / 2**20:.0f} MB "
                  f"(+{(peak - idle) / 2**20:.0f} MB over idle Ray), {seconds:.1f} s")
            for key, value in sorted(per_process.items(), key=lambda kv: -kv[1])[:4]:
                print(f"    {value / 2**20:6.0f} MB  {key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
