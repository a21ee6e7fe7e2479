"""Time mobilenet_thin on int8 TFLite, float32 TFLite and TensorFlow, in one process.

Run from the project root (after ``make setup``)::

    python -m benchmarks.bench_int8 [--runs 7] [--threads N] [--json PATH]

For each input size (``images/zidane.jpg`` resized to 368x656, the demo's
368 px input height, and to 360x640, 640 px wide like a COCO image and the
issue's first probe, and ``images/bus.jpg`` at 1080x810) every runtime
gets the same input, calls interleaved round-robin (one call of each
runtime per round, ``--runs`` rounds after one warm-up round), so that a
noisy neighbour on the CPU slows all of them alike. Each call is timed
twice: wall clock and the process's CPU time (all threads; a neighbour
taking the cores does not inflate it). It prints one markdown table per
clock: median milliseconds, images per second and the throughput ratios
int8 / float32 TFLite, int8 / TensorFlow and float32 TFLite / TensorFlow;
then the mean absolute difference of the int8 maps from the float32 maps
(heatmaps and PAFs). Runtimes whose model is missing are left out. No
timing is asserted anywhere.

``--plain`` also builds, in a temporary folder, plain post-training
quantization of the same graph on the same calibration inputs (every layer
int8, no rewrite: the issue's first probe) and times it as ``plain_int8``,
so the speed of full int8 on this CPU is measured, not assumed (about 15 s
more for the conversion).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from posekit.paths import ROOT  # noqa: E402

from estimation.config import NUM_HEATMAPS  # noqa: E402
from posekit.networks.inference import infer, load_network  # noqa: E402

RUNTIMES = ("int8", "tflite", "tensorflow")


def inputs(image_dir: Path = ROOT / "images") -> Dict[str, np.ndarray]:
    """The benchmark inputs by label (BGR uint8)."""
    zidane = cv2.imread(str(image_dir / "zidane.jpg"))
    bus = cv2.imread(str(image_dir / "bus.jpg"))
    if zidane is None or bus is None:
        raise FileNotFoundError(f"images/zidane.jpg or images/bus.jpg missing in {image_dir}: "
                                "run `make setup`")
    return {
        "368x656 (zidane)": cv2.resize(zidane, (656, 368), interpolation=cv2.INTER_AREA),
        "360x640 (zidane)": cv2.resize(zidane, (640, 360), interpolation=cv2.INTER_AREA),
        "1080x810 (bus)": bus,
    }


def load_all(threads: Optional[int], plain_dir: Optional[Path] = None) -> Dict[str, object]:
    """Every runtime that loads, by name (a missing model is reported and skipped).

    With ``plain_dir``, plain post-training quantization is built there and
    loaded as ``plain_int8``.
    """
    networks = {}
    for runtime in RUNTIMES:
        try:
            networks[runtime] = load_network(runtime=runtime, num_threads=threads)
        except (FileNotFoundError, ValueError, ImportError) as exc:
            print(f"skipping {runtime}: {exc}", file=sys.stderr)
    if plain_dir is not None:
        from tools.int8.build import write_int8
        from posekit.networks.mobilenet_thin import DEFAULT_WEIGHTS

        plain = write_int8(DEFAULT_WEIGHTS, plain_dir / "graph_opt.plain.int8.tflite", plain=True)
        networks["plain_int8"] = load_network(weights=plain, runtime="int8", num_threads=threads)
    return networks


def bench(networks: Dict[str, object], images: Dict[str, np.ndarray],
          runs: int) -> Dict[str, Dict[str, Dict[str, List[float]]]]:
    """Seconds per call, ``{clock: {input label: {runtime: [seconds, ...]}}}``, interleaved.

    ``clock`` is ``"wall"`` or ``"cpu"`` (process CPU time, all threads).
    """
    times: Dict[str, Dict[str, Dict[str, List[float]]]] = {"wall": {}, "cpu": {}}
    for label, image in images.items():
        for clock in times.values():
            clock[label] = {name: [] for name in networks}
        for round_ in range(runs + 1):
            for name, network in networks.items():
                start, start_cpu = time.perf_counter(), time.process_time()
                infer(network, image)
                if round_:  # round 0 warms up (shape allocation, first-call set-up)
                    times["wall"][label][name].append(time.perf_counter() - start)
                    times["cpu"][label][name].append(time.process_time() - start_cpu)
    return times


def map_errors(networks: Dict[str, object],
               images: Dict[str, np.ndarray]) -> Dict[str, Dict[str, list]]:
    """Mean |int8 - float32| of heatmaps (18 parts) and PAFs, ``{int8 runtime: {input: [h, p]}}``."""
    if "tflite" not in networks:
        return {}
    errors: Dict[str, Dict[str, list]] = {}
    for name in ("int8", "plain_int8"):
        if name not in networks:
            continue
        errors[name] = {}
        for label, image in images.items():
            q = np.concatenate(infer(networks[name], image), axis=-1)
            f = np.concatenate(infer(networks["tflite"], image), axis=-1)
            diff = np.abs(q - f)
            errors[name][label] = [float(diff[..., :NUM_HEATMAPS - 1].mean()),
                                   float(diff[..., NUM_HEATMAPS:].mean())]
    return errors


def cpu_line() -> str:
    """One line naming this CPU, whether it has AVX-512 and VNNI, and what ``auto`` picks."""
    from posekit.networks.cpu import int8_pays, this_cpu

    cpu = this_cpu()
    avx512 = "yes" if "avx512f" in cpu.flags else "no"
    vnni = ", ".join(sorted(cpu.int8_flags)) or "no"
    pays, _ = int8_pays(cpu)
    return (f"CPU: {cpu.model or cpu.machine}, {os.cpu_count()} logical cores; AVX-512: {avx512}; "
            f"VNNI / int8 dot product: {vnni}; runtime auto takes int8 here: "
            f"{'yes' if pays else 'no'} (when the model passed its check)")


def table(times: Dict[str, Dict[str, List[float]]]) -> str:
    """Markdown table of medians and ratios."""
    names = list(next(iter(times.values())))
    head = ["input"] + [f"{n} ms" for n in names] + [f"{n} img/s" for n in names]
    ratios = [("int8", "tflite"), ("plain_int8", "tflite"), ("int8", "tensorflow"),
              ("tflite", "tensorflow")]
    ratios = [r for r in ratios if r[0] in names and r[1] in names]
    head += [f"{a} / {b}" for a, b in ratios]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" + "---:|" * (len(head) - 1)]
    for label, per in times.items():
        med = {n: statistics.median(per[n]) for n in names}
        cells = [label] + [f"{1000 * med[n]:.1f}" for n in names]
        cells += [f"{1 / med[n]:.2f}" for n in names]
        cells += [f"{med[b] / med[a]:.2f}x" for a, b in ratios]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_int8",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed rounds per input")
    parser.add_argument("--threads", type=int, default=None,
                        help="TFLite threads (default: every core this process may use)")
    parser.add_argument("--json", type=Path, default=None, help="also write all times here")
    parser.add_argument("--plain", action="store_true",
                        help="also build and time plain post-training quantization (plain_int8)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    try:
        images = inputs()
    except FileNotFoundError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench_int8.") as tmp:
        networks = load_all(args.threads, Path(tmp) if args.plain else None)
        if not networks:
            print(f"{parser.prog}: error: no runtime could be loaded", file=sys.stderr)
            return 2
        times = bench(networks, images, args.runs)
        errors = map_errors(networks, images)
    print(cpu_line())
    for clock, title in (("wall", "wall clock"), ("cpu", "process CPU time (all threads)")):
        print(f"\n{title}:\n{table(times[clock])}")
    for name, per_input in errors.items():
        for label, (heat, paf) in per_input.items():
            print(f"{name} {label}: mean |{name} - float32| heatmaps {heat:.4f}, PAFs {paf:.4f}")
    if args.json:
        args.json.write_text(json.dumps({"seconds": times, "map_mae": errors}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
