"""The demo command on a live stream: processed frames/s, dropped frames, latency, CPU and memory.

Run from the project root::

    python -m benchmarks.bench_live [--seconds 30] [--runtimes int8 tflite] [--still] [--full-size]

A 640x360 clip made from ``images/zidane.jpg`` (panning 2 px per frame there and back;
``--still``: still) is served live at 30 frames/s on 127.0.0.1 by the bundled ffmpeg
(:class:`benchmarks.loopback.LoopbackStream`, HTTP MPEG-TS). For each runtime the demo
command reads it for ``--seconds`` seconds of processing, as a user runs it: tracking on,
the drawn H.264 video (``-o live.mp4``) and the table written, JSON lines on stdout::

    posekit http://127.0.0.1:PORT -o live.mp4 --table live.csv --jsonl - --duration S --runtime R

Printed (markdown), per runtime, from the run's own figures (its last JSON line):
processed frames/s, frames dropped (and their share of the frames the source sent
meanwhile), latency p50 / p95 from capture to result, the CPU the command used (cores:
user + system time over wall time; and CPU ms per processed frame, the figure that
depends least on other load), and its resident memory (sampled every 0.5 s from
/proc): at 10 % of the run, at its end and at its peak. A long run (``--seconds 600``)
shows whether memory stays flat. The CPU is named from /proc/cpuinfo with the load
average at the start, since these figures depend on what else runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List

from benchmarks.loopback import FPS, LoopbackStream, make_clip
from posekit.paths import ROOT


def cpu_name() -> str:
    """The model name of the first CPU in /proc/cpuinfo, with the count of logical CPUs."""
    try:
        with open("/proc/cpuinfo") as handle:
            names = [line.split(":", 1)[1].strip() for line in handle
                     if line.startswith("model name")]
    except OSError:
        names = []
    flags = ""
    try:
        with open("/proc/cpuinfo") as handle:
            text = handle.read()
        flags = " (AVX-512 VNNI)" if "avx512_vnni" in text else \
            " (AVX VNNI)" if "avx_vnni" in text else " (no VNNI)"
    except OSError:
        pass
    return f"{names[0] if names else 'unknown CPU'} x {os.cpu_count()}{flags}"


def rss_mb(pid: int) -> float:
    """Resident memory of a process, MB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process (its threads included)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def run_one(url: str, runtime: str, seconds: float, folder: Path,
            full_size: bool = False) -> Dict[str, object]:
    """One live run of the demo command (with ``--full-size`` when ``full_size``); its
    figures."""
    command = [sys.executable, str(ROOT / "demo_image.py"), url, "-o",
               str(folder / f"live_{runtime}.mp4"), "--table", str(folder / f"live_{runtime}.csv"),
               "--jsonl", "-", "--duration", str(seconds), "--runtime", runtime, "-q",
               *(["--full-size"] if full_size else [])]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    last: List[str] = []
    first_line: List[float] = []

    def consume() -> None:
        for line in process.stdout:
            if not first_line:
                first_line.append(time.monotonic())
            last[:] = [line]

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    samples: List[tuple] = []                     # (seconds since the first frame, MB)
    cpu_at_first = None
    while process.poll() is None:
        if first_line:
            if cpu_at_first is None:
                cpu_at_first = (cpu_seconds(process.pid), first_line[0])
            samples.append((time.monotonic() - first_line[0], rss_mb(process.pid)))
            cpu_now = (cpu_seconds(process.pid), time.monotonic())
        time.sleep(0.5)
    reader.join(timeout=30)
    errors = process.stderr.read()
    if process.returncode != 0 or not last:
        raise RuntimeError(f"the {runtime} run failed ({process.returncode}): {errors[-500:]}")
    live = json.loads(last[0])["live"]
    cores = (cpu_now[0] - cpu_at_first[0]) / (cpu_now[1] - cpu_at_first[1]) \
        if cpu_at_first and len(samples) > 1 else float("nan")
    early = [mb for t, mb in samples if t >= 0.1 * seconds][:1] or [samples[0][1]]
    sent = live["source_frame"] + 1
    return {"runtime": runtime + (" --full-size" if full_size else ""), "fps": live["fps"],
            "dropped": live["dropped"],
            "dropped_share": live["dropped"] / sent if sent else 0.0,
            "p50": live["latency_p50"] * 1000, "p95": live["latency_p95"] * 1000,
            "cores": cores, "rss_early": early[0], "rss_end": samples[-1][1],
            "rss_peak": max(mb for _, mb in samples)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0,
                        help="seconds of processing per runtime (default 30)")
    parser.add_argument("--runtimes", nargs="+", default=["int8", "tflite"],
                        help="--runtime values to run (default: int8 tflite)")
    parser.add_argument("--still", action="store_true", help="a still clip, no pan")
    parser.add_argument("--full-size", action="store_true",
                        help="also run each runtime with --full-size (every frame at full "
                             "size), alternating with the default")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"CPU: {cpu_name()}; load average at start {load[0]:.2f} {load[1]:.2f} "
          f"{load[2]:.2f}")
    print(f"source: 640x360 at {FPS} frames/s, HTTP MPEG-TS on 127.0.0.1 (bundled ffmpeg, "
          f"-re); {args.seconds:g} s of processing per runtime; tracking, drawing, H.264 and "
          "the table included\n")
    print("| runtime | processed frames/s | dropped (share) | latency p50 / p95 ms "
          "| CPU cores (ms per frame) | RSS MB at 10 % / end / peak |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clip = make_clip(folder / "clip.mkv", frames=120, step=0 if args.still else 2.0)
        runs = [(runtime, full) for runtime in args.runtimes
                for full in ((False, True) if args.full_size else (False,))]
        for runtime, full in runs:
            with LoopbackStream(clip) as server:
                row = run_one(server.url, runtime, args.seconds, folder, full)
            print(f"| {row['runtime']} | {row['fps']:.2f} | {row['dropped']} "
                  f"({row['dropped_share']:.0%}) | {row['p50']:.0f} / {row['p95']:.0f} "
                  f"| {row['cores']:.2f} ({1000 * row['cores'] / row['fps']:.0f}) "
                  f"| {row['rss_early']:.0f} / {row['rss_end']:.0f} / "
                  f"{row['rss_peak']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
