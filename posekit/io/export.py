"""People to files: COCO keypoint results and OpenPose JSON, in image pixels.

Map cell ``(x, y)`` is converted to pixels with the cell-centre convention of
:func:`posekit.lab.renderers.cell_to_pixel` (cell ``i`` covers pixels
``[8i, 8i + 8)``; its centre is ``8i + 3.5``), then mapped back to the original image when the network saw a resized copy
(``scale`` = original size / network input size, with OpenCV's half-pixel
resize geometry: ``p = (q + 0.5) * scale - 0.5``).
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from posekit.lab.config import NUM_PARTS, STRIDE, BodyPart
from posekit.lab.renderers import cell_to_pixel

_P = BodyPart
#: COCO-17 keypoint order as our slots (the neck has no COCO keypoint).
COCO_ORDER = (
    _P.nose, _P.left_eye, _P.right_eye, _P.left_ear, _P.right_ear,
    _P.left_shoulder, _P.right_shoulder, _P.left_elbow, _P.right_elbow,
    _P.left_wrist, _P.right_wrist, _P.left_hip, _P.right_hip,
    _P.left_knee, _P.right_knee, _P.left_ankle, _P.right_ankle,
)


def skeleton_keypoints(coords: Dict[str, Sequence], skeletons: np.ndarray,
                       stride: float = STRIDE, scale: float = 1.0) -> np.ndarray:
    """Pixel positions and scores of every skeleton's parts.

    Args:
        coords: ``{part name: [(x, y, score, id), ...]}`` in map cells.
        skeletons: (K, 20) rows of 18 slot ids, score, parts_num.
        stride: image pixels per map cell.
        scale: original image size / network input size (1 when not resized).

    Returns:
        (K, 18, 3) float64 array ``x, y, score`` per slot (CMU order); empty
        slots are all zero.

    Raises:
        ValueError: if a skeleton id is not in ``coords``.
    """
    skel = np.asarray(skeletons, dtype=np.float64).reshape(-1, NUM_PARTS + 2) \
        if np.size(skeletons) else np.zeros((0, NUM_PARTS + 2))
    table = {int(p[3]): p for peaks in coords.values() for p in peaks}
    out = np.zeros((len(skel), NUM_PARTS, 3))
    for k, row in enumerate(skel):
        for slot, part_id in enumerate(row[:NUM_PARTS].astype(int)):
            if part_id < 0:
                continue
            if part_id not in table:
                raise ValueError(f"skeleton part id {part_id} is not in coords")
            x, y, score = table[part_id][:3]
            out[k, slot] = ((cell_to_pixel(x, stride) + 0.5) * scale - 0.5,
                            (cell_to_pixel(y, stride) + 0.5) * scale - 0.5, score)
    return out


def to_coco(keypoints: np.ndarray, scores: Sequence[float], image_id: int,
            raw_scores: Optional[Sequence[float]] = None) -> List[dict]:
    """COCO keypoint results (one dict per person, 17 keypoints in COCO order).

    Args:
        keypoints: (K, 18, 3) from :func:`skeleton_keypoints`.
        scores: (K,) person scores (the library's: confidences in [0, 1]).
        image_id: the COCO image id.
        raw_scores: (K,) the decoder's scores, written as ``score_raw`` (rounded to
            5 decimals); None: not written.

    Returns:
        ``[{"image_id", "category_id": 1, "keypoints": [x, y, v] * 17, "score"}]``
        where ``v`` is 1 for a found keypoint and 0 (with x = y = 0) otherwise;
        ``score`` rounded to 12 decimals (confidences near 1 must not tie where
        the raw scores did not: COCO's AP ranks by them).
    """
    results = []
    for k, (person, score) in enumerate(zip(keypoints, scores)):
        flat = []
        for part in COCO_ORDER:
            x, y, s = person[int(part)]
            found = s > 0 or x != 0 or y != 0
            flat += [round(float(x), 2), round(float(y), 2), 1 if found else 0] if found \
                else [0, 0, 0]
        results.append({"image_id": int(image_id), "category_id": 1,
                        "keypoints": flat, "score": round(float(score), 12)})
        if raw_scores is not None:
            results[-1]["score_raw"] = round(float(raw_scores[k]), 5)
    return results


def people_to_coco(coords: Dict[str, Sequence], skeletons: np.ndarray, image_id: int,
                   scale: float = 1.0, stride: float = STRIDE,
                   confidence: Optional[Callable[[np.ndarray], np.ndarray]] = None
                   ) -> List[dict]:
    """COCO keypoint results straight from a decoder's output (maps -> people -> COCO, once).

    Args:
        coords: ``{part name: [(x, y, score, id), ...]}`` in map cells.
        skeletons: (K, 20) rows of 18 slot ids, score, parts_num; the score ranks them.
        image_id: the COCO image id.
        scale: original image size / network input size (1 when not resized).
        stride: image pixels per map cell.
        confidence: maps the rows' raw scores (K,) to the ``score`` written
            (``posekit.decode.confidence.calibration``; increasing, so the ranking
            is kept), the raw ones then written as ``score_raw``; None: the raw
            scores as ``score``.

    Returns:
        :func:`to_coco` of :func:`skeleton_keypoints`, scored by the rows' scores.

    Raises:
        ValueError: a skeleton id is not in ``coords``.
    """
    rows = np.asarray(skeletons, dtype=np.float64).reshape(-1, NUM_PARTS + 2)
    raw = rows[:, -2]
    return to_coco(skeleton_keypoints(coords, rows, stride, scale),
                   raw if confidence is None else confidence(raw), image_id,
                   None if confidence is None else raw)


def to_openpose(keypoints: np.ndarray) -> dict:
    """OpenPose's JSON layout: ``{"version", "people": [{"pose_keypoints_2d"}]}``.

    Args:
        keypoints: (K, 18, 3) from :func:`skeleton_keypoints` (COCO-18 order).

    Returns:
        A dict ready for ``json.dump``: 18 keypoints per person as a flat
        ``[x, y, confidence] * 18`` list, zeros for missing parts.
    """
    return {"version": 1.3, "people": [
        {"person_id": [-1],
         "pose_keypoints_2d": [round(float(v), 3) for v in person.reshape(-1)]}
        for person in keypoints]}
