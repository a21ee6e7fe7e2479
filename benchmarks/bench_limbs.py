"""Limbs taken from a neighbour (issue 35, item 3): how often a found limb is wrong, and dev AP of the check.

Works on network maps cached once per dev image (``--cache DIR`` of
``<image_id>.npz`` files, written by ``--write-cache``: ``hm``/``pf`` the
full-size maps, ``shm``/``spf`` the scale-aware second maps where the
image is large enough to halve, and ``<image_id>_acc.npz``: ``ahm``/``apf``
/``ascale`` the accurate mode's maps), so decoder sweeps cost no network::

    python -m benchmarks.bench_limbs --images DIR --annotations FILE --cache build/limbs_maps --write-cache
    python -m benchmarks.bench_limbs --annotations FILE --cache build/limbs_maps --table
    python -m benchmarks.bench_limbs --annotations FILE --cache build/limbs_maps --ap [--set f=v ...]
    python -m benchmarks.bench_limbs --annotations FILE --cache build/limbs_maps --cost

``--table`` prints, for every limb of every person the best decoder finds on
the full-size maps (no completion, no limb check), its plausibility features
(``posekit.decode.plausible``; ``near``: the nearer end's
distance to another person's keypoint of the same or mirrored slot whose
limb there is stronger) binned, against the ground truth: *right*
(both ends within OKS keypoint similarity 0.5 of the same annotated person's
keypoints), *neighbour* (of two different people), *far* (an end not near
its person's annotated keypoint), *unknown* (an end unannotated). ``--ap``
prints AP, APm, APl on all images and on halves A (even positions sorted by
id, the tuning half) and B (odd) for the scale-aware default and the
accurate mode, as ``posekit-eval`` computes them (completion on), with
``DecoderParams`` fields overridden by ``--set``. ``--cost`` times the
scale-aware decode (completion on, as the evaluation runs it) with the limb
check off and at its defaults, interleaved image by image, each first in turn.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

#: COCO's per-keypoint OKS constants in our slot order (the neck: a shoulder's).
SIGMAS = np.array([.026, .079, .079, .072, .062, .079, .072, .062, .107, .087, .089,
                   .107, .087, .089, .025, .025, .035, .035])


def truth(annotations: dict) -> Dict[int, List[tuple]]:
    """Per image id: (18, 2) keypoints in our slots (NaN unlabelled) and the area, per person."""
    from posekit.io.export import COCO_ORDER

    out: Dict[int, List[tuple]] = {}
    for ann in annotations["annotations"]:
        if ann.get("iscrowd") or not ann.get("num_keypoints"):
            continue
        kp = np.asarray(ann["keypoints"], np.float64).reshape(17, 3)
        xy = np.full((18, 2), np.nan)
        for c, slot in enumerate(COCO_ORDER):
            if kp[c, 2] > 0:
                xy[int(slot)] = kp[c, :2]
        if kp[5, 2] > 0 and kp[6, 2] > 0:
            xy[1] = (kp[5, :2] + kp[6, :2]) / 2
        out.setdefault(ann["image_id"], []).append((xy, float(ann["area"])))
    return out


def label_limbs(points: np.ndarray, people: List[tuple], config) -> np.ndarray:
    """(K, L) labels of each found limb: 0 right, 1 neighbour, 2 far, 3 unknown, -1 no limb.

    Args:
        points: (K, 18, 2) found keypoints in image pixels (NaN empty).
        people: the image's annotated people (:func:`truth`).
        config: pose configuration.
    """
    slot_a, slot_b = config.limb_arrays[:2]
    k_people = len(points)
    labels = np.full((k_people, len(slot_a)), -1)
    if not k_people:
        return labels
    if not people:
        found = np.isfinite(points[..., 0])
        labels[found[:, slot_a] & found[:, slot_b]] = 3
        return labels
    gt = np.stack([p[0] for p in people])                      # (G, 18, 2)
    area = np.array([p[1] for p in people])
    d2 = ((points[:, None] - gt[None]) ** 2).sum(-1)          # (K, G, 18)
    ks = np.exp(-d2 / (2 * np.maximum(area, 1.0)[None, :, None] * (2 * SIGMAS) ** 2))
    ks = np.nan_to_num(ks, nan=-1.0)
    owner = np.where(ks.max(1) >= 0.5, ks.argmax(1), -1)      # (K, 18)
    for k in range(k_people):
        owned = owner[k][owner[k] >= 0]
        home = np.bincount(owned).argmax() if len(owned) else -1
        for limb, (sa, sb) in enumerate(zip(slot_a, slot_b)):
            if not (np.isfinite(points[k, sa, 0]) and np.isfinite(points[k, sb, 0])):
                continue
            oa, ob = owner[k, sa], owner[k, sb]
            if oa >= 0 and ob >= 0:
                labels[k, limb] = 0 if oa == ob else 1
            elif home >= 0 and any(owner[k, s] != home and np.isfinite(gt[home, s, 0])
                                   for s in (sa, sb)):
                labels[k, limb] = 2
            else:
                labels[k, limb] = 3
    return labels


def load_maps(cache: Path, image_id: int) -> dict:
    """The cached maps of one image (both files merged)."""
    maps = dict(np.load(cache / f"{image_id}.npz"))
    extra = cache / f"{image_id}_acc.npz"
    if extra.exists():
        maps.update(np.load(extra))
    return maps


def write_cache(images: Path, annotations: Path, cache: Path, runtime: str = "auto") -> int:
    """The ``--write-cache`` step: every dev image's maps, as ``posekit-eval`` makes them."""
    from posekit.io.coco import load_annotations
    from posekit.io.images import read_image
    from posekit.networks.accurate import small_pass_maps
    from posekit.networks.inference import infer_multiscale
    from posekit.pipeline import load_pose_network

    cache.mkdir(parents=True, exist_ok=True)
    network = load_pose_network("mobilenet_thin", None, runtime=runtime)
    for entry in sorted(load_annotations(annotations)["images"], key=lambda e: e["id"]):
        base, accurate = cache / f"{entry['id']}.npz", cache / f"{entry['id']}_acc.npz"
        if base.exists() and accurate.exists():
            continue
        image = read_image(images / entry["file_name"])
        heatmaps, pafs, scale = infer_multiscale(network, image, (1.0,), False)
        maps = {"hm": heatmaps, "pf": pafs, "scale": scale}
        if min(image.shape[:2]) * 0.5 >= 16:          # posekit-eval's condition
            maps["shm"], maps["spf"], _ = small_pass_maps(network, image, heatmaps, pafs, 0.5)
        np.savez(base, **maps)
        ahm, apf, ascale = infer_multiscale(network, image, (0.75, 1.0, 1.5), True)
        np.savez(accurate, ahm=ahm, apf=apf, ascale=ascale)
    return 0


def cost(annotations: Path, cache: Path) -> int:
    """The ``--cost`` measurement: post-processing with the limb check off and on."""
    import statistics
    import time

    from posekit.decode.decoder import DecoderParams
    from posekit.decode.scales import decode_passes
    from posekit.io.coco import load_annotations

    on = DecoderParams(complete_people=True)
    off = dataclasses.replace(on, limb_max_length_ratio=float("inf"), limb_min_length_ratio=0.0,
                              limb_min_paf=float("-inf"), limb_near=0.0)
    seconds: Dict[str, list] = {"off": [], "on": []}
    entries = sorted(load_annotations(annotations)["images"], key=lambda e: e["id"])
    for position, entry in enumerate(entries):
        maps = load_maps(cache, entry["id"])
        second = (maps["shm"], maps["spf"], (1.0, 1.0)) if "shm" in maps else None
        runs = (("off", off), ("on", on))
        # interleaved (load hits both), and in turn first (the first run of an image
        # pays for bringing its maps into the CPU's caches)
        for name, params in runs if position % 2 == 0 else runs[::-1]:
            start = time.perf_counter()
            decode_passes(maps["hm"], maps["pf"], lambda: second, params)
            seconds[name].append(time.perf_counter() - start)
    print(f"{len(seconds['on'])} images, scale-aware decode with completion: limb check off "
          f"median {1000 * statistics.median(seconds['off']):.2f} ms (mean "
          f"{1000 * statistics.mean(seconds['off']):.2f}), on median "
          f"{1000 * statistics.median(seconds['on']):.2f} ms (mean "
          f"{1000 * statistics.mean(seconds['on']):.2f}); ratio of sums "
          f"{sum(seconds['on']) / sum(seconds['off']):.3f}")
    return 0


def table(annotations: Path, cache: Path) -> int:
    """The ``--table`` measurement (see the module's docstring)."""
    from posekit.decode.decoder import DecoderParams, decode
    from posekit.decode.plausible import limb_features
    from posekit.decode.scales import row_points
    from posekit.io.coco import load_annotations
    from posekit.lab.config import NUM_PARTS, get_default_configuration

    config = get_default_configuration()
    data = load_annotations(annotations)
    gt = truth(data)
    unchecked = DecoderParams(limb_max_length_ratio=float("inf"))      # the limbs as found
    feats: Dict[str, list] = {"length_ratio": [], "paf_min": [], "near": [], "label": [],
                              "kind": []}
    for entry in sorted(data["images"], key=lambda e: e["id"]):
        maps = load_maps(cache, entry["id"])
        coords, rows = decode(maps["hm"], maps["pf"], unchecked)
        if not len(rows):
            continue
        cells = row_points(coords, rows)
        pixels = cells * 8 + 3.5             # cell centre of a stride-8 grid, scale 1
        slots = rows[:, :NUM_PARTS].astype(np.int64)
        xy = np.full((int(slots.max()) + 1, 2), np.nan)
        xy[slots[slots >= 0]] = cells[slots >= 0]
        f = limb_features(slots, xy, maps["pf"], config)
        labels = label_limbs(pixels, gt.get(entry["id"], []), config)
        has = labels >= 0
        feats["length_ratio"].append(f["length_ratio"][has])
        feats["paf_min"].append(f["paf_min"][has])
        feats["near"].append(np.fmin(np.where(f["rival_a"], f["near_a"], np.inf),
                                     np.where(f["rival_b"], f["near_b"], np.inf))[has])
        feats["label"].append(labels[has])
        feats["kind"].append(np.broadcast_to(np.arange(labels.shape[1]), labels.shape)[has])
    cat = {k: np.concatenate(v) for k, v in feats.items()}
    label = cat["label"]
    print(f"{len(label)} limbs: right {np.mean(label == 0):.3f}, neighbour "
          f"{np.mean(label == 1):.3f}, far {np.mean(label == 2):.3f}, unknown "
          f"{np.mean(label == 3):.3f}")
    bins = {"length_ratio": [0, 0.5, 0.7, 1.4, 1.8, 2.2, 3, np.inf],
            "paf_min": [-np.inf, -0.2, 0, 0.05, 0.1, 0.2, 0.4, np.inf],
            "near": [0, 0.1, 0.2, 0.35, 0.5, 1, np.inf]}
    print("| feature | bin | limbs | right | neighbour | far | unknown | wrong among known |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, edges in bins.items():
        value = cat[name]
        groups = [("NaN", ~np.isfinite(value) & ~np.isinf(value))] if name == "length_ratio" \
            else []
        groups += [(f"{lo:g} .. {hi:g}", (value >= lo) & (value < hi))
                   for lo, hi in zip(edges[:-1], edges[1:])]
        if name == "near":
            groups.append(("none (no stronger same / mirrored keypoint)", np.isinf(value)))
        if name == "length_ratio":
            limit = DecoderParams().limb_max_length_ratio
            groups.append((f"> {limit:g} (cut by default)", value > limit))
        for text, sel in groups:
            if not sel.any():
                continue
            lab = label[sel]
            known = lab[lab != 3]
            wrong = np.mean(known > 0) if len(known) else float("nan")
            print(f"| {name} | {text} | {sel.sum()} | {np.mean(lab == 0):.3f} | "
                  f"{np.mean(lab == 1):.3f} | {np.mean(lab == 2):.3f} | {np.mean(lab == 3):.3f} | "
                  f"{wrong:.3f} |")
    return 0


def ap(annotations: Path, cache: Path, overrides: Dict[str, float],
       modes: Sequence[str] = ("scale-aware", "accurate")) -> int:
    """The ``--ap`` measurement (see the module's docstring)."""
    from posekit.decode.confidence import calibration
    from posekit.decode.decoder import DecoderParams, decode
    from posekit.decode.scales import decode_passes
    from posekit.io.coco import coco_stats, load_annotations
    from posekit.io.export import people_to_coco

    params = DecoderParams(complete_people=True, **overrides)
    entries = sorted(load_annotations(annotations)["images"], key=lambda e: e["id"])
    ids = [e["id"] for e in entries]
    confidence = calibration("best", "mobilenet_thin", "int8")
    for mode in modes:
        results: List[dict] = []
        for image_id in ids:
            maps = load_maps(cache, image_id)
            if mode == "accurate":
                coords, rows = decode(maps["ahm"], maps["apf"], params)
                scale = float(maps["ascale"])
            else:
                second = (maps["shm"], maps["spf"], (1.0, 1.0)) if "shm" in maps else None
                coords, rows = decode_passes(maps["hm"], maps["pf"], lambda: second, params)
                scale = 1.0
            results += people_to_coco(coords, rows, image_id, scale=1.0 / scale,
                                      confidence=confidence)
        for name, subset in (("all", ids), ("A", ids[0::2]), ("B", ids[1::2])):
            chosen = set(subset)
            stats = coco_stats(annotations, [r for r in results if r["image_id"] in chosen],
                               subset)
            print(f"{mode:12s} {name:3s} AP {stats['AP']:.4f} APm {stats['APm']:.4f} "
                  f"APl {stats['APl']:.4f}", flush=True)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=Path, help="the dev images (for --write-cache)")
    parser.add_argument("--annotations", type=Path, required=True)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--write-cache", action="store_true",
                        help="run the network and cache the maps first (needs --images)")
    parser.add_argument("--table", action="store_true")
    parser.add_argument("--cost", action="store_true",
                        help="time the scale-aware decode with the limb check off and on")
    parser.add_argument("--ap", action="store_true")
    parser.add_argument("--modes", nargs="+", default=["scale-aware", "accurate"])
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                        help="DecoderParams fields for --ap")
    args = parser.parse_args(argv)
    from posekit.decode.params import DecoderParams

    types = {f.name: f.type for f in dataclasses.fields(DecoderParams)}
    overrides = {}
    for item in args.set:
        name, _, value = item.partition("=")
        if name not in types:
            parser.error(f"--set: no DecoderParams field {name!r}")
        overrides[name] = int(value) if types[name] in (int, "int") else \
            (value == "True") if types[name] in (bool, "bool") else float(value)
    if args.write_cache:
        if args.images is None:
            parser.error("--write-cache needs --images")
        write_cache(args.images, args.annotations, args.cache)
    if args.table:
        table(args.annotations, args.cache)
    if args.ap:
        ap(args.annotations, args.cache, overrides, args.modes)
    if args.cost:
        cost(args.annotations, args.cache)
    return 0


if __name__ == "__main__":
    sys.exit(main())
