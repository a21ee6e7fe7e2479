"""Fit the learned person score (estimation/rescore_weights.json) and report it out of fold.

Run from the project root::

    python tools/fit_rescore.py --images DIR --annotations person_keypoints.json \\
        [--maps-cache DIR] [--folds 5] [--hidden 16] [--seed 0] [--write]

Every image is decoded by the best decoder (single scale, the maps of
``posekit.apps.evaluate``: ``infer_multiscale(network, image, (1.0,), False)``,
float32 TFLite, or read from ``--maps-cache`` where ``<image_id>.npz`` holds
``heatmaps``, ``pafs`` and ``out_scale`` made that way). Each person found
gets its rescoring features and, as target, its best OKS with a ground-truth
person of the image (pycocotools' formula and sigmas). A small network
(``posekit.decode.rescore.Rescorer``) is fitted by full-batch Adam on the
cross-entropy with the OKS (seeded, fixed epochs).

Printed: the AP of the heuristic score, and the AP with the learned score
(and with the heuristic score times it: ``person_score="combined"``) out of fold (images split into ``--folds`` folds; each fold's people scored
by a model fitted on the other folds only), both with pycocotools on all the
images. ``--write`` then fits on all images and writes the weights.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

from posekit.paths import ROOT

from posekit.decode.decoder import DecoderParams, decode
from posekit.io.coco import STAT_NAMES, coco_stats
from posekit.io.export import people_to_coco
from posekit.decode.rescore import NUM_FEATURES, WEIGHTS_PATH, Rescorer

#: pycocotools' keypoint sigmas (COCO-17 order).
SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07,
                   .87, .87, .89, .89]) / 10.0


def oks_matrix(found: List[np.ndarray], truths: List[Tuple[np.ndarray, float]]) -> np.ndarray:
    """(D, G) OKS of each detection (17, 3) with each annotated person."""
    out = np.zeros((len(found), len(truths)))
    for g, (truth, area) in enumerate(truths):
        seen = truth[:, 2] > 0
        for d, keypoints in enumerate(found):
            d2 = ((keypoints[:, :2] - truth[:, :2]) ** 2).sum(1)
            e = d2 / (2 * SIGMAS) ** 2 / (area + np.spacing(1)) / 2
            out[d, g] = np.exp(-e)[seen].sum() / seen.sum()
    return out


def assigned_oks(oks: np.ndarray) -> np.ndarray:
    """(D,) each detection's OKS with the annotated person it is paired with
    when pairs are taken greedily by OKS, one-to-one; 0 for the unpaired
    (duplicates of a person are false positives for AP)."""
    target = np.zeros(len(oks))
    oks = oks.copy()
    while oks.size and oks.max() > 0:
        d, g = np.unravel_index(np.argmax(oks), oks.shape)
        target[d] = oks[d, g]
        oks[d, :] = 0.0
        oks[:, g] = 0.0
    return target


def load_maps(args: argparse.Namespace, entries: List[dict]):
    """Yield (image id, heatmaps, pafs, out_scale) for every image."""
    network = None
    for entry in entries:
        cached = args.maps_cache / f"{entry['id']}.npz" if args.maps_cache else None
        if cached is not None and cached.is_file():
            with np.load(cached) as data:
                yield entry["id"], data["heatmaps"], data["pafs"], float(data["out_scale"])
            continue
        from posekit.networks.inference import infer_multiscale, load_network
        from posekit.io.images import read_image
        network = network or load_network("mobilenet_thin", None, runtime="tflite")
        hm, pf, scale = infer_multiscale(network, read_image(args.images / entry["file_name"]),
                                         (1.0,), False)
        yield entry["id"], hm, pf, float(scale)


def collect(args: argparse.Namespace) -> Dict[str, object]:
    """Decode every image: COCO results, features, OKS targets, image of each person."""
    data = json.loads(args.annotations.read_text())
    entries = sorted(data["images"], key=lambda im: im["id"])
    truths: Dict[int, list] = {e["id"]: [] for e in entries}
    for ann in data["annotations"]:
        if not ann.get("iscrowd", 0) and ann.get("num_keypoints", 0) > 0 \
                and ann["image_id"] in truths:
            truths[ann["image_id"]].append(
                (np.array(ann["keypoints"], float).reshape(17, 3), float(ann["area"])))
    # people completed, as the evaluation command decodes them (the weights were fitted so)
    params = replace(DecoderParams(), person_score="heuristic", complete_people=True)
    results, features, targets, image_of = [], [], [], []
    for image_id, hm, pf, out_scale in load_maps(args, entries):
        out: List[np.ndarray] = []
        coords, skeletons = decode(hm, pf, params=params, features_out=out)
        found = people_to_coco(coords, skeletons, image_id, scale=1.0 / out_scale)
        oks = oks_matrix([np.array(p["keypoints"], float).reshape(17, 3) for p in found],
                         truths[image_id])
        targets += assigned_oks(oks).tolist()
        image_of += [image_id] * len(found)
        results += found
        features.append(out[0])
    return {"results": results, "features": np.concatenate(features),
            "targets": np.array(targets), "image_of": np.array(image_of),
            "image_ids": [e["id"] for e in entries]}


def fit(x: np.ndarray, y: np.ndarray, hidden: int, seed: int, epochs: int = 3000,
        rate: float = 0.01, decay: float = 1e-3) -> Rescorer:
    """Full-batch Adam on the cross-entropy of sigmoid outputs with soft targets ``y``."""
    rng = np.random.default_rng(seed)
    mean, scale = x.mean(0), x.std(0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    z = (x - mean) / scale
    sizes = [NUM_FEATURES] + ([hidden] if hidden else []) + [1]
    params = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        params += [rng.normal(0, 1 / np.sqrt(a), (a, b)), np.zeros(b)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for step in range(1, epochs + 1):
        acts = [z]
        for n in range(0, len(params), 2):
            h = acts[-1] @ params[n] + params[n + 1]
            acts.append(np.tanh(h) if n + 2 < len(params) else h)
        grad_h = (1 / (1 + np.exp(-acts[-1][:, 0])) - y)[:, None] / len(y)
        grads = [None] * len(params)
        for n in range(len(params) - 2, -1, -2):
            grads[n] = acts[n // 2].T @ grad_h + decay * params[n]
            grads[n + 1] = grad_h.sum(0)
            if n:
                grad_h = (grad_h @ params[n].T) * (1 - acts[n // 2] ** 2)
        for k, g in enumerate(grads):
            m[k] = 0.9 * m[k] + 0.1 * g
            v[k] = 0.999 * v[k] + 0.001 * g * g
            params[k] -= rate * (m[k] / (1 - 0.9 ** step)) / (
                np.sqrt(v[k] / (1 - 0.999 ** step)) + 1e-8)
    return Rescorer(mean, scale, tuple((params[n], params[n + 1])
                                       for n in range(0, len(params), 2)))


def coco_ap(annotations: Path, results: List[dict], image_ids: List[int]) -> np.ndarray:
    """pycocotools' 10 keypoint statistics, in its order (the project's one COCO evaluation)."""
    stats = coco_stats(annotations, results, image_ids)
    return np.array([stats[name] for name in STAT_NAMES])


def out_of_fold(data: Dict[str, object], folds: int, hidden: int, seed: int) -> np.ndarray:
    """Each person's learned score from a model fitted on the other folds' images."""
    ids = np.array(data["image_ids"])
    fold_of = dict(zip(ids[np.random.default_rng(seed).permutation(len(ids))].tolist(),
                       np.arange(len(ids)) % folds))
    fold = np.array([fold_of[i] for i in data["image_of"].tolist()])
    scores = np.zeros(len(fold))
    for k in range(folds):
        model = fit(data["features"][fold != k], data["targets"][fold != k], hidden, seed)
        scores[fold == k] = model(data["features"][fold == k])
    return scores


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--annotations", type=Path, required=True)
    parser.add_argument("--maps-cache", type=Path, default=None,
                        help="folder of <image_id>.npz maps (heatmaps, pafs, out_scale)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=16, help="hidden units (0: logistic)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true",
                        help=f"fit on all images and write {WEIGHTS_PATH.name}")
    args = parser.parse_args()
    data = collect(args)
    print(f"{len(data['image_ids'])} images, {len(data['targets'])} people, "
          f"mean OKS target {data['targets'].mean():.3f}")
    stats = coco_ap(args.annotations, data["results"], data["image_ids"])
    print(f"heuristic score: AP {stats[0]:.4f} APm {stats[3]:.4f} APl {stats[4]:.4f}")
    scores = out_of_fold(data, args.folds, args.hidden, args.seed)
    rescored = [dict(r, score=round(float(s), 5)) for r, s in zip(data["results"], scores)]
    stats = coco_ap(args.annotations, rescored, data["image_ids"])
    print(f"learned score, {args.folds}-fold out of fold (hidden {args.hidden}, seed "
          f"{args.seed}): AP {stats[0]:.4f} APm {stats[3]:.4f} APl {stats[4]:.4f}")
    heuristic = np.array([r["score"] for r in data["results"]])
    combined = [dict(r, score=float(h * s)) for r, h, s in zip(data["results"], heuristic, scores)]
    stats = coco_ap(args.annotations, combined, data["image_ids"])
    print(f"combined (heuristic x learned), out of fold: AP {stats[0]:.4f} APm {stats[3]:.4f} "
          f"APl {stats[4]:.4f}")
    if args.write:
        model = fit(data["features"], data["targets"], args.hidden, args.seed)
        WEIGHTS_PATH.write_text(json.dumps(model.to_dict()) + "\n")
        print(f"wrote {WEIGHTS_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
