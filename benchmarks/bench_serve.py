"""Requests per second, latency and memory of ``posekit serve`` on loopback: one process and
Ray Serve with 2 replicas, under 1, 4 and 16 concurrent clients.

The server runs as a user runs it (``python -m posekit.apps.serve``, a subprocess on
127.0.0.1; ``--ray --replicas 2`` starts its own local Ray); the clients are threads of this
process, each with its own keep-alive connection, posting 640x480 JPEGs made in memory from
the dev set's first images (read by path, never copied) round robin, for ``--seconds`` per
level or ``--max-requests``, whichever comes first. Per level: requests/s (answered 200),
latency p50 / p99 of the 200s, errors other than 503, 503s; the server's memory (RSS of its
whole process tree: Ray's processes too) before the first level and after the last.

Usage::

    .venv/bin/python -m benchmarks.bench_serve [--dev-dir ../shared/eval/coco_val2017_dev]
        [--seconds 30] [--clients 1 4 16] [--modes process ray] [--json out.json]

The clients share the machine with the server (on 2 cores they take a share of the CPU);
run it on a quiet machine for figures to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List

import cv2
import httpx

from posekit.paths import ROOT

DEV = ROOT.parent / "shared" / "eval" / "coco_val2017_dev"


def dev_jpegs(folder: Path, count: int) -> List[bytes]:
    """The first ``count`` dev images (sorted by name), resized to 640x480, as JPEG bytes."""
    images = folder / "images" if (folder / "images").is_dir() else folder
    paths = sorted(p for p in images.iterdir() if p.suffix.lower() in (".jpg", ".png"))[:count]
    if not paths:
        raise SystemExit(f"no images in {images}")
    return [cv2.imencode(".jpg", cv2.resize(cv2.imread(str(p)), (640, 480)),
                         [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes() for p in paths]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children() -> Dict[int, List[int]]:
    """Parent pid -> child pids, from /proc (Linux)."""
    tree: Dict[int, List[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(parent, []).append(int(entry.name))
    return tree


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, MB (from /proc)."""
    tree, todo, total = _children(), [pid], 0
    while todo:
        current = todo.pop()
        todo += tree.get(current, [])
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total / 1e6


def start_server(mode: str, port: int, queue: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "posekit.apps.serve", "--port", str(port),
               "--queue", str(queue), "-q"]
    if mode == "ray":
        command += ["--ray", "--replicas", "2"]
    env = dict(os.environ, PYTHONPATH=str(ROOT), RAY_ADDRESS="local")
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    url = f"http://127.0.0.1:{port}"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the {mode} server ended ({proc.returncode})")
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    stop_server(proc)
    raise SystemExit(f"the {mode} server was not ready within 300 s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def level(url: str, bodies: List[bytes], clients: int, seconds: float,
          max_requests: int) -> Dict[str, float]:
    """One load level: ``clients`` threads posting for ``seconds`` (or ``max_requests``)."""
    latencies: List[float] = []
    counts = {"ok": 0, "503": 0, "errors": 0}
    lock = threading.Lock()
    end = time.monotonic() + seconds
    budget = [max_requests]

    def client(k: int) -> None:
        with httpx.Client(timeout=60) as session:
            n = k
            while time.monotonic() < end:
                with lock:
                    if budget[0] <= 0:
                        return
                    budget[0] -= 1
                start = time.perf_counter()
                try:
                    status = session.post(f"{url}/v1/pose", content=bodies[n % len(bodies)],
                                          headers={"Content-Type": "image/jpeg"}).status_code
                except httpx.HTTPError:
                    status = -1
                took = time.perf_counter() - start
                n += clients
                with lock:
                    if status == 200:
                        counts["ok"] += 1
                        latencies.append(took)
                    elif status == 503:
                        counts["503"] += 1
                    else:
                        counts["errors"] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 \
            if latencies else float("nan")

    return {"clients": clients, "seconds": round(wall, 1), "rps": round(counts["ok"] / wall, 2),
            "p50_ms": round(pct(0.50), 1), "p99_ms": round(pct(0.99), 1),
            "errors": counts["errors"], "503": counts["503"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev-dir", type=Path, default=DEV)
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--max-requests", type=int, default=5000, help="per level")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--modes", nargs="+", choices=("process", "ray"),
                        default=["process", "ray"])
    parser.add_argument("--queue", type=int, default=8, help="the server's --queue")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    bodies = dev_jpegs(args.dev_dir, args.images)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), "unknown CPU")
    print(f"# {cpu}, {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f} at start; "
          f"{len(bodies)} dev images at 640x480")
    rows = []
    for mode in args.modes:
        port = free_port()
        proc = start_server(mode, port, args.queue)
        try:
            url = f"http://127.0.0.1:{port}"
            httpx.post(f"{url}/v1/pose", content=bodies[0], timeout=60)      # warm-up
            before = tree_rss_mb(proc.pid)
            for clients in args.clients:
                row = {"mode": mode, **level(url, bodies, clients, args.seconds,
                                             args.max_requests)}
                rows.append(row)
            after = tree_rss_mb(proc.pid)
            for row in rows:
                if row["mode"] == mode:
                    row.update(rss_start_mb=round(before), rss_end_mb=round(after))
        finally:
            stop_server(proc)
    print("| server | clients | req/s | p50 ms | p99 ms | errors | 503s | memory start -> end MB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['mode']} | {r['clients']} | {r['rps']} | {r['p50_ms']} | {r['p99_ms']} | "
              f"{r['errors']} | {r['503']} | {r['rss_start_mb']} -> {r['rss_end_mb']} |")
    print(f"# load average {os.getloadavg()[0]:.2f} at the end")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
