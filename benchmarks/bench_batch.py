"""Frames per second of ``python -m posekit.apps.batch`` against the demo's folder loop.

Both commands run as a user runs them (subprocesses, default settings) on the
same N dev images (symbolic links in a temporary folder: the dev set is read
by path, never copied), interleaved (demo, batch, each extra configuration,
then again) so the machine's load hits them alike. Reported per command, as
medians over the rounds:

* whole command: N / wall time, start-up included (the demo's imports and
  network load; Ray's start, the actors' start);
* throughput: what a long run gets once started. The demo's is its own
  summary line (images / seconds of its folder loop, after the network is
  loaded). The batch command's is (frames - 1) / (seconds - start-up), from
  its manifest, start-up being the time until the first result came back.
  Target: batch >= 0.9x the demo.

Usage::

    .venv/bin/python -m benchmarks.bench_batch --dev-dir ../shared/eval/coco_val2017_dev \
        [--images 50] [--rounds 3] [--extra "--actors 2 --threads 1 --num-cpus 3"] [--json out]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

from posekit.paths import ROOT  # noqa: E402


def link_images(source: Path, target: Path, count: int) -> None:
    """Links to the first ``count`` images of ``source`` (sorted by name) in ``target``."""
    files = sorted(p for p in source.iterdir() if p.suffix.lower() in (".jpg", ".png"))[:count]
    if len(files) < count:
        raise SystemExit(f"{source} has only {len(files)} images")
    target.mkdir(parents=True)
    for path in files:
        (target / path.name).symlink_to(path.resolve())


def run(command: List[str]) -> tuple:
    """``(wall seconds, stdout)`` of a command that must succeed."""
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return seconds, proc.stdout


def demo_rate(stdout: str) -> float:
    """Images per second from the demo's summary line ``N images in T s (R images/s)``."""
    match = re.search(r"(\d+) images in ([\d.]+) s", stdout)
    if not match:
        raise SystemExit(f"no summary line in the demo's output:\n{stdout[-1000:]}")
    return int(match.group(1)) / float(match.group(2))


def batch_rate(out: Path) -> float:
    """Frames per second after start-up, from the batch command's manifest."""
    summary = json.loads((out / "manifest.json").read_text())["summary"]
    return (summary["frames"] - 1) / (summary["seconds"] - summary["startup_seconds"])


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dev-dir", type=Path, required=True, help="the COCO dev set folder")
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--extra", action="append", default=[],
                        help="another batch configuration (its extra flags), measured too")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    python = sys.executable
    configs = {"batch": []}
    configs.update({f"batch {extra}": shlex.split(extra) for extra in args.extra})
    names = ["demo", *configs]
    walls: Dict[str, List[float]] = {name: [] for name in names}
    rates: Dict[str, List[float]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        source = tmp / "in"
        link_images(args.dev_dir / "images", source, args.images)
        count = 0
        for _ in range(args.rounds):
            for name in names:
                count += 1
                out = tmp / f"out{count}"
                if name == "demo":
                    wall, stdout = run([python, "demo_image.py", str(source), "-o", str(out)])
                    rate = demo_rate(stdout)
                else:
                    wall, _ = run([python, "-m", "posekit.apps.batch.run", str(source), "-o", str(out),
                                   *configs[name]])
                    rate = batch_rate(out)
                walls[name].append(wall)
                rates[name].append(rate)
                print(f"{name:<44} {wall:6.1f} s, {rate:5.2f} img/s once started",
                      file=sys.stderr, flush=True)
    n = args.images
    demo = statistics.median(rates["demo"])
    print(f"\n{n} dev images, medians of {args.rounds} interleaved rounds, "
          f"{os.cpu_count()} CPUs\n")
    print("| command | wall s | whole command img/s | img/s once started | vs demo |")
    print("|---|---:|---:|---:|---:|")
    for name in names:
        wall, rate = statistics.median(walls[name]), statistics.median(rates[name])
        print(f"| {name} | {wall:.1f} | {n / wall:.2f} | {rate:.2f} | {rate / demo:.2f}x |")
    if args.json:
        args.json.write_text(json.dumps({"images": n, "walls": walls, "rates": rates}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
