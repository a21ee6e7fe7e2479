"""The study behind merge.py's order rule: penalty sweep, halves, fusion labels, ceiling, time.

Run from the project root, on cached network maps (``<image id>.npz`` with
``heatmaps``, ``pafs``, ``out_scale``, as ``benchmarks.bench_merge
--maps-cache`` reads them)::

    python -m studies.merge_study --maps-cache DIR
        [--dev-dir ../shared/eval/coco_val2017_dev] [--previous OLD_MERGE.py] [--limit N]

It prints, for the kit's rows as printed and with the CMU row score
(``estimation.handout.ROW_SCORES``): dev AP of our merge for several
``COMPETITOR_PENALTY`` values; ours and the greedy reference on even and odd
image ids; the fusion pass's linked pairs labelled with ground-truth people;
the AP of grouping by those labels (a ceiling of the kit's rows); and, with
``--previous``, the grouping time of that merge.py file against ours and the
greedy reference (best of 7 interleaved rounds). Figures: ``docs/records/merge.md``.

Labels: a peak belongs to the ground-truth person whose keypoint of its type
is nearest in OKS, if that OKS exceeds 0.5 (the neck is the midpoint of the
shoulders); a person of merge.py takes the label most of its peaks have.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from benchmarks.bench_merge import DEFAULT_DEV_DIR, KITS
from estimation.config import get_default_configuration
from posekit.decode.decoder import kit_connections
from posekit.io.export import COCO_ORDER, people_to_coco
from estimation.handout import (estimate_rows_reference, get_coordinates_reference,
                                merge_greedy_reference)
from estimation.renderers import cell_to_pixel
from posekit.io.coco import coco_stats, load_annotations

# The module, not the function ``estimation`` exports under the same name.
merge_module = importlib.import_module("estimation.merge")

#: COCO's per-keypoint OKS constants (the neck takes the shoulders').
SIGMAS = {"nose": .026, "eye": .025, "ear": .035, "shoulder": .079, "elbow": .072,
          "wrist": .062, "hip": .107, "knee": .087, "ankle": .089, "neck": .079}
PENALTIES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.6, 1.0)


def load_images(dev_dir: Path, maps_cache: Path, limit: Optional[int]) -> Dict[int, dict]:
    """Per image id: coords, out_scale, the kit's rows per row score, peak labels."""
    data = load_annotations(dev_dir / "person_keypoints.json")
    cfg = get_default_configuration()
    truth: Dict[int, list] = {}
    for ann in data["annotations"]:
        if not ann.get("iscrowd") and ann.get("num_keypoints", 0):
            truth.setdefault(ann["image_id"], []).append(ann)
    images = {}
    for entry in sorted(data["images"], key=lambda e: e["id"])[:limit]:
        path = Path(maps_cache) / f"{entry['id']}.npz"
        if not path.is_file():
            raise ValueError(f"--maps-cache has no {path.name} for image {entry['id']}")
        with np.load(path) as maps:
            heatmaps, pafs, scale = maps["heatmaps"], maps["pafs"], float(maps["out_scale"])
        coords = get_coordinates_reference(cfg, heatmaps)
        connections = kit_connections(cfg, coords, pafs)
        images[entry["id"]] = {
            "coords": coords, "scale": scale,
            "rows": {kit: estimate_rows_reference(cfg, connections, kit) for kit in KITS},
            "labels": label_peaks(coords, scale, truth.get(entry["id"], []))}
    return images


def label_peaks(coords: dict, scale: float, people: List[dict]) -> Dict[int, int]:
    """``{peak id: index of its ground-truth person, or -1}``."""
    points = []
    for ann in people:
        kps = np.asarray(ann["keypoints"], float).reshape(17, 3)
        named = {part.name: kps[j, :2] for j, part in enumerate(COCO_ORDER) if kps[j, 2] > 0}
        if "left_shoulder" in named and "right_shoulder" in named:
            named["neck"] = (named["left_shoulder"] + named["right_shoulder"]) / 2
        points.append((named, max(float(ann["area"]), 1.0)))
    labels = {}
    for name, peaks in coords.items():
        sigma = next(v for k, v in SIGMAS.items() if k in name)
        for x, y, _, pid in peaks:
            pixel = np.array([(cell_to_pixel(x, 8) + 0.5) * scale - 0.5,
                              (cell_to_pixel(y, 8) + 0.5) * scale - 0.5])
            best, best_oks = -1, 0.5
            for g, (named, area) in enumerate(points):
                if name in named:
                    squared = ((named[name] - pixel) ** 2).sum()
                    oks = np.exp(-squared / (2 * area * (2 * sigma) ** 2))
                    if oks > best_oks:
                        best, best_oks = g, oks
            labels[int(pid)] = best
    return labels


def dev_ap(images: Dict[int, dict], annotations: Path, kit: str,
           merge_of: Callable[[int, np.ndarray], np.ndarray],
           ids: Optional[Sequence[int]] = None) -> float:
    """Keypoint AP of ``merge_of(image id, rows)`` over ``ids`` (default: all)."""
    ids = sorted(images) if ids is None else list(ids)
    results: List[dict] = []
    for image_id in ids:
        image = images[image_id]
        skeletons = merge_of(image_id, image["rows"][kit])
        results += people_to_coco(image["coords"], skeletons, image_id,
                                  scale=1.0 / image["scale"])
    return coco_stats(annotations, results, ids)["AP"]


def oracle_merge(rows: np.ndarray, labels: Dict[int, int], min_num_body_parts: int = 4,
                 min_score: float = 0.4) -> np.ndarray:
    """Rows grouped by ground-truth labels; scores summed as merge.py does."""
    people: Dict[int, list] = {}
    for row in rows[np.argsort(-rows[:, 18], kind="stable")]:
        slots = np.flatnonzero(row[:18] >= 0)
        owners = {labels.get(int(i), -1) for i in row[slots]}
        if len(owners) != 1 or -1 in owners:
            continue
        person = people.setdefault(owners.pop(), [-np.ones(18), 0.0])
        if any(person[0][s] >= 0 and person[0][s] != row[s] for s in slots):
            continue
        person[0][slots] = row[slots]
        person[1] += row[18]
    out = [np.concatenate([ids, [score, (ids >= 0).sum()]]) for ids, score in people.values()
           if (ids >= 0).sum() >= max(min_num_body_parts, 1)
           and score / (ids >= 0).sum() >= min_score]
    return np.array(out).reshape(-1, 20)


def fusion_pairs(rows: np.ndarray, labels: Dict[int, int]) -> Dict[str, List[int]]:
    """Linked pairs of the fusion pass by conflicts: ``[same person, different people]``."""
    counts = {"1": [0, 0], "2+": [0, 0]}
    probe = merge_module._fuse_linked

    def major(slots: Dict[int, int]) -> int:
        found = [labels.get(i, -1) for i in slots.values() if labels.get(i, -1) >= 0]
        return max(set(found), key=found.count) if found else -1

    def counting(group, evidence, scores):
        links = set()
        for _, row in evidence:
            owners = sorted({group.owner[i] for i in row.values() if i in group.owner})
            if len(owners) == 2:
                links.add(tuple(owners))
        for p, q in links:
            conflicts = merge_module._conflicts(group.slots[p], group.slots[q])
            a, b = major(group.slots[p]), major(group.slots[q])
            if conflicts and a >= 0 and b >= 0:
                counts["1" if conflicts == 1 else "2+"][a != b] += 1
        probe(group, evidence, scores)

    with _patched(merge_module, "_fuse_linked", counting):
        merge_module.group_rows(rows)
    return counts


@contextlib.contextmanager
def _patched(module, name: str, value):
    old = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, old)


def grouping_ms(images: Dict[int, dict], kit: str, merges: Dict[str, Callable]) -> Dict[str, float]:
    """Mean ms per image of each merge, best of 7 interleaved rounds."""
    rows = [image["rows"][kit] for image in images.values()]
    best = {name: float("inf") for name in merges}
    for _ in range(7):
        for name, fn in merges.items():
            start = time.perf_counter()
            for r in rows:
                fn(r)
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: 1000 * seconds / max(len(rows), 1) for name, seconds in best.items()}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m studies.merge_study",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--maps-cache", type=Path, required=True, help="<image id>.npz maps")
    parser.add_argument("--dev-dir", type=Path, default=DEFAULT_DEV_DIR,
                        help="COCO dev set (person_keypoints.json is read)")
    parser.add_argument("--previous", type=Path, default=None,
                        help="a previous merge.py to time against ours")
    parser.add_argument("--limit", type=int, default=None, help="only the first N images")
    args = parser.parse_args(argv)
    annotations = args.dev_dir / "person_keypoints.json"
    try:
        images = load_images(args.dev_dir, args.maps_cache, args.limit)
    except (ValueError, OSError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    ours = lambda _, rows: merge_module.merge(rows)  # noqa: E731
    greedy = lambda _, rows: merge_greedy_reference(rows)  # noqa: E731
    even = [i for i in images if i % 2 == 0]
    odd = [i for i in images if i % 2]
    for kit in KITS:
        print(f"## rows: {kit}")
        sweep = []
        for penalty in PENALTIES:
            with _patched(merge_module, "COMPETITOR_PENALTY", penalty):
                sweep.append(f"{penalty:g}: {dev_ap(images, annotations, kit, ours):.4f}")
        print("penalty sweep (AP):", ", ".join(sweep))
        for name, fn in (("ours", ours), ("greedy", greedy)):
            print(f"{name}: AP all {dev_ap(images, annotations, kit, fn):.4f}, even ids "
                  f"{dev_ap(images, annotations, kit, fn, even):.4f}, odd ids "
                  f"{dev_ap(images, annotations, kit, fn, odd):.4f}")
        pairs = {"1": [0, 0], "2+": [0, 0]}
        for image in images.values():
            for key, (same, other) in fusion_pairs(image["rows"][kit], image["labels"]).items():
                pairs[key][0] += same
                pairs[key][1] += other
        print(f"fusion pairs, same / different person: 1 conflict {pairs['1'][0]} / "
              f"{pairs['1'][1]}, 2 or more {pairs['2+'][0]} / {pairs['2+'][1]}")
        ceiling = dev_ap(images, annotations, kit,
                         lambda i, rows: oracle_merge(rows, images[i]["labels"]))
        print(f"ceiling (grouping by ground-truth labels): AP {ceiling:.4f}")
        if args.previous:
            spec = importlib.util.spec_from_file_location("previous_merge", args.previous)
            previous = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(previous)
            times = grouping_ms(images, kit, {"ours": merge_module.merge,
                                              "previous": previous.merge,
                                              "greedy": merge_greedy_reference})
            print("grouping ms / image (mean, best of 7): " + ", ".join(
                f"{k} {v:.3f}" for k, v in times.items())
                + f"; ours / previous {times['ours'] / times['previous']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
