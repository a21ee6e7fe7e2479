"""Compare the sub-cell refinements (posekit.decode.refine) on the COCO dev set.

Run from the project root::

    python -m benchmarks.bench_refine --annotations person_keypoints.json --maps-cache DIR

``DIR`` holds ``<image_id>.npz`` maps (``heatmaps``, ``pafs``, ``out_scale``)
made like ``posekit.apps.evaluate``'s (single scale). For each refinement the best
decoder runs with everything else at its defaults; every detection is paired
with the annotated person of highest OKS (OKS > 0.5), and the error of each
keypoint both mark visible is divided by that person's scale (square root of
its area). Printed (markdown): pycocotools AP per refinement, then the median
normalised error per keypoint type and per person size (medium: area
32^2-96^2 px, large: above).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from posekit.decode.decoder import DecoderParams, decode
from posekit.io.export import COCO_ORDER, people_to_coco
from posekit.decode.refine import REFINERS
from tools.fit_rescore import SIGMAS, coco_ap


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--annotations", type=Path, required=True)
    parser.add_argument("--maps-cache", type=Path, required=True)
    parser.add_argument("--refiners", nargs="+", default=["none", "parabola", "log_parabola",
                                                           "taylor"], choices=sorted(REFINERS))
    args = parser.parse_args()
    data = json.loads(args.annotations.read_text())
    ids = sorted(im["id"] for im in data["images"])
    truths = {i: [] for i in ids}
    for ann in data["annotations"]:
        if not ann.get("iscrowd", 0) and ann.get("num_keypoints", 0) > 0:
            truths[ann["image_id"]].append((np.array(ann["keypoints"], float).reshape(17, 3),
                                            float(ann["area"])))
    maps = {}
    for i in ids:
        with np.load(args.maps_cache / f"{i}.npz") as npz:
            maps[i] = npz["heatmaps"], npz["pafs"], float(npz["out_scale"])
    names = [part.name for part in COCO_ORDER]
    table = {}
    for name in args.refiners:
        params = replace(DecoderParams(), refinement=name)
        results, errors = [], {"medium": [], "large": []}
        for i in ids:
            hm, pf, scale = maps[i]
            coords, skeletons = decode(hm, pf, params=params)
            found = people_to_coco(coords, skeletons, i, scale=1.0 / scale)
            results += found
            for person in found:
                kp = np.array(person["keypoints"], float).reshape(17, 3)
                best, err = 0.5, None
                for truth, area in truths[i]:
                    seen = truth[:, 2] > 0
                    d2 = ((kp[:, :2] - truth[:, :2]) ** 2).sum(1)
                    oks = np.exp(-d2 / (2 * SIGMAS) ** 2 / (area + 1e-9) / 2)[seen].mean()
                    if oks > best:
                        both = seen & (kp[:, 2] > 0)
                        best, err = oks, (np.where(both, np.sqrt(d2 / area), np.nan), area)
                if err is not None and err[1] >= 32 ** 2:
                    errors["large" if err[1] > 96 ** 2 else "medium"].append(err[0])
        stats = coco_ap(args.annotations, results, ids)
        table[name] = (stats, {size: np.array(e) for size, e in errors.items()})
    print("| refinement | AP | APm | APl |\n|---|---:|---:|---:|")
    for name, (stats, _) in table.items():
        print(f"| {name} | {stats[0]:.4f} | {stats[3]:.4f} | {stats[4]:.4f} |")
    print("\nmedian error / person scale (x 100), matched keypoints (OKS > 0.5)\n")
    print("| keypoint | size | " + " | ".join(table) + " |")
    print("|---|---|" + "---:|" * len(table))
    for size in ("medium", "large"):
        for k, part in enumerate(names + ["all"]):
            cells = []
            for name, (_, errors) in table.items():
                e = errors[size]
                col = e.reshape(-1) if part == "all" else (e[:, k] if len(e) else e)
                cells.append(f"{100 * np.nanmedian(col):.2f}" if np.isfinite(col).any() else "-")
            print(f"| {part} | {size} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
