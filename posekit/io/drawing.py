"""Drawing people: skeleton, box and label (id, score) per person over a copy of an image.

One code path for still images (:meth:`posekit.results.PoseResult.plot`, the
``posekit`` command) and video frames (:func:`posekit.video.stream.draw_people`).
Limbs and joints keep the colours and the width of the lab's drawing
(:func:`posekit.lab.renderers.draw`); a keypoint is drawn with an opacity in
proportion to its score (full from :data:`FULL_SCORE` up), a limb with the
opacity of its weaker end, so weak keypoints do not look certain; keypoints
scored under ``kpt_conf`` are not drawn, nor are the limbs that touch them.
"""

from __future__ import annotations

from typing import Optional, Sequence

import cv2
import numpy as np

from posekit.io.thresholds import check_conf, kept
from posekit.lab.config import NUM_PARTS, PoseConfig, get_default_configuration
from posekit.lab.renderers import check_image

#: Keypoint score drawn fully opaque; a weaker keypoint is drawn fainter, in proportion.
FULL_SCORE = 0.5
#: BGR colours of the boxes and labels, by track id (or the person's index).
BOX_COLORS = ((56, 56, 255), (151, 157, 255), (31, 112, 255), (29, 178, 255), (49, 210, 207),
              (10, 249, 72), (23, 204, 146), (134, 219, 61), (211, 188, 0), (209, 85, 0),
              (255, 149, 28), (255, 56, 132), (133, 0, 82), (255, 56, 203), (200, 149, 255))


def default_line_width(height: int, width: int) -> int:
    """The lab drawing's limb width for an image of ``height`` x ``width`` pixels."""
    return max(2, round(min(height, width) / 200))


def check_options(line_width: Optional[int], labels: bool, kpt_conf: float) -> None:
    """Validate the drawing options (see :func:`draw_poses`).

    Raises:
        ValueError: naming the bad argument.
    """
    if line_width is not None and (isinstance(line_width, bool)
                                   or not isinstance(line_width, (int, np.integer))
                                   or line_width < 1):
        raise ValueError(f"line_width must be None or an integer >= 1, got {line_width!r}")
    if not isinstance(labels, (bool, np.bool_)):
        raise ValueError(f"labels must be True or False, got {labels!r}")
    check_conf(kpt_conf, "kpt_conf")


def format_score(score: float) -> str:
    """A person's score in at most 3 significant digits (``114.8`` -> ``"115"``, ``0.934``
    -> ``"0.934"``)."""
    return f"{score:.3g}"


def draw_poses(image: np.ndarray, keypoints: np.ndarray, scores: Optional[Sequence[float]] = None,
               ids: Optional[Sequence[Optional[int]]] = None, config: Optional[PoseConfig] = None,
               line_width: Optional[int] = None, labels: bool = True,
               kpt_conf: float = 0.0) -> np.ndarray:
    """Every person's skeleton, box and label drawn over a copy of ``image``.

    Args:
        image: (H, W, 3) uint8 BGR; it is not modified.
        keypoints: (K, 18, 3) ``x, y, score`` in ``image``'s pixels (score 0: missing).
        scores: (K,) person scores for the labels (None: no score in the label).
        ids: (K,) track ids for the labels (None: not tracked, no id; -1 or None for one
            person: no id yet, drawn without one).
        config: limbs and colours (default: the default configuration).
        line_width: limb and box width in pixels (None: the lab drawing's,
            ``max(2, min(H, W) / 200)``); joints are circles of radius ``line_width + 1``.
        labels: draw a box and a label (``#id score``) per person.
        kpt_conf: in [0, 1]; keypoints scored under it (and limbs touching them) are
            not drawn (:func:`posekit.io.thresholds.kept`, the rule of
            ``PoseResult.filtered``); the box spans the drawn keypoints.

    Returns:
        A new (H, W, 3) uint8 BGR image.

    Raises:
        ValueError: a bad image, keypoints not (K, 18, 3) finite numbers, ``scores`` / ``ids`` not
            of length K, or a bad option (named).
    """
    canvas = check_image(image).copy()
    check_options(line_width, labels, kpt_conf)
    points = np.asarray(keypoints, dtype=np.float64)
    if points.size == 0:
        points = points.reshape(0, NUM_PARTS, 3)
    if points.ndim != 3 or points.shape[1:] != (NUM_PARTS, 3):
        raise ValueError(f"keypoints must have shape (K, {NUM_PARTS}, 3), got {points.shape}")
    if not np.isfinite(points).all():
        raise ValueError("keypoints must be finite numbers (got NaN or infinity)")
    for name, values in (("scores", scores), ("ids", ids)):
        if values is not None and len(values) != len(points):
            raise ValueError(f"{name} must have one value per person ({len(points)}), "
                             f"got {len(values)}")
    config = config or get_default_configuration()
    height, width = canvas.shape[:2]
    thickness = int(line_width) if line_width is not None else default_line_width(height, width)
    shown = kept(points[:, :, 2], kpt_conf)             # (K, 18): PoseResult.filtered's rule
    opacity = np.clip(points[:, :, 2] / FULL_SCORE, 0.0, 1.0).astype(np.float32)
    pixel = np.rint(np.clip(points[:, :, :2], -1e6, 1e6)).astype(np.int64)   # cv2: int32
    # the skeletons are drawn and blended in the part of the image around them only
    margin = thickness + 6
    corner = pixel[shown].min(0) - margin if shown.any() else np.zeros(2, np.int64)
    x0, y0 = np.maximum(corner, 0).tolist()
    x1, y1 = (np.minimum(pixel[shown].max(0) + margin + 1, (width, height)).tolist()
              if shown.any() else (0, 0))
    pixel -= (x0, y0)
    part = canvas[y0:max(y0, y1), x0:max(x0, x1)]       # a view: blending writes the canvas
    layer, alpha = part.copy(), np.zeros(part.shape[:2], np.float32)
    limbs = [(config.body_parts[limb.from_body_part].slot_idx,
              config.body_parts[limb.to_body_part].slot_idx, limb.color)
             for limb in config.connection_types if not limb.redundant]
    elements = []                # (opacity, order, limb end points or joint centre, colour)
    for k in range(len(points)):
        for a, b, color in limbs:
            if shown[k, a] and shown[k, b]:
                elements.append((min(opacity[k, a], opacity[k, b]), len(elements),
                                 (tuple(pixel[k, a].tolist()), tuple(pixel[k, b].tolist())),
                                 color))
        for slot in np.flatnonzero(shown[k]).tolist():
            elements.append((opacity[k, slot], len(elements), (tuple(pixel[k, slot].tolist()),),
                             config.part_colors[slot]))
    # weaker first, so a stronger element's opacity wins where they overlap; the opacity
    # mask is 2 pixels wider than the element, to keep its anti-aliased edge
    for strength, _, ends, color in sorted(elements, key=lambda e: (e[0], e[1])):
        if len(ends) == 2:
            cv2.line(layer, ends[0], ends[1], color, thickness, cv2.LINE_AA)
            cv2.line(alpha, ends[0], ends[1], float(strength), thickness + 4)
        else:
            cv2.circle(layer, ends[0], thickness + 1, color, -1, cv2.LINE_AA)
            cv2.circle(alpha, ends[0], thickness + 3, float(strength), -1)
    if part.size:                             # per pixel: layer * alpha + part * (1 - alpha)
        part[...] = cv2.blendLinear(layer, np.ascontiguousarray(part), alpha, 1.0 - alpha)
    if labels:
        for k in range(len(points)):
            if shown[k].any():
                _box_and_label(canvas, points[k, shown[k], :2], k, thickness,
                               None if scores is None else float(scores[k]),
                               None if ids is None or ids[k] is None or ids[k] < 0
                               else int(ids[k]))
    return canvas


def _box_and_label(canvas: np.ndarray, found: np.ndarray, index: int, thickness: int,
                   score: Optional[float], track_id: Optional[int]) -> None:
    """One person's box around its (N, 2) drawn keypoints and its label, in place."""
    height, width = canvas.shape[:2]
    pad = thickness + 2                                  # clear of the joints' circles
    x0, y0 = np.floor(found.min(0)).astype(int) - pad
    x1, y1 = np.ceil(found.max(0)).astype(int) + pad
    x0, x1 = int(np.clip(x0, 0, width - 1)), int(np.clip(x1, 0, width - 1))
    y0, y1 = int(np.clip(y0, 0, height - 1)), int(np.clip(y1, 0, height - 1))
    color = BOX_COLORS[(index if track_id is None else track_id) % len(BOX_COLORS)]
    cv2.rectangle(canvas, (x0, y0), (x1, y1), color, max(1, thickness // 2))
    parts = ([] if track_id is None else [f"#{track_id}"]) + \
            ([] if score is None else [format_score(score)])
    if not parts:
        return
    text = " ".join(parts)
    scale = max(0.4, thickness / 4)
    weight = max(1, int(round(scale * 1.5)))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, weight)
    top = y0 - th - base - 2 if y0 - th - base - 2 >= 0 else y0    # above the box, else inside
    cv2.rectangle(canvas, (x0, top), (x0 + tw + 2, top + th + base + 2), color, -1)
    cv2.putText(canvas, text, (x0 + 1, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255), weight, cv2.LINE_AA)
