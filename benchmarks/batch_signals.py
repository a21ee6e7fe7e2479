"""The batch command interrupted during Ray's start-up: exit status, time to exit, what is left.

Run from the project root (Linux: reads ``/proc``)::

    python -m benchmarks.batch_signals [--image images/zidane.jpg]
        [--stages gcs_server raylet ray::DashboardA ray::IDLE "ray::MapWorker("]
        [--signals SIGTERM SIGINT] [--linger 10]

For each stage and signal, runs ``python -m posekit.apps.batch IMAGE -o TMP -q`` in a
session of its own, sends the signal once a process of that name runs in the
session (the stages of a local Ray's start-up: its GCS, the raylet, Ray's
agents, the first workers while the driver connects, the network actor), and
prints the exit status, the seconds from the signal to the exit, the files in
the output folder, and the session's processes left at the exit and
``--linger`` seconds later (then killed: they are this script's). Issue 31:
before, SIGTERM exited 15 with no manifest, Ray's agents were left running,
and a signal while the driver connected crashed the exit (SIGSEGV / SIGABRT).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict

from posekit.paths import ROOT


def session_processes(sid: int, since: int) -> Dict[int, str]:
    """Live processes of session ``sid`` started at or after ``since`` (clock ticks after
    boot, ``/proc/PID/stat``'s field 22; a session id is a pid, reused once that process is
    gone, hence the start time): {pid: name}."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = (Path("/proc") / name / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[3]) == sid and int(fields[19]) >= since and fields[0] != "Z":
            found[int(name)] = stat[stat.index("(") + 1:stat.rindex(")")]
    return found


def start_time(pid: int) -> int:
    """When process ``pid`` started (clock ticks after boot)."""
    return int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[19])


def one(image: Path, signame: str, stage: str, linger: float) -> str:
    """One interrupted run; its line of results."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        proc = subprocess.Popen([sys.executable, "-m", "posekit.apps.batch.run", str(image), "-o",
                                 str(out), "-q"], cwd=ROOT, start_new_session=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        since = start_time(proc.pid)
        began = time.monotonic()
        while stage not in session_processes(proc.pid, since).values():
            if proc.poll() is not None:
                break
            time.sleep(0.01)
        sent = time.monotonic()
        proc.send_signal(getattr(signal, signame))
        proc.communicate()
        ended = time.monotonic()
        at_exit = session_processes(proc.pid, since)
        time.sleep(linger)
        later = session_processes(proc.pid, since)
        for pid in later:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        files = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    return (f"{signame:7s} at {stage:16s} (after {sent - began:4.1f} s): exit "
            f"{proc.returncode:4d}, {ended - sent:4.1f} s after the signal; files {files}; "
            f"left at the exit {sorted(at_exit.values())}, {linger:g} s later "
            f"{sorted(later.values())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", type=Path, default=ROOT / "images" / "zidane.jpg")
    parser.add_argument("--stages", nargs="+", default=["gcs_server", "raylet",
                                                        "ray::DashboardA", "ray::IDLE",
                                                        "ray::MapWorker("])
    parser.add_argument("--signals", nargs="+", default=["SIGTERM", "SIGINT"])
    parser.add_argument("--linger", type=float, default=10.0)
    args = parser.parse_args()
    for stage in args.stages:
        for signame in args.signals:
            print(one(args.image.resolve(), signame, stage, args.linger), flush=True)


if __name__ == "__main__":
    main()
