"""Measure the completion of found people (posekit.decode.completion) on the COCO dev set.

Run from the project root::

    python -m benchmarks.bench_completion --annotations person_keypoints.json --maps-cache DIR

``DIR`` holds ``<image_id>.npz`` maps (``heatmaps``, ``pafs``, ``out_scale``)
made like ``posekit.apps.evaluate``'s (single scale). Printed (markdown): the
typical limb lengths fitted on the people the best decoder finds without
completion (log length = log typical + log person scale, alternating
medians; ``posekit.decode.completion.LIMB_LENGTHS`` holds them rounded), then
pycocotools AP without and with completion and with each search setting
varied one at a time (the module's constants, restored afterwards). No
timing: the evaluation command prints the post-processing median.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Dict, List

import numpy as np

from posekit.decode import completion
from estimation.config import get_default_configuration
from posekit.decode.decoder import DecoderParams, decode
from posekit.io.export import people_to_coco
from tools.fit_rescore import coco_ap

#: Rows: (label, decoder params changes, completion constants changes).
VARIANTS = (
    ("no completion", {"complete_people": False}, {}),
    ("completion (the evaluation command's defaults)", {}, {}),
    ("search radius 0.2 x limb", {}, {"POINTED_RADIUS": 0.2}),
    ("search radius 0.5 x limb", {}, {"POINTED_RADIUS": 0.5}),
    ("search radius 0.8 x limb", {}, {"POINTED_RADIUS": 0.8}),
    ("no PAF direction (disc 1.2 x limb around the filled slot)", {}, {"MIN_PAF_NORM": 1e9}),
    ("PAF needs length 0.2", {}, {"MIN_PAF_NORM": 0.2}),
    ("undirected disc 0.6 x limb", {}, {"UNPOINTED_RADIUS": 0.6}),
    ("undirected disc 2.0 x limb", {}, {"UNPOINTED_RADIUS": 2.0}),
    ("smallest disc radius 1.0 cell", {}, {"MIN_RADIUS": 1.0}),
    ("smallest disc radius 2.5 cells", {}, {"MIN_RADIUS": 2.5}),
)


def limb_lengths(maps: Dict[int, tuple]) -> np.ndarray:
    """Typical length of each limb type (cells, person of median scale)."""
    cfg = get_default_configuration()
    slot_a, slot_b = cfg.limb_arrays[:2]
    params = DecoderParams(complete_people=False)
    rows = []
    for hm, pf, _ in maps.values():
        coords, people = decode(hm, pf, params=params)
        table = {int(p[3]): p[:2] for peaks in coords.values() for p in peaks}
        for row in people[:, :18].astype(int):
            xy = np.array([table[i] if i >= 0 else (np.nan, np.nan) for i in row])
            rows.append(np.log(np.maximum(np.hypot(*(xy[slot_a] - xy[slot_b]).T), 0.5)))
    logs = np.array(rows)
    typical = np.nanmean(logs, axis=0)
    for _ in range(20):
        scale = np.nanmedian(logs - typical, axis=1)
        typical = np.nanmedian(logs - scale[:, None], axis=0)
    return np.exp(typical)


def evaluate(maps: Dict[int, tuple], args: argparse.Namespace, params: DecoderParams,
             constants: Dict[str, float]) -> np.ndarray:
    """pycocotools' 10 keypoint statistics with ``constants`` set."""
    saved = {name: getattr(completion, name) for name in constants}
    try:
        for name, value in constants.items():
            setattr(completion, name, value)
        results: List[dict] = []
        for i, (hm, pf, scale) in maps.items():
            coords, skeletons = decode(hm, pf, params=params)
            results += people_to_coco(coords, skeletons, i, scale=1.0 / scale)
    finally:
        for name, value in saved.items():
            setattr(completion, name, value)
    return coco_ap(args.annotations, results, list(maps))


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--annotations", type=Path, required=True)
    parser.add_argument("--maps-cache", type=Path, required=True)
    args = parser.parse_args()
    ids = sorted(im["id"] for im in json.loads(args.annotations.read_text())["images"])
    maps = {}
    for i in ids:
        with np.load(args.maps_cache / f"{i}.npz") as npz:
            maps[i] = npz["heatmaps"], npz["pafs"], float(npz["out_scale"])
    print("typical limb lengths (cells):", np.round(limb_lengths(maps), 2).tolist())
    print("\n| variant | AP | AP50 | AP75 | APm | APl |\n|---|---:|---:|---:|---:|---:|")
    for label, changes, constants in VARIANTS:
        # completion on, as the evaluation command runs it (the library's default is off)
        stats = evaluate(maps, args, replace(DecoderParams(complete_people=True), **changes),
                         constants)
        print(f"| {label} | {stats[0]:.4f} | {stats[1]:.4f} | {stats[2]:.4f} | {stats[3]:.4f} "
              f"| {stats[4]:.4f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
