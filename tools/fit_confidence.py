"""Fit the person confidence maps (posekit/decode/confidence.json), checked on held-out images.

Run from the project root (one command refits everything, e.g. after a decoder change)::

    python -m tools.fit_confidence [--runtimes int8 tflite] [--decoders best lab handout]
        [--networks mobilenet_thin [mobilenet_thin+accurate]] [--images DIR]
        [--annotations FILE] [--limit N] [--cache DIR] [--write] [--ap X ...]

Each dev image (``../shared/eval/coco_val2017_dev`` by default) goes through
the library (``posekit.pipeline.PoseEstimator`` on ``mobilenet_thin`` with the
runtime named, default decoder settings, no completion): the people it
returns are what the confidence describes. Each person is labelled 1 when it
matches a true person at OKS >= 0.5 (COCO's OKS and sigmas; people taken by
raw score, best first, each taking the unmatched annotated person of highest
OKS, as COCO's evaluation does; annotated people: not crowd, at least one
keypoint), else 0.

The images are split by a seeded permutation into a fit half and a held-out
half. A logistic map of the log raw score (:class:`posekit.decode.confidence.Calibration`,
slope > 0: the ranking is kept) is fitted by Newton's method on the fit half;
the held-out half gives the reliability table (10 bins of predicted
confidence: count, mean predicted, observed rate), the Brier score and the
expected calibration error (ECE). Each runtime's map is also checked on the
other runtime's held-out people. ``--write`` writes the maps with their
provenance (image ids, date, model hashes, the raw scores on images/bus.jpg).
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np

from posekit.decode.confidence import (AVERAGED, FLOOR, TABLE_PATH, Calibration, calibration,
                                      table_key)
from posekit.io.export import COCO_ORDER
from posekit.paths import ROOT
from tools.fit_rescore import oks_matrix

DEV = ROOT.parent / "shared" / "eval" / "coco_val2017_dev"
#: The image whose raw scores pin the decoder a map was fitted for.
CHECK_IMAGE = "images/bus.jpg"
#: OKS at which a person counts as matched.
OKS_THRESHOLD = 0.5
BINS = 10


def match_labels(scores: np.ndarray, oks: np.ndarray, threshold: float = OKS_THRESHOLD
                 ) -> np.ndarray:
    """Which detections match a true person, greedily by score as COCO's evaluation matches.

    Args:
        scores: (D,) detection scores (higher first; ties keep the given order).
        oks: (D, G) OKS of each detection with each annotated person.
        threshold: the least OKS of a match.

    Returns:
        (D,) bool: the detection took an annotated person (its best unmatched one,
        at OKS >= ``threshold``).
    """
    oks = np.asarray(oks, np.float64).reshape(len(scores), -1)
    free = np.ones(oks.shape[1], bool)
    out = np.zeros(len(scores), bool)
    for d in np.argsort(-np.asarray(scores, np.float64), kind="mergesort"):
        candidates = np.where(free, oks[d], -1.0)
        if candidates.size and candidates.max() >= threshold:
            free[int(np.argmax(candidates))] = False
            out[d] = True
    return out


def fit_logistic(raw: np.ndarray, labels: np.ndarray, steps: int = 100,
                 ridge: float = 1e-6) -> Calibration:
    """Platt scaling on the log raw score and the raw score by Newton's method (log loss,
    a tiny ridge); without the raw score's own term when its weight comes out negative
    (the map must increase).

    Args:
        raw: (N,) raw scores.
        labels: (N,) 0 / 1.

    Returns:
        The fitted map.

    Raises:
        ValueError: no people, one class only, or a fitted slope <= 0 (the map would
            not keep the ranking).
    """
    y = np.asarray(labels, np.float64)
    if len(y) == 0 or y.min() == y.max():
        raise ValueError("labels must hold both matched and unmatched people")
    r = np.maximum(np.asarray(raw, np.float64), FLOOR)
    w = _newton(np.column_stack([np.log(r), r, np.ones(len(y))]), y, steps, ridge)
    if w[1] < 0:
        w = _newton(np.column_stack([np.log(r), np.ones(len(y))]), y, steps, ridge)
        w = np.array([w[0], 0.0, w[1]])
    if not w[0] > 0:
        raise ValueError(f"the fitted slope is {w[0]:.4g}: the raw score does not predict "
                         "a match, no increasing map fits")
    return Calibration(float(w[0]), float(w[2]), float(w[1]))


def _newton(x: np.ndarray, y: np.ndarray, steps: int, ridge: float) -> np.ndarray:
    """Logistic regression weights (F,) of (N, F) ``x`` by Newton's method from zeros."""
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 0.5 * (1.0 + np.tanh(0.5 * x @ w))
        grad = x.T @ (p - y) + ridge * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + ridge * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-12:
            break
    return w


def reliability(predicted: np.ndarray, labels: np.ndarray, bins: int = BINS) -> Dict[str, object]:
    """Reliability of predicted probabilities.

    Args:
        predicted: (N,) in [0, 1].
        labels: (N,) 0 / 1.
        bins: equal-width bins of [0, 1] (the last one closed).

    Returns:
        ``{"bins": [[low, high, count, mean predicted, observed rate], ...]`` (empty
        bins left out), ``"brier"``, ``"ece"`` (count-weighted mean |predicted -
        observed| over bins), ``"people"``, ``"matched"`` (observed rate overall)}.
    """
    p = np.asarray(predicted, np.float64)
    y = np.asarray(labels, np.float64)
    which = np.minimum((p * bins).astype(int), bins - 1)
    rows, ece = [], 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            mean, rate = float(p[inside].mean()), float(y[inside].mean())
            rows.append([b / bins, (b + 1) / bins, int(inside.sum()), round(mean, 4),
                         round(rate, 4)])
            ece += inside.sum() / len(p) * abs(mean - rate)
    return {"bins": rows, "brier": round(float(((p - y) ** 2).mean()), 4),
            "ece": round(float(ece), 4), "people": int(len(p)),
            "matched": round(float(y.mean()), 4)}


def _truths(annotations: dict) -> Dict[int, list]:
    """Annotated people per image: ``[(keypoints (17, 3), area)]`` (not crowd, >= 1 keypoint)."""
    out: Dict[int, list] = {image["id"]: [] for image in annotations["images"]}
    for ann in annotations["annotations"]:
        if not ann.get("iscrowd", 0) and ann.get("num_keypoints", 0) > 0:
            out[ann["image_id"]].append((np.array(ann["keypoints"], float).reshape(17, 3),
                                         float(ann["area"])))
    return out


def label_people(image_of: np.ndarray, raw: np.ndarray, keypoints: np.ndarray,
                 truths: Dict[int, list]) -> np.ndarray:
    """(P,) bool match of every person (``keypoints`` (P, 18, 3) in pixels) in its image."""
    labels = np.zeros(len(raw), bool)
    coco = [int(part) for part in COCO_ORDER]
    for image_id in np.unique(image_of):
        rows = np.flatnonzero(image_of == image_id)
        oks = oks_matrix([keypoints[r][coco] for r in rows], truths[int(image_id)])
        labels[rows] = match_labels(raw[rows], oks)
    return labels


def collect(runtime: str, decoders: Sequence[str], images: Path, entries: List[dict],
            accurate: bool = False) -> Tuple[Dict[str, Dict[str, np.ndarray]], dict]:
    """Run the library over ``entries`` once; decode each network output with ``decoders``.
    With ``accurate`` the network is ``posekit.networks.accurate.accurate_network``'s.

    Returns:
        ``({decoder: {"image": (P,), "raw": (P,), "keypoints": (P, 18, 3)}}, facts)``,
        facts: the model's path and hash, the raw scores on :data:`CHECK_IMAGE` per decoder.
    """
    from posekit.io.export import skeleton_keypoints
    from posekit.io.images import read_image
    from posekit.lab.config import NUM_PARTS, STRIDE
    from posekit.networks.mobilenet_thin import file_sha256
    from posekit.pipeline import PoseEstimator, load_pose_network, make_decoder

    from posekit.networks.accurate import accurate_network

    network = load_pose_network("mobilenet_thin", runtime=runtime)
    if network.runtime != runtime:
        raise ValueError(f"asked for runtime {runtime}, got {network.runtime}")
    model = Path(getattr(network.model, "path", ""))
    network = accurate_network(network) if accurate else network
    facts = {"network": network.name, "runtime": network.runtime,
             "model": model.name, "model_sha256": file_sha256(model) if model.is_file() else None}
    estimator = PoseEstimator(network)
    others = {name: make_decoder(name) for name in decoders if name != "best"}

    def people(image: np.ndarray) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
        result = estimator(image)          # skeletons: the decoder's people, unfiltered
        out = {"best": (result.skeletons[:, NUM_PARTS].copy(),
                        skeleton_keypoints(result.coords, result.skeletons, STRIDE,
                                           result.scale))}
        for name, decode in others.items():
            coords, skeletons = decode(result.heatmaps, result.pafs, {})
            out[name] = (skeletons[:, NUM_PARTS].copy(),
                         skeleton_keypoints(coords, skeletons, STRIDE, result.scale))
        return {name: out[name] for name in decoders}

    bus = people(read_image(ROOT / CHECK_IMAGE))
    facts["check"] = {name: np.round(raw, 5).tolist() for name, (raw, _) in bus.items()}
    found: Dict[str, Dict[str, list]] = {name: {"image": [], "raw": [], "keypoints": []}
                                         for name in decoders}
    from tqdm import tqdm
    for entry in tqdm(entries, desc=f"people ({network.name}, {runtime})", unit="img"):
        for name, (raw, keypoints) in people(read_image(images / entry["file_name"])).items():
            found[name]["image"] += [entry["id"]] * len(raw)
            found[name]["raw"] += raw.tolist()
            found[name]["keypoints"].append(keypoints.reshape(-1, NUM_PARTS, 3))
    data = {name: {"image": np.array(f["image"], np.int64), "raw": np.array(f["raw"]),
                   "keypoints": np.concatenate(f["keypoints"])} for name, f in found.items()}
    return data, facts


def split(image_ids: Sequence[int], seed: int) -> Tuple[List[int], List[int]]:
    """``(fit, held_out)`` image ids: a seeded permutation cut in half (each sorted)."""
    ids = np.array(sorted(image_ids))
    order = np.random.default_rng(seed).permutation(len(ids))
    half = (len(ids) + 1) // 2
    return sorted(ids[order[:half]].tolist()), sorted(ids[order[half:]].tolist())


def format_table(name: str, report: Dict[str, object]) -> str:
    """A reliability table as printed (and pasted into docs/records/confidence.md)."""
    lines = [f"{name}: {report['people']} people, matched {report['matched']:.3f}, "
             f"Brier {report['brier']:.4f}, ECE {report['ece']:.4f}",
             "| confidence | people | mean predicted | observed rate |",
             "|---|---:|---:|---:|"]
    lines += [f"| {lo:.1f}-{hi:.1f} | {n} | {mean:.3f} | {rate:.3f} |"
              for lo, hi, n, mean, rate in report["bins"]]
    return "\n".join(lines)


def ap_by_threshold(data: Dict[str, np.ndarray], cal: Calibration, annotations: Path,
                    image_ids: Sequence[int], confs: Sequence[float],
                    kpt_confs: Sequence[float]) -> List[Tuple[float, float, float]]:
    """COCO AP of the library's people (no completion) at each ``conf`` (with kpt_conf 0)
    and each ``kpt_conf`` (with conf 0), as ``PoseResult.filtered`` applies them.

    Returns:
        ``[(conf, kpt_conf, AP), ...]``.
    """
    from posekit.decode.confidence import kept
    from posekit.io.coco import coco_stats
    from posekit.io.export import to_coco

    scores = cal(data["raw"])
    points = data["keypoints"].copy()
    points[..., 2] = np.clip(points[..., 2], 0.0, 1.0)
    out = []
    for conf, kpt in [(c, 0.0) for c in confs] + [(0.0, k) for k in kpt_confs if k > 0]:
        shown = points * kept(points[..., 2], kpt)[..., None]
        results = []
        for image_id in image_ids:
            rows = np.flatnonzero((data["image"] == image_id) & kept(scores, conf))
            results += to_coco(shown[rows], scores[rows], image_id)
        out.append((conf, kpt, coco_stats(annotations, results, image_ids)["AP"]))
    return out


def load_runs(args: argparse.Namespace, entries: List[dict]
              ) -> Dict[Tuple[str, str], Tuple[dict, dict]]:
    """The people of every (network, runtime) asked for, from ``--cache`` when there."""
    runs: Dict[Tuple[str, str], Tuple[dict, dict]] = {}
    for network in args.networks:
        for runtime in args.runtimes:
            name = f"people_{network}_{runtime}_{len(entries)}.json"
            cached = args.cache / name if args.cache else None
            if cached is not None and cached.is_file():
                saved = json.loads(cached.read_text())
                data = {n: {k: np.array(v) for k, v in d.items()}
                        for n, d in saved["data"].items()}
                runs[network, runtime] = (data, saved["facts"])
                continue
            runs[network, runtime] = collect(runtime, args.decoders, args.images, entries,
                                             accurate=network.endswith("+accurate"))
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                data, facts = runs[network, runtime]
                cached.write_text(json.dumps({"data": {n: {k: v.tolist() for k, v in d.items()}
                                                       for n, d in data.items()},
                                              "facts": facts}))
    return runs


def fit_maps(runs: Dict[Tuple[str, str], Tuple[dict, dict]], decoders: Sequence[str],
             truths: Dict[int, list], held_ids: Sequence[int]) -> Dict[str, dict]:
    """Fit every (decoder, network, runtime) map on the fit images; report each on the
    held-out images, and on the other runtime's held-out people of the same network."""
    maps: Dict[str, dict] = {}
    held = np.array(held_ids)
    labelled = {(key, name): label_people(d[name]["image"], d[name]["raw"],
                                          d[name]["keypoints"], truths)
                for key, (d, _) in runs.items() for name in decoders}
    for (network, runtime), (data, facts) in runs.items():
        for name in decoders:
            d, labels = data[name], labelled[(network, runtime), name]
            fit_rows = ~np.isin(d["image"], held)
            cal = fit_logistic(d["raw"][fit_rows], labels[fit_rows])
            cal = Calibration(round(cal.slope, 6), round(cal.intercept, 6),   # as shipped
                              round(cal.linear, 6))
            key = table_key(name, facts["network"], runtime)
            report = reliability(cal(d["raw"][~fit_rows]), labels[~fit_rows])
            print(format_table(f"{key} (slope {cal.slope:.4f}, linear {cal.linear:.4f}, "
                               f"intercept {cal.intercept:.4f}; {int(fit_rows.sum())} people "
                               "fitted, held-out images)", report))
            maps[key] = {"slope": cal.slope, "linear": cal.linear, "intercept": cal.intercept,
                         "fitted": datetime.date.today().isoformat(),
                         "people_fitted": int(fit_rows.sum()), "held_out": report,
                         "model": facts["model"], "model_sha256": facts["model_sha256"],
                         "check": {"image": CHECK_IMAGE, "raw_scores": facts["check"][name]}}
            if network.endswith(AVERAGED):              # what it gets without a map of its own
                rows = ~fit_rows
                base = calibration(name, network[:-len(AVERAGED)], runtime)
                report = reliability(base(d["raw"][rows]), labels[rows])
                maps[key][f"by_{base.key}"] = report
                print(format_table(f"  {base.key}'s map on these held-out people", report))
            for (o_network, other), (odata, _) in runs.items():
                if o_network == network and other != runtime:
                    o = odata[name]
                    rows = np.isin(o["image"], held)
                    cross = reliability(cal(o["raw"][rows]),
                                        labelled[(o_network, other), name][rows])
                    maps[key][f"on_{other}"] = cross
                    print(f"  the same map on {other}'s held-out people: Brier "
                          f"{cross['brier']:.4f}, ECE {cross['ece']:.4f}")
    return maps


def main(argv: Sequence[str] = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m tools.fit_confidence",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=Path, default=DEV / "images")
    parser.add_argument("--annotations", type=Path, default=DEV / "person_keypoints.json")
    parser.add_argument("--runtimes", nargs="+", default=["int8", "tflite"])
    parser.add_argument("--networks", nargs="+", default=["mobilenet_thin"],
                        help="mobilenet_thin and / or mobilenet_thin+accurate (averaged over "
                             "scales and a mirror, posekit --accurate: about 7.6x the network "
                             "work; without a map of its own it takes mobilenet_thin's)")
    parser.add_argument("--decoders", nargs="+", default=["best", "lab", "handout"])
    parser.add_argument("--limit", type=int, default=None, help="only the first N images by id")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fit / held-out split")
    parser.add_argument("--cache", type=Path, default=None,
                        help="folder for the people found per runtime (reused when present)")
    parser.add_argument("--write", action="store_true",
                        help=f"write {TABLE_PATH.name} (its maps not refit now are kept when "
                             "they were fitted on the same images)")
    parser.add_argument("--ap", nargs="*", type=float, default=None, metavar="X",
                        help="also print the dev AP (all images, best decoder, mobilenet_thin, "
                             "the maps fitted) with conf X and with kpt_conf X, for each X")
    args = parser.parse_args(argv)
    annotations = json.loads(args.annotations.read_text())
    entries = sorted(annotations["images"], key=lambda im: im["id"])[:args.limit]
    truths = _truths(annotations)
    fit_ids, held_ids = split([e["id"] for e in entries], args.seed)
    runs = load_runs(args, entries)
    for (network, runtime), (data, _) in runs.items():   # keypoint scores: heatmap values
        found = data["best"]["keypoints"][..., 2]
        found = found[found > 0]
        print(f"{network} {runtime}: {found.size} keypoints, scores {found.min():.4f}.."
              f"{found.max():.4f}, {(found > 1).mean():.2%} above 1")
    maps = fit_maps(runs, args.decoders, truths, held_ids)
    for (network, runtime), (data, facts) in runs.items() if args.ap is not None else ():
        if network == "mobilenet_thin":
            entry = maps[table_key("best", network, runtime)]
            cal = Calibration(entry["slope"], entry["intercept"], entry["linear"])
            for conf, kpt, ap in ap_by_threshold(data["best"], cal, args.annotations,
                                                 [e["id"] for e in entries],
                                                 [0.0] + args.ap, args.ap):
                print(f"{runtime}: conf {conf:g}, kpt_conf {kpt:g}: AP {ap:.4f}")
    if args.write:
        old = json.loads(TABLE_PATH.read_text()) if TABLE_PATH.is_file() else {}
        if (old.get("fit_image_ids"), old.get("held_out_image_ids")) == (fit_ids, held_ids):
            maps = {**old["maps"], **maps}           # the same split: keep the maps not refit
        table = {"meaning": "P(the person matches a true person at COCO OKS >= 0.5); "
                            "confidence = 1 / (1 + exp(-(slope * log(r) + linear * r + "
                            "intercept))), r = max(raw, 1e-6)",
                 "written": datetime.date.today().isoformat(),
                 "command": "python -m tools.fit_confidence --write",
                 "annotations": f"{args.annotations.parent.name}/{args.annotations.name}",
                 "seed": args.seed,
                 "fit_image_ids": fit_ids, "held_out_image_ids": held_ids, "maps": maps}
        text = json.dumps(table, indent=1)            # lists of numbers on one line each
        text = re.sub(r"\[[-0-9.,e\s]+\]", lambda m: " ".join(m.group(0).split()), text)
        TABLE_PATH.write_text(text + "\n")
        print(f"wrote {TABLE_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
