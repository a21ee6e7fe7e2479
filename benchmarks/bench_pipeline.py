"""Time every stage of the pipeline against the handout's plain algorithms.

Run from the project root::

    python -m benchmarks.bench_pipeline [--dev-dir ../shared/eval/coco_val2017_dev]
                                        [--limit N] [--runs 10] [--repeat 5]
                                        [--json PATH] [--synthetic-only]

It prints markdown tables (ready to paste into the README):

1. **Network**: warm median milliseconds per call and images per second of
   ``mobilenet_thin`` on each runtime (TensorFlow and, when converted, TFLite),
   in this one process, calls interleaved, on ``images/bus.jpg`` (1080x810)
   and on ``images/zidane.jpg`` resized to 368x656 (368 px input height); the
   cost of a TFLite input-shape change; the largest difference between the
   runtimes' maps.
2. **Stages**: per stage (peaks, connections, grouping) the median
   milliseconds of the handout reference (``estimation.handout``),
   of the lab path (``get_coordinates`` / ``get_connections`` / ``estimate``)
   and of the best decoder (``posekit.decode.decoder.decode``, its ``timings``),
   and the ratios reference / ours. On real maps (the default network's
   output for ``images/*.jpg`` and, when ``--dev-dir`` exists, the dev-set
   images, read by path, maps kept in memory only; median over images) and on
   synthetic crowds of 5, 20 and 50 people (``tools.synthetic.crowd``;
   median over ``--repeat`` runs). Each stage of the reference and the lab
   path gets the same input: the lab path's output of the previous stage.
3. **Demo pipeline**: frames per second of network + best decoder + drawing
   (``estimation.renderers.draw``) at 368 px input height, per runtime.

``--json PATH`` also writes every median (and the per-image network times).
``--synthetic-only`` skips everything that needs the network (used by the
smoke test). No timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from estimation.handout import (  # noqa: E402
    estimate_rows_reference,
    get_connections_reference,
    get_coordinates_reference,
    merge_reference,
)
from estimation.config import PoseConfig, get_default_configuration  # noqa: E402
from estimation.connections import get_connections  # noqa: E402
from estimation.coordinates import get_coordinates  # noqa: E402
from posekit.decode.decoder import decode  # noqa: E402
from estimation.estimators import estimate  # noqa: E402
from tools.synthetic import crowd, render_maps  # noqa: E402

from posekit.paths import ROOT  # noqa: E402
DEFAULT_DEV_DIR = ROOT.parent / "shared" / "eval" / "coco_val2017_dev"
STAGES = ("peaks", "connections", "grouping")
DECODERS = ("reference", "lab", "best")
DEFAULT_PEOPLE = (5, 20, 50)
#: Input size of the 368-px-height runs: zidane.jpg (1280x720) resized to 656x368.
SMALL_SIZE = (656, 368)  # (width, height) for cv2.resize

Maps = Tuple[np.ndarray, np.ndarray]


def median_ms(seconds: Sequence[float]) -> float:
    """Median of ``seconds`` in milliseconds (NaN when empty)."""
    return 1000.0 * statistics.median(seconds) if len(seconds) else float("nan")


# --------------------------------------------------------------------------- stages

def time_stages(heatmaps: np.ndarray, pafs: np.ndarray,
                config: Optional[PoseConfig] = None) -> Dict[str, Dict[str, float]]:
    """Seconds per stage of the three decoders on one pair of maps.

    The reference and the lab path are fed the same input at each stage (the
    lab path's output of the previous stage); the best decoder runs as a whole
    and reports its own stage times.

    Returns:
        ``{decoder: {stage: seconds}}`` for decoders ``reference``, ``lab``, ``best``.
    """
    config = config or get_default_configuration()
    out: Dict[str, Dict[str, float]] = {d: {} for d in DECODERS}

    def clock(decoder: str, stage: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = fn()
        out[decoder][stage] = time.perf_counter() - start
        return result

    clock("reference", "peaks", lambda: get_coordinates_reference(config, heatmaps))
    coords = clock("lab", "peaks", lambda: get_coordinates(config, heatmaps))
    clock("reference", "connections", lambda: get_connections_reference(config, coords, pafs))
    connections = clock("lab", "connections", lambda: get_connections(config, coords, pafs))
    clock("reference", "grouping",
          lambda: merge_reference(estimate_rows_reference(config, connections)))
    clock("lab", "grouping", lambda: estimate(config, connections))
    timings: Dict[str, float] = {}
    decode(heatmaps, pafs, config=config, timings=timings)
    out["best"] = {stage: timings[stage] for stage in STAGES}
    return out


def stage_medians(samples: Sequence[Dict[str, Dict[str, float]]]) -> Dict[str, Dict[str, float]]:
    """Median milliseconds per decoder and stage (plus ``total``) over many :func:`time_stages`."""
    result: Dict[str, Dict[str, float]] = {}
    for decoder in DECODERS:
        per_stage = {stage: median_ms([s[decoder][stage] for s in samples]) for stage in STAGES}
        per_stage["total"] = median_ms([sum(s[decoder].values()) for s in samples])
        result[decoder] = per_stage
    return result


def synthetic_scene(n_people: int, seed: int = 0) -> Maps:
    """Ideal maps of a crowd of ``n_people`` (``tools.synthetic.crowd``)."""
    people, shape = crowd(n_people, np.random.default_rng(seed))
    return render_maps(people, shape)


def bench_maps(maps: Sequence[Maps], repeat: int = 1) -> Dict[str, Dict[str, float]]:
    """Stage medians over every pair of maps, each timed ``repeat`` times."""
    config = get_default_configuration()
    samples = [time_stages(h, p, config) for h, p in maps for _ in range(repeat)]
    return stage_medians(samples)


# --------------------------------------------------------------------------- network

def load_networks(runtimes: Sequence[str] = ("tensorflow", "tflite")) -> Dict[str, Any]:
    """The default network on each runtime that can be loaded (others are reported and skipped)."""
    from posekit.networks.inference import load_network

    networks: Dict[str, Any] = {}
    for runtime in runtimes:
        try:
            networks[runtime] = load_network(runtime=runtime)
        except (OSError, ValueError, ImportError) as exc:
            print(f"bench_pipeline: runtime {runtime} skipped: {exc}", file=sys.stderr)
    return networks


def time_networks(networks: Dict[str, Any], image: np.ndarray, runs: int = 10,
                  warmup: int = 2) -> Dict[str, List[float]]:
    """Seconds per call of each network on ``image``, warm, calls interleaved across runtimes."""
    from posekit.networks.inference import infer

    for net in networks.values():
        for _ in range(warmup):
            infer(net, image)
    times: Dict[str, List[float]] = {name: [] for name in networks}
    for _ in range(runs):
        for name, net in networks.items():
            start = time.perf_counter()
            infer(net, image)
            times[name].append(time.perf_counter() - start)
    return times


def max_map_difference(networks: Dict[str, Any], images: Sequence[np.ndarray]) -> float:
    """Largest |difference| between the runtimes' heatmaps and PAFs over ``images``."""
    from posekit.networks.inference import infer

    if len(networks) < 2:
        return float("nan")
    worst = 0.0
    for image in images:
        outputs = [infer(net, image) for net in networks.values()]
        for other in outputs[1:]:
            for a, b in zip(outputs[0], other):
                worst = max(worst, float(np.abs(a - b).max()))
    return worst


def shape_change_cost(network: Any, image: np.ndarray, other: np.ndarray,
                      runs: int = 3) -> Dict[str, float]:
    """What switching the input shape costs a TFLite network (median seconds).

    Alternates ``other`` and ``image`` with one interpreter kept (so each
    switch sets up a shape, as a shape not seen before does); ``resize`` is
    the time the model spent in ``resize_tensor_input`` + ``allocate_tensors``
    for the switch to ``image``, ``first_call_extra`` the first call on
    ``image`` after the switch minus a repeat call on ``image`` (noisy: two
    timings' difference).
    """
    from posekit.networks.inference import infer

    extra, resize = [], []
    kept, network.model.max_shapes = network.model.max_shapes, 1
    try:
        return _alternate(network, image, other, runs, extra, resize)
    finally:
        network.model.max_shapes = kept


def _alternate(network: Any, image: np.ndarray, other: np.ndarray, runs: int,
               extra: List[float], resize: List[float]) -> Dict[str, float]:
    """The loop of :func:`shape_change_cost`."""
    from posekit.networks.inference import infer

    for _ in range(runs):
        infer(network, other)
        before = network.model.reshape_seconds
        start = time.perf_counter()
        infer(network, image)
        switched = time.perf_counter() - start
        resize.append(network.model.reshape_seconds - before)
        start = time.perf_counter()
        infer(network, image)
        extra.append(switched - (time.perf_counter() - start))
    return {"resize": statistics.median(resize), "first_call_extra": statistics.median(extra)}


def network_maps(network: Any, paths: Sequence[Path]) -> Tuple[List[Maps], List[float]]:
    """Maps of each readable image (in memory only) and the network seconds per image."""
    import cv2

    from posekit.networks.inference import infer

    maps: List[Maps] = []
    seconds: List[float] = []
    for path in paths:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            print(f"bench_pipeline: cannot read {path}, skipped", file=sys.stderr)
            continue
        start = time.perf_counter()
        maps.append(infer(network, image))
        seconds.append(time.perf_counter() - start)
    return maps, seconds


def pipeline_times(network: Any, image: np.ndarray, runs: int = 10,
                   warmup: int = 2) -> Dict[str, float]:
    """Median milliseconds of network, best decoder, drawing and their sum per frame."""
    from estimation.renderers import draw
    from posekit.networks.inference import STRIDE, infer

    config = get_default_configuration()
    parts: Dict[str, List[float]] = {"network": [], "decode": [], "draw": [], "total": []}
    for k in range(warmup + runs):
        t0 = time.perf_counter()
        heatmaps, pafs = infer(network, image)
        t1 = time.perf_counter()
        coords, skeletons = decode(heatmaps, pafs, config=config)
        t2 = time.perf_counter()
        draw(config, image, coords, skeletons, resize_fac=STRIDE)
        t3 = time.perf_counter()
        if k >= warmup:
            for key, value in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t3 - t0)):
                parts[key].append(value)
    result = {key: median_ms(values) for key, values in parts.items()}
    result["fps"] = 1000.0 / result["total"]
    return result


# --------------------------------------------------------------------------- tables

def _fmt(value: float, digits: int = 1) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def _ratio(num: float, den: float) -> str:
    if not (np.isfinite(num) and np.isfinite(den)) or den <= 0:
        return "-"
    return f"{num / den:.1f}x"


def stage_table(datasets: Dict[str, Dict[str, Dict[str, float]]]) -> str:
    """Markdown table: one row per dataset and stage (and total)."""
    lines = ["| maps | stage | handout reference (ms) | lab path (ms) | best decoder (ms) "
             "| reference / lab | reference / best |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for label, med in datasets.items():
        for stage in (*STAGES, "total"):
            ref, lab, best = (med[d][stage] for d in DECODERS)
            lines.append(f"| {label} | {stage} | {_fmt(ref)} | {_fmt(lab, 2)} | {_fmt(best, 2)} "
                         f"| {_ratio(ref, lab)} | {_ratio(ref, best)} |")
    return "\n".join(lines)


def network_table(rows: Dict[str, Dict[str, float]], baseline: str = "tensorflow") -> str:
    """Markdown table of network medians: ``rows[input label][runtime] = ms``."""
    runtimes = sorted({r for per_input in rows.values() for r in per_input},
                      key=lambda r: (r != baseline, r))
    head = "| input | " + " | ".join(f"{r} ms | {r} img/s" for r in runtimes)
    fast = [r for r in runtimes if r != baseline]
    head += "".join(f" | {r} speed-up" for r in fast) + " |"
    lines = [head, "|---|" + "---:|" * (2 * len(runtimes) + len(fast))]
    for label, per_input in rows.items():
        cells = []
        for r in runtimes:
            ms = per_input.get(r, float("nan"))
            cells += [_fmt(ms), _fmt(1000.0 / ms, 2) if np.isfinite(ms) else "-"]
        cells += [_ratio(per_input.get(baseline, float("nan")), per_input.get(r, float("nan")))
                  for r in fast]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def pipeline_table(rows: Dict[str, Dict[str, float]], label: str) -> str:
    """Markdown table of the demo pipeline per runtime."""
    lines = [f"| runtime ({label}) | network ms | best decoder ms | drawing ms | total ms | fps |",
             "|---|---:|---:|---:|---:|---:|"]
    for runtime, med in rows.items():
        lines.append(f"| {runtime} | {_fmt(med['network'])} | {_fmt(med['decode'], 2)} | "
                     f"{_fmt(med['draw'], 2)} | {_fmt(med['total'])} | {_fmt(med['fps'], 2)} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- main

def run(dev_dir: Optional[Path] = DEFAULT_DEV_DIR, limit: Optional[int] = None, runs: int = 10,
        repeat: int = 5, people: Sequence[int] = DEFAULT_PEOPLE, synthetic_only: bool = False,
        log: Callable[[str], None] = lambda msg: print(msg, file=sys.stderr, flush=True),
        ) -> Tuple[Dict[str, Any], str]:
    """Run the benchmark.

    Args:
        dev_dir: COCO dev-set folder (its ``images/`` is read); skipped when missing or None.
        limit: at most this many images from ``images/`` and from the dev set.
        runs: timed calls per runtime and input for the network and the demo pipeline.
        repeat: timed runs per synthetic scene.
        people: crowd sizes of the synthetic scenes.
        synthetic_only: skip the network, the real maps and the demo pipeline.
        log: progress sink.

    Returns:
        ``(results, markdown)``: every median as a JSON-able dict, and the tables.
    """
    results: Dict[str, Any] = {"stages": {}}
    sections: List[str] = []
    datasets: Dict[str, Dict[str, Dict[str, float]]] = {}
    if not synthetic_only:
        import cv2

        networks = load_networks()
        if not networks:
            raise RuntimeError("no runtime could load mobilenet_thin: run `make setup`")
        bus = cv2.imread(str(ROOT / "images" / "bus.jpg"))
        zidane = cv2.imread(str(ROOT / "images" / "zidane.jpg"))
        if bus is None or zidane is None:
            raise RuntimeError("images/bus.jpg or images/zidane.jpg missing: run `make setup`")
        small = cv2.resize(zidane, SMALL_SIZE, interpolation=cv2.INTER_AREA)
        inputs = {f"bus.jpg {bus.shape[0]}x{bus.shape[1]}": bus,
                  f"zidane.jpg resized {small.shape[0]}x{small.shape[1]}": small}
        network_ms: Dict[str, Dict[str, float]] = {}
        for label, image in inputs.items():
            log(f"network: {label}, {runs} runs per runtime ({', '.join(networks)})")
            times = time_networks(networks, image, runs)
            network_ms[label] = {name: median_ms(t) for name, t in times.items()}
        results["network_ms"] = network_ms
        results["max_map_difference"] = max_map_difference(networks, [bus, zidane])
        fast = "tflite" if "tflite" in networks else next(iter(networks))
        results["fast_runtime"] = fast
        results["threads"] = getattr(networks[fast].model, "num_threads", None)
        if fast == "tflite":
            cost = shape_change_cost(networks[fast], small, bus)
            results["tflite_shape_change_ms"] = {k: 1000.0 * v for k, v in cost.items()}
        sections.append("Network (`mobilenet_thin`, warm median of "
                        f"{runs} calls per runtime, same process):\n\n"
                        + network_table(network_ms)
                        + f"\n\nmax |difference| of the maps between runtimes (bus.jpg, "
                          f"zidane.jpg): {results['max_map_difference']:.2e}"
                        + (f"; a TFLite input-shape change (bus.jpg -> 368 px) costs "
                           f"{results['tflite_shape_change_ms']['resize']:.1f} ms of resize + "
                           f"allocate, first call after it "
                           f"{results['tflite_shape_change_ms']['first_call_extra']:+.0f} ms "
                           "vs a repeat call"
                           if "tflite_shape_change_ms" in results else ""))

        groups = {"images/*.jpg": sorted((ROOT / "images").glob("*.jpg"))[:limit]}
        if dev_dir is not None and (Path(dev_dir) / "images").is_dir():
            groups["dev set"] = sorted((Path(dev_dir) / "images").glob("*.jpg"))[:limit]
        elif dev_dir is not None:
            log(f"dev set {dev_dir} not found: skipped")
        results["network_ms_per_image"] = {}
        for label, paths in groups.items():
            log(f"maps: {label}, {len(paths)} images ({fast})")
            maps, seconds = network_maps(networks[fast], paths)
            results["network_ms_per_image"][label] = median_ms(seconds)
            log(f"stages: {label}, {len(maps)} maps")
            datasets[f"{label} ({len(maps)})"] = bench_maps(maps)

        log(f"demo pipeline at {small.shape[0]} px height")
        pipeline = {name: pipeline_times(net, small, runs) for name, net in networks.items()}
        results["pipeline"] = pipeline
        pipeline_md = pipeline_table(pipeline, f"{small.shape[0]}x{small.shape[1]} input")
    for n in people:
        log(f"stages: synthetic crowd of {n}, {repeat} runs")
        maps = synthetic_scene(n)
        h, w = maps[0].shape[:2]
        datasets[f"synthetic {n} people ({h}x{w} cells)"] = bench_maps([maps], repeat)
    results["stages"] = datasets
    sections.append("Decoding stages (median ms; reference = the handout's loops in "
                    "`estimation/handout.py`):\n\n" + stage_table(datasets))
    if not synthetic_only:
        sections.append("Demo pipeline (network + best decoder + drawing), median of "
                        f"{runs} frames:\n\n" + pipeline_md)
    return results, "\n\n".join(sections)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev-dir", type=Path, default=DEFAULT_DEV_DIR,
                        help="COCO dev-set folder with images/ (skipped when missing)")
    parser.add_argument("--limit", type=int, default=None,
                        help="at most this many images per image folder")
    parser.add_argument("--runs", type=int, default=10,
                        help="timed network / pipeline calls per runtime (default 10)")
    parser.add_argument("--repeat", type=int, default=5,
                        help="timed runs per synthetic scene (default 5)")
    parser.add_argument("--people", default=",".join(map(str, DEFAULT_PEOPLE)),
                        help="comma-separated crowd sizes of the synthetic scenes")
    parser.add_argument("--synthetic-only", action="store_true",
                        help="only the synthetic scenes (no network)")
    parser.add_argument("--json", type=Path, default=None, help="also write the medians here")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    if args.runs < 1 or args.repeat < 1:
        parser.error("--runs and --repeat must be at least 1")
    try:
        people = [int(p) for p in args.people.split(",") if p.strip()]
    except ValueError:
        parser.error(f"--people must be comma-separated integers, got {args.people!r}")
    try:
        results, markdown = run(args.dev_dir, args.limit, args.runs, args.repeat, people,
                                args.synthetic_only)
    except RuntimeError as exc:
        print(f"bench_pipeline: error: {exc}", file=sys.stderr)
        return 1
    print(markdown)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2, allow_nan=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
