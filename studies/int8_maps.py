"""What the int8 model's maps lose against float32: AP with the maps swapped, peak statistics.

Run from the project root (after ``make setup``; needs the dev set)::

    python -m studies.int8_maps [--limit 100] [--weights MODEL.int8.tflite]

On the first ``--limit`` dev images by id, single scale, the maps of the int8
model and of float32 TFLite are computed once; then, with the decoder as the
evaluation command runs it (best, people completed):

1. AP of each model, and of the two mixtures (int8 heatmaps with float32
   PAFs, float32 heatmaps with int8 PAFs): which maps carry the loss;
2. the float32 heatmap peaks (8-neighbourhood maxima above 0.1) that the
   int8 heatmaps keep in the same cell, move by one cell or lose, the int8
   peaks with no float32 peak within one cell, and the int8 / float32 value
   at the float32 peaks by peak height;
3. AP with the part heatmaps multiplied by a gain, and with both maps
   smoothed (Gaussian, sigma in cells), for both models: whether a change
   of amplitude or of sharpness closes the gap;
4. AP of the float32 maps plus white Gaussian noise as large as the int8
   error (its standard deviation over the heatmaps, over the PAFs), three
   seeds: whether the size of the error or its shape costs the AP.

The dev images are the set the recipe was chosen on. No timing is measured.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from posekit.paths import ROOT  # noqa: E402

DEV = ROOT.parent / "shared" / "eval" / "coco_val2017_dev"
#: Lowest float32 heatmap value counted as a peak (the decoder's peak threshold is lower;
#: peaks this weak rarely become keypoints).
PEAK_FLOOR = 0.1
#: Bands of float32 peak height for the value ratios.
BANDS = ((0.1, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, np.inf))
GAINS = (1.05, 1.1, 1.2)
SIGMAS = (0.5, 1.0)
NOISE_SEEDS = (1, 2, 3)

Maps = List[Tuple[np.ndarray, np.ndarray, float]]


def local_peaks(heatmap: np.ndarray, floor: float = PEAK_FLOOR) -> np.ndarray:
    """Cells of one heatmap that are the maximum of their 3x3 neighbourhood and above ``floor``.

    Args:
        heatmap: (H, W) float32.
        floor: Lowest value of a peak (strictly above).

    Returns:
        (H, W) bool.
    """
    import cv2

    grown = cv2.dilate(heatmap.astype(np.float32), np.ones((3, 3), np.uint8))
    return (heatmap >= grown) & (heatmap > floor)


def peak_statistics(pairs: Sequence[Tuple[np.ndarray, np.ndarray]],
                    floor: float = PEAK_FLOOR) -> Dict[str, object]:
    """Compare the peaks of int8 and float32 part heatmaps.

    Args:
        pairs: ``(int8, float32)`` heatmaps, each (H, W, >=18); the first 18
            channels (the parts) are compared.
        floor: Lowest value of a peak.

    Returns:
        ``{"peaks": float32 peaks, "same": share kept in the same cell,
        "moved": share with an int8 peak one cell away (not in the same
        cell), "lost": the rest, "extra": int8 peaks with no float32 peak
        within one cell, "bands": [(low, high, count, mean int8/float32 at the
        float32 peaks)]}``.
    """
    import cv2

    kernel = np.ones((3, 3), np.uint8)
    float_values: List[float] = []
    int8_values: List[float] = []
    kinds: List[int] = []
    extra = 0
    for quant, ref in pairs:
        for part in range(18):
            q, f = quant[..., part], ref[..., part]
            pq, pf = local_peaks(q, floor), local_peaks(f, floor)
            near_q = cv2.dilate(pq.astype(np.uint8), kernel).astype(bool)
            near_f = cv2.dilate(pf.astype(np.uint8), kernel).astype(bool)
            ys, xs = np.nonzero(pf)
            float_values += f[ys, xs].tolist()
            int8_values += q[ys, xs].tolist()
            kinds += np.where(pq[ys, xs], 2, np.where(near_q[ys, xs], 1, 0)).tolist()
            extra += int((pq & ~near_f).sum())
    fv, qv, kind = np.array(float_values), np.array(int8_values), np.array(kinds)
    count = max(1, kind.size)
    bands = []
    for low, high in BANDS:
        inside = (fv >= low) & (fv < high)
        ratio = float(np.mean(qv[inside] / fv[inside])) if inside.any() else float("nan")
        bands.append((low, high, int(inside.sum()), ratio))
    return {"peaks": int(kind.size), "same": float(np.sum(kind == 2) / count),
            "moved": float(np.sum(kind == 1) / count), "lost": float(np.sum(kind == 0) / count),
            "extra": extra, "bands": bands}


def dev_maps(limit: int, weights: Optional[str]) -> Tuple[List[dict], Dict[str, Maps]]:
    """The first ``limit`` dev entries and each runtime's single-scale maps of them."""
    from posekit.networks.inference import infer_multiscale, load_network
    from posekit.io.images import read_image

    data = json.loads((DEV / "person_keypoints.json").read_text())
    entries = sorted(data["images"], key=lambda e: e["id"])[:limit]
    maps: Dict[str, Maps] = {}
    for runtime, path in (("int8", weights), ("tflite", None)):
        network = load_network(weights=path, runtime=runtime) if path else load_network(
            runtime=runtime)
        maps[runtime] = [infer_multiscale(network, read_image(DEV / "images" / e["file_name"]))
                         for e in entries]
    return entries, maps


def average_precision(entries: List[dict], heat: Maps, paf: Maps, gain: float = 1.0,
                      sigma: float = 0.0) -> float:
    """AP of the evaluation's decoder on heatmaps from ``heat`` and PAFs from ``paf``."""
    import cv2

    from posekit.io.export import people_to_coco
    from posekit.decode.registry import get_decoder
    from posekit.io.coco import coco_stats

    decode = get_decoder("best")
    params = decode.make_params(complete_people=True)
    results: List[dict] = []
    for entry, (heatmaps, _, scale), (_, pafs, _) in zip(entries, heat, paf):
        heatmaps = heatmaps.copy()
        heatmaps[..., :18] *= gain
        if sigma:
            heatmaps = cv2.GaussianBlur(heatmaps, (0, 0), sigma)
            pafs = cv2.GaussianBlur(pafs, (0, 0), sigma)
        coords, people = decode(heatmaps, pafs, params)
        results += people_to_coco(coords, people, entry["id"], scale=1.0 / scale)
    with contextlib.redirect_stdout(io.StringIO()):
        return float(coco_stats(DEV / "person_keypoints.json", results,
                                [e["id"] for e in entries])["AP"])


def with_noise(maps: Maps, heat_sd: float, paf_sd: float, seed: int) -> Maps:
    """``maps`` plus white Gaussian noise of ``heat_sd`` on the heatmaps, ``paf_sd`` on the PAFs."""
    rng = np.random.default_rng(seed)
    return [(h + rng.normal(0.0, heat_sd, h.shape).astype(np.float32),
             p + rng.normal(0.0, paf_sd, p.shape).astype(np.float32), scale)
            for h, p, scale in maps]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m studies.int8_maps",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=100, help="first N dev images by id")
    parser.add_argument("--weights", default=None, help="int8 model (default: the shipped one)")
    args = parser.parse_args(argv)
    if args.limit < 1:
        parser.error("--limit must be at least 1")
    if not (DEV / "person_keypoints.json").is_file():
        print(f"{parser.prog}: error: dev set not found at {DEV}", file=sys.stderr)
        return 2
    import warnings

    from estimation.limits import CandidateCapWarning

    warnings.simplefilter("ignore", CandidateCapWarning)     # smoothed noise: many candidates
    entries, maps = dev_maps(args.limit, args.weights)
    q, f = maps["int8"], maps["tflite"]
    print(f"first {len(entries)} dev images, single scale, best decoder, people completed\n")
    print("| heatmaps | PAFs | AP |\n|---|---|---:|")
    for heat, paf in (("float32", "float32"), ("int8", "int8"), ("int8", "float32"),
                      ("float32", "int8")):
        ap = average_precision(entries, q if heat == "int8" else f, q if paf == "int8" else f)
        print(f"| {heat} | {paf} | {ap:.4f} |", flush=True)
    stats = peak_statistics([(a[0], b[0]) for a, b in zip(q, f)])
    print(f"\nfloat32 part-heatmap peaks above {PEAK_FLOOR}: {stats['peaks']}; int8 keeps "
          f"{stats['same']:.1%} in the same cell, {stats['moved']:.1%} one cell away, loses "
          f"{stats['lost']:.1%}; {stats['extra']} int8 peaks with no float32 peak near")
    print("| float32 peak height | peaks | mean int8 / float32 |\n|---|---:|---:|")
    for low, high, count, ratio in stats["bands"]:
        print(f"| {low}-{high} | {count} | {ratio:.3f} |")
    print("\n| change of both models' maps | int8 AP | float32 AP |\n|---|---:|---:|")
    for gain in GAINS:
        print(f"| part heatmaps x{gain} | {average_precision(entries, q, q, gain=gain):.4f} "
              f"| {average_precision(entries, f, f, gain=gain):.4f} |", flush=True)
    for sigma in SIGMAS:
        print(f"| Gaussian smoothing, sigma {sigma} cell | "
              f"{average_precision(entries, q, q, sigma=sigma):.4f} "
              f"| {average_precision(entries, f, f, sigma=sigma):.4f} |", flush=True)
    heat_sd = float(np.sqrt(np.mean([np.mean((a[0] - b[0]) ** 2) for a, b in zip(q, f)])))
    paf_sd = float(np.sqrt(np.mean([np.mean((a[1] - b[1]) ** 2) for a, b in zip(q, f)])))
    aps = [average_precision(entries, noisy, noisy)
           for noisy in (with_noise(f, heat_sd, paf_sd, seed) for seed in NOISE_SEEDS)]
    print(f"\nfloat32 maps + white noise of the int8 error's size (sd {heat_sd:.4f} heatmaps, "
          f"{paf_sd:.4f} PAFs), seeds {NOISE_SEEDS}: AP " + " / ".join(f"{a:.4f}" for a in aps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
